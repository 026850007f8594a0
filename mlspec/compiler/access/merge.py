"""The spec's grants and the roles mlspec assigns by itself, as one list with one assignment per key.

Azure keeps one role assignment per principal, role definition and scope: a second one under another
name fails the deployment with ``RoleAssignmentExists``. A grant that gives the same principal the same
role on the same scope as an automatic assignment (:attr:`Assignment.key`: the object id or the
identity's resource id, the role GUID, the scope's resource id -- a dataset scope resolved to its
container, so ``scope: customer_features`` and the container of ``curated`` are one scope) is
**merged**, not refused: the grant states on purpose what mlspec would do anyway, so refusing it would
only make the spec say less. The merged assignment keeps

- the automatic assignment's principal (its principal type is known), address and dependencies, so that
  adding or removing the grant later changes only the description, in place;
- the grant's description and spec location (what the user wrote is what the portal shows).

What cannot be compared stays two assignments: a literal object id and a ``reference()`` of the same
identity (the object id is only known at deployment). Grants repeating each other are refused before
this, at the spec's line (MLS651).
"""

from __future__ import annotations

from dataclasses import replace

from mlspec.compiler.access.assignment import Assignment


def merge(grants: list[Assignment], implied: list[Assignment]) -> list[Assignment]:
    """``grants`` then the implied assignments no grant repeats; a repeated one takes the grant's place."""
    by_key = {a.key: a for a in implied}
    merged: list[Assignment] = []
    taken: set[tuple[str, str, str]] = set()
    for grant in grants:
        automatic = by_key.get(grant.key)
        if automatic is None:
            merged.append(grant)
            continue
        taken.add(grant.key)
        merged.append(replace(automatic, source=grant.source, why=grant.why))
    merged += [a for a in implied if a.key not in taken]
    return merged
