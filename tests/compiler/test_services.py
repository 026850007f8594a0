"""The service registry: one entry per Azure service, and a build that does not depend on render order.

Cases are every example project under ``projects/`` and every test spec under ``tests/compiler/data/``,
for each environment they declare and the implicit ``local`` one.
"""

from __future__ import annotations

import ast
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from mlspec import api
from mlspec.compiler.artifacts import ArtifactSet, RenderContext
from mlspec.compiler.build import BuildResult, compile_spec, manifest_document
from mlspec.compiler.serialize import to_json
from mlspec.compiler.services import SERVICES, Service, service_of
from mlspec.contract.graph import Address
from mlspec.spec_schema.models import MLProject
from mlspec.spec_schema.resolve import LOCAL_ENVIRONMENT, ResolvedSpec

ROOT = Path(__file__).resolve().parents[2]
SPECS = sorted(ROOT.glob("projects/*/mlproject.yaml")) + sorted(
    ROOT.glob("tests/compiler/data/**/mlproject.yaml")
)
SHUFFLE_SEED = 10


def _cases() -> Iterator[tuple[Path, str]]:
    for spec in SPECS:
        declared = yaml.safe_load(spec.read_text(encoding="utf-8")).get("environments") or {}
        for environment in [*sorted(declared), LOCAL_ENVIRONMENT]:
            yield spec, environment


CASES = list(_cases())
IDS = [f"{s.parent.relative_to(ROOT).as_posix()}-{e}" for s, e in CASES]


def _resolved(spec: Path, environment: str) -> tuple[ResolvedSpec, MLProject]:
    resolved = api.resolve(api.load(spec), environment, None, {})
    if resolved.model is None or not resolved.ok:
        pytest.skip(f"{spec} does not validate for {environment} (a test of refusals)")
    return resolved.spec, resolved.model


def _build(spec: Path, environment: str, order: Sequence[Service] | None = None) -> BuildResult:
    return compile_spec(*_resolved(spec, environment), render_order=order)


def _shuffled() -> tuple[Service, ...]:
    order = tuple(random.Random(SHUFFLE_SEED).sample(SERVICES, len(SERVICES)))
    assert order not in (SERVICES, SERVICES[::-1]), "pick a seed that shuffles for real"
    return order


def test_every_spec_of_the_cases_builds() -> None:
    """Cases that skip test nothing: all but deliberately hostile specs must build."""
    resolved = [api.resolve(api.load(s), e, None, {}) for s, e in CASES]
    built = [r for r in resolved if r.model is not None and r.ok]
    assert len(built) >= len(CASES) - 3, f"only {len(built)} of {len(CASES)} cases build"


@pytest.mark.parametrize(("spec", "environment"), CASES, ids=IDS)
def test_the_build_is_byte_identical_in_reversed_and_shuffled_render_order(
    spec: Path, environment: str
) -> None:
    normal = _build(spec, environment)
    files = {path: artifact.content for path, artifact in normal.artifacts.artifacts.items()}
    manifest = to_json(manifest_document(normal))
    for order in (SERVICES[::-1], _shuffled()):
        other = _build(spec, environment, order)
        names = [s.name for s in order]
        assert to_json(manifest_document(other)) == manifest, f"manifest differs when rendering in {names}"
        other_files = {path: artifact.content for path, artifact in other.artifacts.artifacts.items()}
        assert sorted(other_files) == sorted(files), f"other files when rendering in {names}"
        changed = sorted(path for path in files if other_files[path] != files[path])
        assert not changed, f"{changed} differ when rendering in {names}"


@dataclass
class _Rendered:
    """One build rendered service by service: what each service added, and every question asked."""

    ctx: RenderContext
    by_service: dict[str, set[Address]]
    questions: dict[Address, bool]


def _render_each(spec: Path, environment: str, monkeypatch: pytest.MonkeyPatch) -> _Rendered:
    questions: dict[Address, bool] = {}
    answer = RenderContext.will_produce

    def recording(self: RenderContext, address: Address) -> bool:
        questions[address] = answer(self, address)
        return questions[address]

    monkeypatch.setattr(RenderContext, "will_produce", recording)
    resolved, model = _resolved(spec, environment)
    ctx, out = RenderContext(model, resolved), ArtifactSet()
    by_service: dict[str, set[Address]] = {}
    for service in SERVICES:
        before = {r.address for r in out.resources}
        service.render(ctx, out)
        by_service[service.name] = {r.address for r in out.resources} - before
    for service in SERVICES:
        service.check(ctx, out)  # a check may ask too (the monitor's retrain consistency)
    return _Rendered(ctx, by_service, questions)


