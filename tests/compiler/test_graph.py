"""The resource graph IR: addresses, ordering, closure, manifest round trip, artifact path safety."""

from __future__ import annotations

import pytest
import yaml

from mlspec.artifact_paths import ArtifactError, safe_relative_path
from mlspec.compiler.artifacts import ArtifactSet
from mlspec.compiler.serialize import to_json, to_yaml
from mlspec.contract.graph import Address, Manifest, Resource, dependency_closure, topological_order


def _resource(name: str, *deps: str) -> Resource:
    return Resource(Address.parse(name), "test:kind", ["f.json"], [Address.parse(d) for d in deps])


def test_address_parse_keeps_dots_in_the_name() -> None:
    address = Address.parse("aml.model.churn.v2")
    assert (address.service, address.kind, address.name) == ("aml", "model", "churn.v2")
    assert str(address) == "aml.model.churn.v2"


@pytest.mark.parametrize(
    "text", ["aml.pipeline", "AML.pipeline.x", "aml.pipe-line.x", "aml.pipeline.a/b", "aml.pipeline.*"]
)
def test_bad_addresses_are_rejected(text: str) -> None:
    with pytest.raises(ValueError):
        Address.parse(text)


def test_topological_order_puts_dependencies_first_and_is_deterministic() -> None:
    resources = [
        _resource("aml.pipeline.m", "aml.component.train", "aml.compute.c"),
        _resource("aml.component.train", "aml.environment.m"),
        _resource("aml.environment.m"),
        _resource("aml.compute.c"),
    ]
    order = [str(r.address) for r in topological_order(resources)]
    assert order == ["aml.compute.c", "aml.environment.m", "aml.component.train", "aml.pipeline.m"]
    assert order == [str(r.address) for r in topological_order(list(reversed(resources)))]


def test_topological_order_names_a_cycle() -> None:
    with pytest.raises(ValueError, match=r"a\.b\.x"):
        topological_order([_resource("a.b.x", "a.b.y"), _resource("a.b.y", "a.b.x")])


def test_dependency_closure_includes_transitive_dependencies_only() -> None:
    resources = [
        _resource("a.b.top", "a.b.mid"),
        _resource("a.b.mid", "a.b.low"),
        _resource("a.b.low"),
        _resource("a.b.other"),
    ]
    closure = dependency_closure(resources, [Address.parse("a.b.top")])
    assert {str(a) for a in closure} == {"a.b.top", "a.b.mid", "a.b.low"}


def test_manifest_round_trips_through_json() -> None:
    manifest = Manifest(
        "churn",
        "dev",
        "mlproject.yaml",
        [_resource("a.b.x", "a.b.y"), _resource("a.b.y")],
        moved=[(Address.parse("a.b.old"), Address.parse("a.b.x"))],
        protect=True,
    )
    again = Manifest.from_json(manifest.to_json())
    assert again.to_json() == manifest.to_json()
    assert again.moved == manifest.moved and again.protect


@pytest.mark.parametrize("path", ["../x", "a/../../x", "/etc/passwd", "a\\b", "", ".", "a/./../.."])
def test_artifact_paths_cannot_leave_the_build_folder(path: str) -> None:
    with pytest.raises(ArtifactError):
        safe_relative_path(path)


def test_artifact_set_refuses_two_writes_to_one_path() -> None:
    out = ArtifactSet()
    out.add_text("a/b.txt", "x")
    with pytest.raises(ArtifactError, match="two artifacts"):
        out.add_json("a/./b.txt", {})


def test_serialised_yaml_keeps_hostile_text_as_data() -> None:
    hostile = 'x: "}\n- ${{parent.inputs.a}}\n---\n&a *a {{ x }} </script>'
    data = {"description": hostile, "nested": [{"k": hostile}]}
    assert yaml.safe_load(to_yaml(data)) == data
    assert to_yaml(data) == to_yaml(data)
    assert to_json(data) == to_json(dict(reversed(list(data.items()))))
