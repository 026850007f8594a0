"""List items are named in a finding's path by their name, title or role, but only when that names one
item: two grants of one role keep their index, which says which."""

from __future__ import annotations

from .spec_text import Validate, contract_with

GRANT = """    - principal: {group: 00000000-0000-0000-0000-000000000000}
      role: AzureML Data Scientist
      scope: machine_learning    # a workspace key, or a source/transform name"""


def _paths(validate: Validate, text: str) -> list[str]:
    return [d.named_path for d in validate(text).diagnostics if d.code == "MLS411"]


def test_a_role_one_grant_has_names_it(validate: Validate) -> None:
    text = contract_with((GRANT, GRANT.replace("00000000-0000-0000-0000-000000000000", "not-a-guid")))
    assert _paths(validate, text) == ["access.grants['AzureML Data Scientist'].principal.group"]


def test_a_role_two_grants_share_leaves_their_index(validate: Validate) -> None:
    second = GRANT.replace("00000000-0000-0000-0000-000000000000", "not-a-guid")
    text = contract_with((GRANT, f"{GRANT}\n{second}"))
    assert _paths(validate, text) == ["access.grants[1].principal.group"]
