"""The typed deploy contract: :class:`Payload` and :class:`Address` keys, and the file formats they
must keep (state, journal) byte for byte."""

from __future__ import annotations

import json
import random

from mlspec.contract.graph import Address, canonical_json, content_hash
from mlspec.contract.payload import Payload, payload_hash
from mlspec.contract.resource_state import ResourceState
from mlspec.plan.state import State, StateChange
from mlspec.providers.base import LiveObject

NOTEBOOK = Address("synapse", "notebook", "features")
ENVIRONMENT = Address("aml", "environment", "churn-env.v2")


def test_a_payload_round_trips_through_json_with_the_state_files_key_order() -> None:
    payload = Payload({"cells": [1, {"x": None}]}, {"b.py": "sha256:2", "a.py": "sha256:1"}, "sha256:h")
    data = payload.to_json()
    assert list(data) == ["properties", "attachments", "hash"]
    assert list(data["attachments"]) == ["a.py", "b.py"]  # sorted, as state files have them
    assert Payload.from_json(json.loads(json.dumps(data))) == payload
    assert Payload.from_json({"properties": 3}) == Payload(3, {}, "")  # absent fields are empty


def test_a_payload_keeps_its_own_attachments_and_its_hash_is_the_builds() -> None:
    attachments = {"src/train.py": "sha256:1"}
    payload = Payload.hashed("azureml:component", {"name": "train"}, attachments)
    attachments["src/train.py"] = "sha256:changed"
    assert payload.attachments == {"src/train.py": "sha256:1"}
    body = {"properties": {"name": "train"}, "attachments": {"src/train.py": "sha256:1"}}
    assert payload.hash == content_hash([b"azureml:component", canonical_json(body)])
    assert payload.hash != payload_hash("azureml:other", payload.properties, payload.attachments)
    assert payload.same_content(Payload({"name": "train"}, {"src/train.py": "sha256:1"}, ""))
    assert not payload.same_content(Payload({"name": "train"}, {}, payload.hash))


