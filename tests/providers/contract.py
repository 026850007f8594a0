"""The contract every provider must pass, whatever it deploys to.

A provider's test module subclasses :class:`ProviderContract` as ``Test<Name>ProviderContract`` and
defines one fixture, ``subject``, returning a :class:`ProviderUnderTest`: a fresh provider, a way to
open a second one on the same backing store (the next run, after a crash), and two hooks that act
behind the provider's back (change an object, remove an object). Nothing here knows where objects
live: the local provider's hooks edit folders, the Azure provider's edit what its fake transport
serves. A provider whose services accept only real payloads as producers (an ACR task YAML, an Azure
ML compute) gives their requests too (``producer_request``); the others get the contract's samples.

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
  "already exists, import it" does; an *identical* object is adopted (that is the retry above);
- outputs ("known after apply", :mod:`mlspec.contract.outputs`): a producer's create reports every
  output its kind declares, as a value a marker may be replaced with, the same on a retry;
  ``target_outputs`` supplies every ``workspace.*`` value; applied through plan/apply, the outputs are
  recorded in state, replaced into what a dependent is sent (the state keeps the marker form and the
  build's hash, and the next plan has no changes), and a failure between producer and dependent
  converges on the rerun with a new provider instance.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from mlspec.contract.graph import Address, Manifest, Resource, canonical_json, content_hash
from mlspec.contract.outputs import (
    MARKER_PREFIX,
    PRODUCERS,
    TARGET,
    TARGET_OUTPUTS,
    OutputRef,
    check_output_value,
    output_marker,
    outputs_of,
)
from mlspec.contract.payload import Payload
from mlspec.contract.resource_state import ResourceState
from mlspec.plan.apply import ApplyResult
from mlspec.plan.desired import desired_from_parts
from mlspec.plan.plan import Plan, make_plan
from mlspec.plan.state import State
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


DEFAULT_PRODUCER_TYPES: Mapping[tuple[str, str], str] = {
    (
        "access",
        "identity",
    ): "arm:Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials",
    ("acr", "task"): "acr:task",
    ("aml", "compute"): "azureml:compute",
    ("aml", "pipeline"): "azureml:pipeline_job",
    ("monitor", "data_collection_endpoint"): "arm:Microsoft.Insights/dataCollectionEndpoints",
    ("monitor", "data_collection_rule"): "arm:Microsoft.Insights/dataCollectionRules",
    ("powerbi", "report"): "powerbi:pbip",
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
    producers: Mapping[tuple[str, str], str] = field(default_factory=lambda: dict(DEFAULT_PRODUCER_TYPES))
    """The provider type of each producer kind of :data:`mlspec.contract.outputs.PRODUCERS`."""
    chain_consumer: SampleTarget = field(
        default_factory=lambda: SampleTarget(
            Address("aks", "config_map", "contract-chain"), "kubernetes:v1/ConfigMap"
        )
    )
    """The dependent of the marker chain: a resource whose payload holds a producer's output."""
    object_name: Callable[[Address], str] = lambda address: address.name
    """The ``name`` a sample of ``address`` has in its payload (a nested Azure resource's is
    ``parent/child``)."""
    producer_request: Callable[[SampleTarget], DeployRequest] | None = None
    """The request that creates a producer at ``target`` (one of :attr:`producers`), for a provider
    whose services take only real payloads (an ACR task YAML, an Azure ML compute): at the target's
    address and of its provider type. ``None``: the contract's own sample (:meth:`producer`)."""

    def request(self, kind: str, variant: int = 0) -> DeployRequest:
        target = self.samples[kind]
        return sample_request(target, kind, variant, self.object_name(target.address))

    def producer(self, target: SampleTarget) -> DeployRequest:
        """The request that creates a producer at ``target``: :attr:`producer_request`'s, or a
        file-artifact sample named by :attr:`object_name`."""
        if self.producer_request is None:
            return sample_request(target, FILE_ARTIFACT, name=self.object_name(target.address))
        request = self.producer_request(target)
        assert (request.address, request.provider_type) == (target.address, target.provider_type), (
            f"producer_request gave {request.address} ({request.provider_type}) for {target}"
        )
        return request


