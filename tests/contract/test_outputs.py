"""Output markers: the grammar, the producer catalogue, substitution, and the state fields they add."""

from __future__ import annotations

import json

import pytest
import yaml

from mlspec.contract.graph import Address, content_hash
from mlspec.contract.outputs import (
    PRODUCERS,
    TARGET,
    MarkerError,
    OutputRef,
    check_output_value,
    is_marker,
    marker_tokens,
    output_kind,
    outputs_of,
    sent_payload,
    substitute_file,
    substitute_value,
    substituted_request_parts,
    value_tokens,
)
from mlspec.contract.payload import Payload
from mlspec.contract.resource_state import ResourceState
from mlspec.diagnostics import MlspecError
from mlspec.plan.state import State

DIGEST = "mlspec:output:acr.task.churn-scoring.image_digest"
CLIENT = "mlspec:output:access.identity.churn-scoring.client_id"


def test_a_marker_inside_a_string_ends_at_the_first_character_outside_the_set() -> None:
    text = f"contoso.azurecr.io/churn@{DIGEST}/x {CLIENT}, then mlspec:output:workspace.tenant_id"
    assert marker_tokens(text.encode()) == {
        "acr.task.churn-scoring.image_digest",
        "access.identity.churn-scoring.client_id",
        "workspace.tenant_id",
    }
    assert value_tokens({"image": text, "n": 3}) == marker_tokens(text.encode())
    assert marker_tokens(b"no markers here") == set()


def test_a_reference_is_split_at_its_last_dot_and_names_an_address_or_the_workspace() -> None:
    ref = OutputRef.parse("aml.environment.churn-env.v2.model_version")
    assert ref == OutputRef("aml.environment.churn-env.v2", "model_version")
    assert ref.producer == Address("aml", "environment", "churn-env.v2")
    assert OutputRef.parse("workspace.tenant_id").producer is None
    assert is_marker(CLIENT) and is_marker("mlspec:output:workspace.tenant_id")
    assert not is_marker(f"x@{DIGEST}")  # embedded: a token, but not the whole value
    for bad in ("workspace", "nothing.tenant_id", "acr.task.x.Digest", "acr.task.x."):
        with pytest.raises(MarkerError):
            OutputRef.parse(bad)
        assert not is_marker("mlspec:output:" + bad)


def test_the_catalogue_names_the_producers_and_what_changes_on_update() -> None:
    assert outputs_of(Address("access", "identity", "x")) == ("client_id", "principal_id")
    assert outputs_of(Address("acr", "task", "x")) == ("image_digest",)
    assert outputs_of(Address("aks", "deployment", "x")) == ()
    digest, client = OutputRef.parse(DIGEST[14:]), OutputRef.parse(CLIENT[14:])
    assert output_kind(digest) is not None and output_kind(digest).changes_on_update  # type: ignore[union-attr]
    assert output_kind(client) is not None and not output_kind(client).changes_on_update  # type: ignore[union-attr]
    assert output_kind(OutputRef(TARGET, "tenant_id")) is not None
    assert output_kind(OutputRef("acr.task.x", "client_id")) is None
    assert ("aml", "pipeline") in PRODUCERS


def test_yaml_whole_scalars_are_quoted_so_a_number_like_value_stays_a_string() -> None:
    content = (
        "env:\n"
        "- name: MODEL_VERSION\n"
        "  value: mlspec:output:aml.pipeline.m.model_version  # from the registry\n"
        "- mlspec:output:aml.pipeline.m.model_version\n"
        f"image: contoso.azurecr.io/churn@{DIGEST}\n"
    ).encode()
    values = {"aml.pipeline.m.model_version": "3", "acr.task.churn-scoring.image_digest": "sha256:ab"}
    sent = substitute_file("aks/deployment.yaml", content, values)
    data = yaml.safe_load(sent)
    assert data["env"][0]["value"] == "3" and data["env"][1] == "3"
    assert data["image"] == "contoso.azurecr.io/churn@sha256:ab"
    # elsewhere (JSON, code) the value goes in as it is
    assert substitute_file("x.json", b'{"v": "mlspec:output:aml.pipeline.m.model_version"}', values) == (
        b'{"v": "3"}'
    )
    assert substitute_file("x.yaml", content, {}) is content


def test_substitution_replaces_known_markers_in_strings_and_keeps_unknown_ones() -> None:
    value = {"a": [CLIENT, f"x@{DIGEST}"], CLIENT: 1, "n": None}
    done = substitute_value(value, {CLIENT[14:]: "c-1"})
    assert done == {"a": ["c-1", f"x@{DIGEST}"], "c-1": 1, "n": None}


def test_the_request_sent_keeps_the_builds_hash_and_says_which_attachments_changed() -> None:
    files = {"a.json": b"{}", "run.sh": f"echo {CLIENT}\n".encode(), "same.py": b"print(1)\n"}
    attachments = {p: content_hash([c]) for p, c in files.items() if p != "a.json"}
    payload = Payload.hashed("t", {"id": CLIENT}, attachments)
    sent, sent_files, changed = substituted_request_parts(payload, files, {CLIENT[14:]: "c-1"})
    assert sent.hash == payload.hash and sent.properties == {"id": "c-1"}
    assert sent_files["run.sh"] == b"echo c-1\n"
    assert changed == {"run.sh": content_hash([b"echo c-1\n"])}
    assert sent.attachments == {**attachments, **changed}
    assert sent_payload(payload, {CLIENT[14:]: "c-1"}, changed) == sent


@pytest.mark.parametrize("value", [None, "", 'a"b', "a\\b", "line\nbreak", 3])
def test_a_value_that_cannot_stand_in_json_or_yaml_is_refused(value: object) -> None:
    with pytest.raises(MarkerError):
        check_output_value(OutputRef(TARGET, "tenant_id"), value)


def test_resolved_values_round_trip_through_the_state_and_are_type_checked() -> None:
    entry = ResourceState(
        "kubernetes:v1/ConfigMap",
        Payload({"x": CLIENT}, {"run.sh": "sha256:1"}, "sha256:h"),
        "p",
        resolved={CLIENT[14:]: "c-1"},
        sent_attachments={"run.sh": "sha256:2"},
    )
    state = State("shop", "dev", resources={Address("aks", "config_map", "x"): entry})
    raw = state.to_bytes()
    back = State.from_bytes(raw)
    assert back.resources[Address("aks", "config_map", "x")] == entry
    assert back.to_bytes() == raw
    # an entry without markers writes neither field (older states keep their exact bytes)
    plain = ResourceState("t", Payload({}, {}, "h"), "p").to_json()
    assert "resolved" not in plain and "sent_attachments" not in plain
    document = json.loads(raw)
    document["resources"]["aks.config_map.x"]["resolved"] = {"a": 1}
    with pytest.raises(MlspecError, match="resolved must map names to strings"):
        State.from_json(document)
