"""Plan and apply: desired state (a build) against recorded state (and the provider's live view).

The four nouns: :class:`~mlspec.contract.graph.Address` (what a resource is called),
:class:`~mlspec.plan.plan.Plan` (what would change, as data), :class:`~mlspec.plan.state.State`
(what mlspec last applied, a versioned document) and :class:`~mlspec.providers.base.Provider`
(who creates, reads, updates and deletes). :mod:`mlspec.plan.operations` is the library API.
"""