def sample_request(target: SampleTarget, kind: str, variant: int = 0, name: str = "") -> DeployRequest:
    """A request of ``kind`` for ``target``, as apply builds it from a manifest: the primary file's
    JSON is the properties, every further file an attachment by content hash, and the hash covers
    provider type and payload. Variants differ in properties and in every attachment's content."""
    name = name or target.address.name
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
        assert _values(subject.reopen().create(request).outputs) == _values(first.outputs)
        assert _values(subject.provider.create(request).outputs) == _values(first.outputs)

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

    # outputs: known after apply

    def test_a_producer_reports_every_declared_output(self, subject: ProviderUnderTest) -> None:
        for (service, kind), provider_type in sorted(subject.producers.items()):
            target = SampleTarget(Address(service, kind, "contract-producer"), provider_type)
            request = subject.producer(target)
            first = subject.provider.create(request)
            for attribute in outputs_of(target.address):
                ref = OutputRef(str(target.address), attribute)
                assert attribute in first.outputs, f"{target.address} reported no {attribute}"
                check_output_value(ref, first.outputs[attribute])  # it can replace a marker
            again = subject.reopen().create(request)
            assert {a: again.outputs[a] for a in outputs_of(target.address)} == {
                a: first.outputs[a] for a in outputs_of(target.address)
            }, "outputs must be the same when a create is retried"
        assert set(PRODUCERS) <= set(subject.producers), "every producer kind needs a provider type here"

    def test_the_target_supplies_every_workspace_value(self, subject: ProviderUnderTest) -> None:
        supplied = subject.provider.target_outputs()
        for output in TARGET_OUTPUTS:
            check_output_value(OutputRef(TARGET, output.attribute), supplied.get(output.attribute))

    def test_outputs_are_recorded_and_replaced_into_a_dependent(
        self, subject: ProviderUnderTest, tmp_path: Path
    ) -> None:
        chain = _MarkerChain(subject, tmp_path)
        result = chain.apply(subject.provider)
        assert result.ok, [o.error for o in result.failures]
        state = chain.state()
        produced = state.resources[chain.producer].outputs
        consumer = state.resources[chain.consumer]
        # state keeps the payload as built: markers, and the build's hash
        assert consumer.payload == chain.desired.resources[chain.consumer].payload
        assert consumer.resolved[chain.client_id] == produced["client_id"]
        live = subject.provider.read(chain.consumer, consumer)
        assert live is not None
        sent = json.dumps(live.payload.properties)
        assert MARKER_PREFIX not in sent
        assert produced["client_id"] in sent
        assert subject.provider.target_outputs()["tenant_id"] in sent
        assert f"@{produced['client_id']}" in sent, "a marker inside a string is replaced too"
        assert not chain.plan().has_changes, "applied values are no change to the marker form"

    def test_a_failure_between_producer_and_dependent_converges_on_the_rerun(
        self, subject: ProviderUnderTest, tmp_path: Path
    ) -> None:
        chain = _MarkerChain(subject, tmp_path)
        failing = _FailingOn(subject.provider, chain.consumer)
        first = chain.apply(failing)
        assert [o.address for o in first.failures] == [chain.consumer]
        recorded = chain.state()
        assert "client_id" in recorded.resources[chain.producer].outputs  # persisted with the producer
        assert chain.consumer not in recorded.resources
        again = chain.apply(subject.reopen())
        assert again.ok and [o.address for o in again.outcomes] == [chain.consumer]
        state = chain.state()
        live = subject.provider.read(chain.consumer, state.resources[chain.consumer])
        assert live is not None
        assert state.resources[chain.producer].outputs["client_id"] in json.dumps(live.payload.properties)
        assert not chain.plan().has_changes


ADOPTED = "adopted"
"""A provider's mark on an object it found identical at its name and cannot show it made (a kind with no
ownership marker, retried after a lost state write, looks just like that): bookkeeping of the provider,
which a destroy honours by leaving the object, not a value any consumer is given."""


def _values(outputs: Mapping[str, Any]) -> dict[str, Any]:
    """The outputs a consumer can be given: all but the provider's :data:`ADOPTED` bookkeeping."""
    return {key: value for key, value in outputs.items() if key not in (ADOPTED, "adopted_items")}


class _FailingOn:
    """The provider under test, except that creating ``address`` fails (once per instance)."""

    def __init__(self, provider: Provider, address: Address) -> None:
        self._provider, self._address = provider, address

    def __getattr__(self, name: str) -> Any:
        return getattr(self._provider, name)

    def create(self, request: DeployRequest) -> ProviderResult:
        if request.address == self._address:
            raise ProviderError(request.address, "failing on purpose (the test's stand-in for a crash)")
        return self._provider.create(request)


class _MarkerChain:
    """A producer (an identity) and a dependent whose payload holds its client id and the tenant, in
    a whole value and inside a longer string, planned and applied with the provider under test."""

    def __init__(self, subject: ProviderUnderTest, folder: Path) -> None:
        from mlspec.plan.backends import backend_for

        self.folder = folder
        self.producer = Address("access", "identity", "contract-chain")
        self.consumer = subject.chain_consumer.address
        self.client_id = f"{self.producer}.client_id"
        producer_type = subject.producers[("access", "identity")]
        files = {
            "access/identity.json": canonical_json({"name": subject.object_name(self.producer)}),
            "aks/configmap.json": canonical_json(
                {
                    "data": {
                        "CLIENT_ID": output_marker(str(self.producer), "client_id"),
                        "TENANT_ID": output_marker(TARGET, "tenant_id"),
                        "AUDIENCE": "api://x@" + output_marker(str(self.producer), "client_id"),
                    }
                }
            ),
        }
        resources = [
            Resource(self.producer, producer_type, ["access/identity.json"]),
            Resource(
                self.consumer,
                subject.chain_consumer.provider_type,
                ["aks/configmap.json"],
                [self.producer],
                needs=sorted([self.client_id, f"{TARGET}.tenant_id"]),
            ),
        ]
        manifest = Manifest("contract", "dev", "mlproject.yaml", resources, provider=subject.provider.name)
        payloads = {
            r.address: {"properties": json.loads(files[r.file]), "attachments": {}} for r in resources
        }
        self.desired = desired_from_parts(manifest, payloads, files.__getitem__, folder)
        self.backend = backend_for({"backend": "local"}, "contract", "dev", folder, folder / "state")
        self._provider = subject.provider

    def plan(self, provider: Provider | None = None) -> Plan:
        from mlspec.plan.operations import refresh_live, target_values

        chosen = provider or self._provider
        state = self.backend.read()
        live = refresh_live(chosen, state)
        return make_plan(self.desired, state, live=live, target=target_values(self.desired, chosen))

    def apply(self, provider: Provider) -> ApplyResult:
        from mlspec.plan.apply import execute
        from mlspec.plan.operations import locked

        with locked(self.backend, "apply"):
            plan = self.plan(provider)
            return execute(
                plan,
                provider=provider,
                backend=self.backend,
                state=self.backend.read(),
                files=self.desired.files,
            )

    def state(self) -> State:
        from mlspec.plan.backends import backend_for

        found = backend_for(
            {"backend": "local"}, "contract", "dev", self.folder, self.folder / "state"
        ).read()
        assert found is not None
        return found