def _old_layout_state() -> bytes:
    """A state document exactly as the code before typed payloads wrote it (key order included)."""
    entry = {
        "provider_type": "Microsoft.Synapse/workspaces/notebooks",
        "properties": {"name": "features", "inputs": ["a", "b"]},
        "attachments": {"synapse/features.py": "sha256:1"},
        "hash": "sha256:abc",
        "provider_id": ".mlspec/local/dev/synapse/notebook/features",
        "outputs": {"path": "/p"},
        "depends_on": ["aml.environment.churn-env.v2", "synapse.notebook.base"],
        "spec_fields": {"transforms.features.sql": "SELECT 1"},
    }
    document = {
        "version": 1,
        "lineage": "7d3c8f5e-0000-4000-8000-000000000000",
        "serial": 4,
        "project": "shop",
        "environment": "dev",
        "resources": {
            "aml.environment.churn-env.v2": {**entry, "depends_on": [], "spec_fields": {}},
            "synapse.notebook.base": {**entry, "depends_on": []},
            "synapse.notebook.features": entry,
        },
    }
    return (json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def test_a_state_file_in_the_old_layout_reads_and_is_written_back_byte_for_byte() -> None:
    raw = _old_layout_state()
    state = State.from_bytes(raw)
    entry = state.resources[NOTEBOOK]
    assert entry.payload == Payload(
        {"name": "features", "inputs": ["a", "b"]}, {"synapse/features.py": "sha256:1"}, "sha256:abc"
    )
    assert entry.depends_on == [ENVIRONMENT, Address("synapse", "notebook", "base")]
    assert state.to_bytes() == raw


def test_an_older_entry_without_hash_or_attachments_reads_with_empty_ones() -> None:
    document = json.loads(_old_layout_state())
    for key in ("hash", "attachments"):
        del document["resources"]["synapse.notebook.features"][key]
    entry = State.from_json(document).resources[NOTEBOOK]
    assert entry.payload.hash == "" and entry.payload.attachments == {}


def test_address_keys_survive_a_state_write_and_read_in_string_order() -> None:
    state = State.empty("shop", "dev")
    addresses = [
        NOTEBOOK,
        ENVIRONMENT,
        Address("aml", "environment", "churn-env"),
        Address("aks", "service", "s"),
    ]
    for n, address in enumerate(addresses):
        state.resources[address] = ResourceState(
            "t", Payload({"n": n}, {}, f"sha256:{n}"), f"id-{n}", depends_on=[NOTEBOOK]
        )
    document = json.loads(state.to_bytes())
    assert list(document["resources"]) == sorted(str(a) for a in addresses)
    again = State.from_bytes(state.to_bytes())
    assert set(again.resources) == set(addresses)
    assert all(isinstance(a, Address) for a in again.resources)
    assert again.resources[ENVIRONMENT].payload.properties == {"n": 1}
    assert again.resources[ENVIRONMENT].depends_on == [NOTEBOOK]


def test_journal_records_keep_address_strings_and_read_back_as_addresses() -> None:
    entry = ResourceState("t", Payload({}, {}, "sha256:1"), "id")
    changes = [
        StateChange(1, NOTEBOOK, entry),
        StateChange(2, moves=((NOTEBOOK, Address("synapse", "notebook", "renamed")),)),
        StateChange(3, Address("synapse", "notebook", "renamed")),
    ]
    records = [change.to_json() for change in changes]
    assert records[0]["set"] == "synapse.notebook.features"
    assert records[1]["moves"] == [["synapse.notebook.features", "synapse.notebook.renamed"]]
    assert records[2] == {"serial": 3, "remove": "synapse.notebook.renamed"}
    state = State.empty("shop", "dev")
    for record in records:
        parsed = StateChange.from_json(json.loads(json.dumps(record)), "journal")
        assert parsed == changes[parsed.serial - 1]
        parsed.apply_to(state)
        if parsed.serial == 2:
            assert list(state.resources) == [Address("synapse", "notebook", "renamed")]
    assert state.resources == {} and state.serial == 3


def test_address_order_is_the_string_order_files_and_output_were_sorted_in() -> None:
    rng = random.Random(11)
    alphabet = "ab_0.-"
    addresses = {
        Address(
            rng.choice(["a", "ab", "a_b", "a0"]),
            rng.choice(["k", "k_x", "kk"]),
            "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 6))).strip(".-") or "n",
        )
        for _ in range(400)
    }
    assert [str(a) for a in sorted(addresses)] == sorted(str(a) for a in addresses)


def test_a_live_object_reads_its_properties_only_when_its_payload_is_asked_for() -> None:
    reads: list[int] = []

    def read() -> dict[str, int]:
        reads.append(1)
        return {"cells": 1}

    live = LiveObject.unread({"a.py": "sha256:1"}, "sha256:h", read)
    assert live.hash == "sha256:h" and live.attachments == {"a.py": "sha256:1"} and reads == []
    assert live.payload == Payload({"cells": 1}, {"a.py": "sha256:1"}, "sha256:h") and reads == [1]
    assert live.payload.properties == {"cells": 1} and reads == [1]  # read once
    assert live == LiveObject(Payload({"cells": 1}, {"a.py": "sha256:1"}))  # the same content


def test_a_payload_copies_and_pickles_as_the_value_it_is() -> None:
    import copy
    import pickle

    eager = Payload({"a": [1, 2]}, {"f.py": "sha256:1"}, "sha256:h")
    deferred = Payload.deferred(lambda: {"a": [1, 2]}, {"f.py": "sha256:1"}, "sha256:h")
    for payload in (eager, deferred):
        for twin in (copy.copy(payload), copy.deepcopy(payload), pickle.loads(pickle.dumps(payload))):
            assert twin == eager and twin.loaded and twin.hash == "sha256:h"
    deep = copy.deepcopy(eager)
    deep.properties["a"].append(3)  # a deep copy shares nothing with the original
    assert eager.properties == {"a": [1, 2]}
