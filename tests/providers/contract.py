"""The contract every provider must pass, whatever it deploys to.

A provider's test module subclasses :class:`ProviderContract` as ``Test<Name>ProviderContract`` and
defines one fixture, ``subject``, returning a :class:`ProviderUnderTest`: a fresh provider, a way to
open a second one on the same backing store (the next run, after a crash), and two hooks that act
behind the provider's back (change an object, remove an object). Nothing here knows where objects
live: the local provider's hooks edit folders, the Azure provider's edit what its fake transport
serves.

Every test runs once per sample kind (:data:`SAMPLE_KINDS`): a notebook-like file artifact, a
properties-only resource and a resource that ships attachments, built the way ``apply`` builds its
requests from a manifest (:func:`sample_request`).

The behaviours pinned, in the order apply relies on them:

- create then read returns the request's payload, in payload shape; ``describe`` is one line;
- read of an object removed behind the provider's back is ``None`` (drift: deleted), and read of one
  changed behind its back is the changed payload (drift: modified);
- update brings the object to the new request; replace (delete, then create with a changed payload)
  works; delete removes, and deleting a missing object is not an error;
- a create or update retried by the next run after its state write was lost succeeds with the same
  provider id and outputs (apply repairs a crash by calling the same operation again);
- create where a *different* object already exists at the address refuses with a
  :class:`ProviderError` naming the address and hinting how to adopt or remove it, as Terraform's
  "already exists, import it" does; an *identical* object is adopted (that is the retry above).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from mlspec.contract.graph import Address, canonical_json, content_hash
from mlspec.contract.payload import Payload
from mlspec.contract.resource_state import ResourceState
from mlspec.providers.base import DeployRequest, LiveObject, Provider, ProviderError, ProviderResult

FILE_ARTIFACT = "file_artifact"
PROPERTIES_ONLY = "properties_only"
WITH_ATTACHMENTS = "with_attachments"
SAMPLE_KINDS = (FILE_ARTIFACT, PROPERTIES_ONLY, WITH_ATTACHMENTS)


@dataclass(frozen=True)
class SampleTarget:
    """Where a sample of one kind is deployed: its address and the provider type the provider knows."""

    address: Address
    provider_type: str


DEFAULT_SAMPLES: Mapping[str, SampleTarget] = {
    FILE_ARTIFACT: SampleTarget(
        Address("synapse", "notebook", "contract_features"), "Microsoft.Synapse/workspaces/notebooks"
    ),
    PROPERTIES_ONLY: SampleTarget(
        Address("aks", "deployment", "contract-scoring"), "kubernetes:apps/v1/Deployment"
    ),
    WITH_ATTACHMENTS: SampleTarget(Address("aml", "component", "contract_train"), "azureml:component"),
}


Tamper = Callable[[DeployRequest, ProviderResult], dict[str, Any]]
"""Change the object ``create`` made for the request behind the provider's back; return the payload
(``{"properties": ..., "attachments": ...}``) the provider should now read."""

RemoveBehindItsBack = Callable[[DeployRequest, ProviderResult], None]
"""Delete the object ``create`` made for the request without going through the provider."""


@dataclass(frozen=True)
class ProviderUnderTest:
    """What a provider's ``subject`` fixture gives the contract."""

    provider: Provider
    reopen: Callable[[], Provider]
    """A new provider instance on the same backing store: the next run of ``apply``."""
    tamper: Tamper
    remove_behind_its_back: RemoveBehindItsBack
    samples: Mapping[str, SampleTarget] = field(default_factory=lambda: dict(DEFAULT_SAMPLES))

    def request(self, kind: str, variant: int = 0) -> DeployRequest:
        return sample_request(self.samples[kind], kind, variant)


