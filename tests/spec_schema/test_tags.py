"""Azure tag rules (MLS401): what Azure Resource Manager refuses at deploy is refused by validate.

Tag names: at most 512 characters, none of ``< > % & \\ ? /``, no control characters, not empty,
not starting with the prefixes Azure reserves (``microsoft``, ``azure``, ``windows``). Tag values:
at most 256 characters, no control characters. A resource takes at most 50 tags, one of which
mlspec sets itself (``mlspec-project``). Tags never become Kubernetes labels (the AKS renderer
labels objects with the project, endpoint and environment names only), so no label rule applies.
"""

from __future__ import annotations

import pytest

from .spec_text import Validate, contract_with

TAGS = 'tags: {cost-center: "4711"}'


@pytest.mark.parametrize("key", ["team/ml", "a<b", "a>b", "50%", "r&d", "back\\\\slash", "why?"])
def test_a_tag_name_with_a_character_azure_refuses_is_an_error(validate: Validate, key: str) -> None:
    text = contract_with((TAGS, f'tags: {{"{key}": "x"}}'))
    validate(text).only("MLS401", "tag name", f'"{key}"', after="tags:")


def test_a_tag_name_with_a_nul_is_an_error(validate: Validate) -> None:
    text = contract_with((TAGS, 'tags: {"team\\0x": "x"}'))
    found = validate(text).only("MLS401", "tag name", '"team', after="tags:")
    assert "\x00" not in found.message


def test_a_tag_value_with_a_control_character_is_an_error(validate: Validate) -> None:
    text = contract_with((TAGS, 'tags: {team: "ml\\u001b[31m"}'))
    found = validate(text).only("MLS401", "tag value", '"ml', after="tags:")
    assert "\x1b" not in found.message


def test_a_tag_name_longer_than_512_characters_is_an_error(validate: Validate) -> None:
    key = "k" * 513
    validate(contract_with((TAGS, f"tags: {{{key}: x}}"))).only("MLS401", "513 characters", key)


def test_a_tag_value_longer_than_256_characters_is_an_error(validate: Validate) -> None:
    value = "v" * 257
    validate(contract_with((TAGS, f"tags: {{team: {value}}}"))).only("MLS401", "257 characters", value)


def test_the_longest_tag_name_and_value_azure_takes_are_valid(validate: Validate) -> None:
    validate(contract_with((TAGS, f"tags: {{{'k' * 512}: {'v' * 256}}}"))).assert_clean()


@pytest.mark.parametrize("key", ["microsoft.owner", "Azure-team", "windowsVersion"])
def test_a_tag_name_with_a_prefix_azure_reserves_is_an_error(validate: Validate, key: str) -> None:
    validate(contract_with((TAGS, f"tags: {{{key}: x}}"))).only("MLS401", "reserved", key, after="tags:")


def test_more_tags_than_azure_takes_on_a_resource_is_an_error(validate: Validate) -> None:
    many = ", ".join(f"t{i}: x" for i in range(50))
    validate(contract_with((TAGS, f"tags: {{{many}}}"))).only("MLS401", "50 tags", "tags:")


def test_an_empty_tag_name_is_an_error(validate: Validate) -> None:
    validate(contract_with((TAGS, 'tags: {"": x}'))).only("MLS401", "empty", '""', after="tags:")