@pytest.mark.parametrize(("spec", "environment"), CASES, ids=IDS)
def test_provides_promises_only_what_the_service_renders(
    spec: Path, environment: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rendered = _render_each(spec, environment, monkeypatch)
    for service in SERVICES:
        promised = service.provides(rendered.ctx)
        missing = sorted(str(a) for a in promised - rendered.by_service[service.name])
        assert not missing, f"{service.name} promises {missing} and does not render them"


@pytest.mark.parametrize(("spec", "environment"), CASES, ids=IDS)
def test_every_question_about_another_service_gets_the_rendered_answer(
    spec: Path, environment: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rendered = _render_each(spec, environment, monkeypatch)
    everything = set().union(*rendered.by_service.values())
    wrong = {str(a): said for a, said in rendered.questions.items() if said != (a in everything)}
    assert not wrong, f"will_produce answered {wrong}, the build rendered otherwise"


@pytest.mark.parametrize(("spec", "environment"), CASES, ids=IDS)
def test_each_rendered_address_is_of_a_kind_its_service_owns(
    spec: Path, environment: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rendered = _render_each(spec, environment, monkeypatch)
    for service in SERVICES:
        strays = sorted(str(a) for a in rendered.by_service[service.name] if not service.owns(a))
        assert not strays, f"{service.name} renders {strays}, of kinds it does not own"


def test_the_examples_ask_every_cross_service_question_and_get_yes(monkeypatch: pytest.MonkeyPatch) -> None:
    """churn has alerts that retrain, a monitoring rule, transforms and a report reading them: each
    question the services ask of one another is asked, and answered from the spec."""
    rendered = _render_each(ROOT / "projects/churn/mlproject.yaml", "dev", monkeypatch)
    asked = {f"{a.service}.{a.kind}": said for a, said in rendered.questions.items()}
    expected = {
        "access.identity": True,  # aks: the service account waits for the named identity's credential
        "aml.component": True,  # access: the refresh step's identity may run the Synapse pipeline
        "aml.compute": True,  # access: the compute identity's role waits for the cluster
        "aml.monitor": True,  # access: Azure ML's model monitor reads the prediction log
        "aml.pipeline": True,  # aks: an unpinned slot serves the version the pipeline registers
        "aml.schedule": True,  # access: the monitoring job's identity; monitor: the retrain schedule
        "monitor.data_collection_rule": True,
        "monitor.retrain_trigger": True,
        "synapse.notebook": True,
        "synapse.pipeline": True,  # azureml: the refresh step runs the Synapse pipeline
    }
    assert asked == expected


def test_owned_kinds_are_disjoint_and_service_names_unique() -> None:
    names = [s.name for s in SERVICES]
    assert len(set(names)) == len(names)
    owners: dict[str, str] = {}
    for service in SERVICES:
        for kind in service.kinds:
            assert kind not in owners, f"{kind} is owned by {owners[kind]} and {service.name}"
            owners[kind] = service.name
    assert service_of(Address("aml", "schedule", "x-retrain")) is SERVICES[0]
    assert service_of(Address("nothing", "here", "x")) is None


def test_provides_may_not_ask_will_produce(spec_and_model: tuple[ResolvedSpec, MLProject]) -> None:
    """A service's promise comes from the spec alone: asking another service's would depend on order."""

    def asking(ctx: RenderContext) -> set[Address]:
        ctx.will_produce(Address("aml", "pipeline", "m"))
        return set()

    registry = (Service("asking", lambda ctx, out: None, lambda ctx, out: [], ("x.y",), provides=asking),)
    resolved, model = spec_and_model
    ctx = RenderContext(model, resolved, services=registry)
    with pytest.raises(RuntimeError, match="must read the spec alone"):
        ctx.will_produce(Address("aml", "pipeline", "m"))


@pytest.fixture
def spec_and_model() -> tuple[ResolvedSpec, MLProject]:
    return _resolved(ROOT / "projects/churn/mlproject.yaml", "dev")


def test_a_render_order_missing_a_service_is_refused(spec_and_model: tuple[ResolvedSpec, MLProject]) -> None:
    with pytest.raises(ValueError, match="every service"):
        compile_spec(*spec_and_model, render_order=SERVICES[1:])


SERVICE_PACKAGES = frozenset(s.name for s in SERVICES)


def _service_packages_imported(file: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
        modules: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module:
            modules = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        elif isinstance(node, ast.Import):
            modules = [a.name for a in node.names]
        for module in modules:
            parts = module.split(".")
            if parts[:2] == ["mlspec", "compiler"] and len(parts) > 2 and parts[2] in SERVICE_PACKAGES:
                found.add(parts[2])
    return found


def test_only_the_registry_imports_more_than_its_own_service() -> None:
    """No second list of services, and no renderer that knows another: outside ``services.py`` a module
    imports no service package but its own."""
    package = ROOT / "mlspec"
    offenders: dict[str, list[str]] = {}
    for file in sorted(package.rglob("*.py")):
        relative = file.relative_to(package).parts
        if relative == ("compiler", "services.py"):
            continue
        own = relative[1] if relative[0] == "compiler" and len(relative) > 2 else None
        others = _service_packages_imported(file) - {own}
        if others:
            offenders[file.relative_to(ROOT).as_posix()] = sorted(others)
    assert not offenders
    assert _service_packages_imported(package / "compiler" / "services.py") == SERVICE_PACKAGES