def sample_request(target: SampleTarget, kind: str, variant: int = 0) -> DeployRequest:
    """A request of ``kind`` for ``target``, as apply builds it from a manifest: the primary file's
    JSON is the properties, every further file an attachment by content hash, and the hash covers
    provider type and payload. Variants differ in properties and in every attachment's content."""
    name = target.address.name
    properties: dict[str, Any] = {"name": name, "properties": {"revision": variant, "owner": "contract"}}
    files: dict[str, bytes] = {}
    if kind != PROPERTIES_ONLY:
        files[f"{target.address.service}/{name}.json"] = canonical_json(properties) + b"\n"
    if kind == WITH_ATTACHMENTS:
        files[f"{target.address.service}/src/{name}/main.py"] = f"print('revision {variant}')\n".encode()
        files[f"{target.address.service}/src/{name}/requirements.txt"] = (
            f"scikit-learn==1.{variant}\n".encode()
        )
    primary = next(iter(files), "")
    attachments = {path: content_hash([content]) for path, content in files.items() if path != primary}
    return DeployRequest(
        address=target.address,
        provider_type=target.provider_type,
        payload=Payload.hashed(target.provider_type, properties, attachments),
        files=files,
        primary_file=primary,
    )


def recorded(request: DeployRequest, result: ProviderResult) -> ResourceState:
    """The state entry apply writes after ``result`` (what later calls get as ``current``)."""
    return ResourceState(
        provider_type=request.provider_type,
        payload=request.payload,
        provider_id=result.provider_id,
        outputs=dict(result.outputs),
    )


def payload_of(request: DeployRequest) -> dict[str, Any]:
    return request.payload.content()


def live_payload(live: LiveObject | None) -> dict[str, Any] | None:
    if live is None:
        return None
    return live.payload.content()


