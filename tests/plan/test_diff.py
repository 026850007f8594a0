"""Field-level diffs and the immutable paths that force a replace."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mlspec.contract.payload import Payload
from mlspec.plan.diff import (
    MISSING,
    FieldChange,
    diff_payloads,
    diff_values,
    first_leaves,
    leaf_count,
    leaves,
    replace_reasons,
)


def test_nested_change_is_reported_at_its_dotted_path() -> None:
    before = {"spec": {"replicas": 2, "template": {"image": "a"}}}
    after = {"spec": {"replicas": 3, "template": {"image": "a"}}}
    assert diff_values(before, after, "properties") == [FieldChange("properties.spec.replicas", 2, 3)]


def test_lists_of_equal_length_diff_per_index_and_others_as_a_whole() -> None:
    assert diff_values({"c": [{"i": "a"}, {"i": "b"}]}, {"c": [{"i": "a"}, {"i": "x"}]}, "p") == [
        FieldChange("p.c[1].i", "b", "x")
    ]
    assert diff_values({"c": [1, 2]}, {"c": [1, 2, 3]}, "p") == [FieldChange("p.c", [1, 2], [1, 2, 3])]


def test_added_and_removed_fields_have_one_side_missing() -> None:
    changes = diff_values({"a": 1}, {"b": 2}, "properties")
    assert [(c.path, c.action) for c in changes] == [("properties.a", "remove"), ("properties.b", "add")]
    assert changes[0].after is MISSING and changes[1].before is MISSING
    assert changes[0].to_json() == {"path": "properties.a", "action": "remove", "before": 1}


def test_json_equal_numbers_are_no_change_but_bool_and_int_differ() -> None:
    assert diff_values({"a": 1}, {"a": 1.0}, "p") == []
    assert diff_values({"a": True}, {"a": 1}, "p") == [FieldChange("p.a", True, 1)]


def test_attachments_are_compared_per_file_without_splitting_dots() -> None:
    changes = diff_payloads(
        Payload({}, {"src/train.py": "sha256:1"}, "sha256:a"),
        Payload({}, {"src/train.py": "sha256:2"}, "sha256:b"),
    )
    assert changes == [FieldChange("attachments.src/train.py", "sha256:1", "sha256:2")]


def test_a_change_under_an_immutable_path_forces_a_replace_and_says_where() -> None:
    changes = diff_values(
        {"metadata": {"namespace": "a", "labels": {"x": "1"}}},
        {"metadata": {"namespace": "b", "labels": {"x": "2"}}},
        "properties",
    )
    reasons = replace_reasons(changes, ["metadata.namespace"])
    assert reasons == [
        "properties.metadata.namespace cannot be changed in place (changed at properties.metadata.namespace)"
    ]
    assert replace_reasons(changes, ["spec.selector"]) == []
    # an immutable object whose leaf changed
    nested = diff_values({"selector": {"app": "a"}}, {"selector": {"app": "b"}}, "properties")
    assert replace_reasons(nested, ["selector"]) == [
        "properties.selector cannot be changed in place (changed at properties.selector.app)"
    ]


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=3),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=3), children, max_size=4)
    ),
    max_leaves=30,
)


@given(_JSON, st.integers(min_value=0, max_value=40))
def test_first_leaves_are_the_start_of_all_leaves_and_count_them_all(value: object, limit: int) -> None:
    first, total = first_leaves(value, "properties", limit)
    every = leaves(value, "properties")
    assert first == every[:limit]
    assert total == len(every) == leaf_count(value)
