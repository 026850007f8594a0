"""The contract between compiling and deploying: what the build hands to plan, and plan to providers.

``graph`` holds the resource graph the build writes to ``manifest.json`` (:class:`Address`,
:class:`Resource`, :class:`Manifest`) and the hashing both sides agree on; ``payload`` what is
deployed for one resource and its hash (:class:`Payload`), the one value desired resources, state,
plan snapshots and provider requests carry; ``resource_state`` the record of one applied resource
that state, the journal and providers share; ``outputs`` the output markers (values known only after
apply: their grammar, which kinds produce which outputs, and their substitution). The compiler,
plan and providers all depend on this package; it depends on none of them.
"""