class ProviderContract:
    """The shared provider contract; subclass it and override the ``subject`` fixture."""

    @pytest.fixture
    def subject(self) -> ProviderUnderTest:
        raise NotImplementedError("a provider's contract test defines the `subject` fixture")

    @pytest.fixture(params=SAMPLE_KINDS)
    def kind(self, request: pytest.FixtureRequest) -> str:
        return str(request.param)

    # create, read, describe

    def test_create_then_read_returns_the_payload(self, subject: ProviderUnderTest, kind: str) -> None:
        request = subject.request(kind)
        result = subject.provider.create(request)
        assert isinstance(result.provider_id, str) and result.provider_id
        live = subject.provider.read(request.address, recorded(request, result))
        assert live_payload(live) == payload_of(request)

    def test_describe_is_one_line(self, subject: ProviderUnderTest, kind: str) -> None:
        request = subject.request(kind)
        line = subject.provider.describe(request.address, subject.provider.create(request))
        assert isinstance(line, str) and line.strip() == line and line
        assert "\n" not in line and "\r" not in line
        assert subject.provider.name

    def test_objects_at_different_addresses_are_independent(self, subject: ProviderUnderTest) -> None:
        requests = [subject.request(kind) for kind in SAMPLE_KINDS]
        results = [subject.provider.create(request) for request in requests]
        subject.provider.delete(requests[0].address, recorded(requests[0], results[0]))
        for request, result in zip(requests[1:], results[1:], strict=True):
            live = subject.provider.read(request.address, recorded(request, result))
            assert live_payload(live) == payload_of(request), request.address

    # drift

    def test_read_of_an_object_removed_behind_its_back_is_none(
        self, subject: ProviderUnderTest, kind: str
    ) -> None:
        request = subject.request(kind)
        result = subject.provider.create(request)
        subject.remove_behind_its_back(request, result)
        assert subject.provider.read(request.address, recorded(request, result)) is None

    def test_read_after_a_change_behind_its_back_returns_the_changed_payload(
        self, subject: ProviderUnderTest, kind: str
    ) -> None:
        request = subject.request(kind)
        result = subject.provider.create(request)
        changed = subject.tamper(request, result)
        assert changed != payload_of(request), "the tamper hook must change the payload"
        assert live_payload(subject.provider.read(request.address, recorded(request, result))) == changed

    # update, replace, delete

    def test_update_brings_the_object_to_the_new_request(self, subject: ProviderUnderTest, kind: str) -> None:
        before, after = subject.request(kind, 0), subject.request(kind, 1)
        created = subject.provider.create(before)
        updated = subject.provider.update(after, recorded(before, created))
        live = subject.provider.read(after.address, recorded(after, updated))
        assert live_payload(live) == payload_of(after)

    def test_update_repairs_drift(self, subject: ProviderUnderTest, kind: str) -> None:
        request = subject.request(kind)
        created = subject.provider.create(request)
        subject.tamper(request, created)
        updated = subject.provider.update(request, recorded(request, created))
        live = subject.provider.read(request.address, recorded(request, updated))
        assert live_payload(live) == payload_of(request)

    def test_replace_deletes_then_creates_with_the_changed_payload(
        self, subject: ProviderUnderTest, kind: str
    ) -> None:
        before, after = subject.request(kind, 0), subject.request(kind, 1)
        old = recorded(before, subject.provider.create(before))
        subject.provider.delete(before.address, old)
        replaced = subject.provider.create(after)
        live = subject.provider.read(after.address, recorded(after, replaced))
        assert live_payload(live) == payload_of(after)

    def test_delete_removes_the_object(self, subject: ProviderUnderTest, kind: str) -> None:
        request = subject.request(kind)
        current = recorded(request, subject.provider.create(request))
        subject.provider.delete(request.address, current)
        assert subject.provider.read(request.address, current) is None
        assert subject.reopen().read(request.address, current) is None

    def test_delete_of_a_missing_object_is_not_an_error(self, subject: ProviderUnderTest, kind: str) -> None:
        request = subject.request(kind)
        result = subject.provider.create(request)
        current = recorded(request, result)
        subject.remove_behind_its_back(request, result)
        subject.provider.delete(request.address, current)
        subject.reopen().delete(request.address, current)  # a retried delete, its state write lost
        assert subject.provider.read(request.address, current) is None

    # a retry by the next run after the state write was lost

    def test_create_retried_after_a_lost_state_write_adopts_the_object(
        self, subject: ProviderUnderTest, kind: str
    ) -> None:
        request = subject.request(kind)
        first = subject.provider.create(request)
        again = subject.reopen().create(request)
        assert again.provider_id == first.provider_id
        live = subject.provider.read(request.address, recorded(request, again))
        assert live_payload(live) == payload_of(request)

    def test_outputs_are_stable_across_a_retried_create(self, subject: ProviderUnderTest, kind: str) -> None:
        request = subject.request(kind)
        first = subject.provider.create(request)
        json.dumps(first.outputs)  # outputs go into the state document as they are
        assert subject.reopen().create(request).outputs == first.outputs
        assert subject.provider.create(request).outputs == first.outputs

    def test_update_retried_after_a_lost_state_write_succeeds_the_same(
        self, subject: ProviderUnderTest, kind: str
    ) -> None:
        before, after = subject.request(kind, 0), subject.request(kind, 1)
        current = recorded(before, subject.provider.create(before))
        first = subject.provider.update(after, current)
        again = subject.reopen().update(after, current)  # state still records `before`
        assert (again.provider_id, again.outputs) == (first.provider_id, first.outputs)
        live = subject.provider.read(after.address, recorded(after, again))
        assert live_payload(live) == payload_of(after)

    # "already exists"

    def test_create_refuses_a_different_object_already_at_its_address(
        self, subject: ProviderUnderTest, kind: str
    ) -> None:
        ours, foreign = subject.request(kind, 0), subject.request(kind, 1)
        # Made by another request, and this run's state knows nothing of it (another project, a
        # hand-made object, a `state rm`): overwriting it would destroy something mlspec does not own.
        planted = subject.reopen().create(foreign)
        with pytest.raises(ProviderError) as refused:
            subject.provider.create(ours)
        [diagnostic] = refused.value.diagnostics
        assert str(ours.address) in diagnostic.message
        hint = (diagnostic.hint or "").lower()
        assert any(word in hint for word in ("import", "adopt", "remove", "delete")), hint
        live = subject.provider.read(foreign.address, recorded(foreign, planted))
        assert live_payload(live) == payload_of(foreign), "a refused create must leave the object alone"
