"""The shape of a registry entry and the stages that report codes (the sections of docs/diagnostics.md)."""

from __future__ import annotations

from dataclasses import dataclass

from mlspec.diagnostics import Severity

DOCS_PAGE = "docs/diagnostics.md"
"""The reference page generated from the registry, relative to the repository root."""


@dataclass(frozen=True, slots=True)
class Stage:
    """A family of codes: the part of mlspec that reports them, one section of the reference page."""

    key: str
    title: str
    intro: str = ""


@dataclass(frozen=True, slots=True)
class DiagnosticCode:
    """One registered code.

    ``severities`` holds every severity the code is reported with (both, where one rule errs on some
    values and warns on others); ``exit_code`` is the CLI's exit status when the code stops a command.
    """

    code: str
    severities: frozenset[Severity]
    stage: Stage
    title: str
    description: str
    exit_code: int = 1

    @property
    def anchor(self) -> str:
        """The HTML id of the code's row: ``mls613``."""
        return self.code.lower()

    @property
    def docs_anchor(self) -> str:
        """``docs/diagnostics.md#mls613``: where the code is documented, relative to the repository root."""
        return f"{DOCS_PAGE}#{self.anchor}"

    @property
    def severity_text(self) -> str:
        """``error``, ``warning`` or ``error or warning``."""
        return " or ".join(s.value for s in sorted(self.severities, key=_SEVERITY_ORDER.index))


_SEVERITY_ORDER = [Severity.ERROR, Severity.WARNING]

ERROR = frozenset({Severity.ERROR})
WARNING = frozenset({Severity.WARNING})
ERROR_OR_WARNING = frozenset({Severity.ERROR, Severity.WARNING})

READ = Stage(
    "read",
    "Reading the spec",
    "The file itself: paths, size, encoding and YAML. Nothing else is checked in a file that cannot be read.",
)
SCHEMA = Stage("schema", "Schema", "Fields, types and values against the `mlspec/v1` schema.")
ENVIRONMENTS = Stage(
    "environments",
    "Environments, variables and `${...}`",
    "Overlays (`environments.<name>.overrides`), variables (`variables:`, environment `variables:`, "
    "`--var`, `MLSPEC_VAR_*`) and `${...}` interpolation.",
)
REFERENCES = Stage(
    "references",
    "References between sections",
    "Names one section uses that another must define: inputs, columns, metrics, alerts, secrets, scopes.",
)
NAMING = Stage(
    "naming",
    "Naming rules and value formats",
    "What Azure, Kubernetes and the other services accept as names and values, checked before anything "
    "is rendered.",
)
SECURITY = Stage(
    "security",
    "Security policy",
    "Messages never repeat a value that looks like a secret: other checks that quote a value show "
    "`[redacted]` in its place.",
)
BUILD = Stage(
    "build",
    "Build",
    "`mlspec build` (and `mlspec run`, which builds first) writing its output. The MLS6xx codes are build "
    "errors, located at the spec line that caused them: MLS61x Synapse, MLS62x Azure ML, MLS63x AKS, "
    "MLS64x Monitor, MLS65x access, MLS66x-67x Power BI. A code file read at build time that fails the MLS413 "
    "checks is refused at its field too (MLS610 transform code, MLS626 training script), never read. Where a "
    "rule can be decided from the spec alone, `mlspec validate` reports it too, with the same code.",
)
BUILD_SYNAPSE = Stage("build-synapse", "Build: Synapse", "Notebooks and the pipeline of the `transforms`.")
BUILD_AZUREML = Stage(
    "build-azureml",
    "Build: Azure ML",
    "Components, the training pipeline, schedules and the model monitor of the `model` section.",
)
BUILD_AKS = Stage(
    "build-aks",
    "Build: AKS",
    "The scoring image, its ACR task and the Kubernetes manifests of the `deployment` section.",
)
BUILD_MONITOR = Stage(
    "build-monitor", "Build: Azure Monitor", "Alert rules and action groups of the `monitoring` section."
)
BUILD_ACCESS = Stage(
    "build-access",
    "Build: access",
    "Role assignments (an ARM template) of `access.grants` and the identities.",
)
BUILD_POWERBI = Stage(
    "build-powerbi",
    "Build: Power BI",
    "The Power BI project (PBIP: semantic model in TMDL, report) of `reports`.",
)
PLAN_STATE = Stage(
    "plan-state",
    "Plan, apply and state",
    "`mlspec plan`, `apply`, `destroy` and `force-unlock`: the state and its backend, locks, providers, "
    "saved plans and protected environments. State, locking, backends and the plan format are "
    "documented in [plan.md](plan.md).",
)
RUN = Stage(
    "run",
    "Run and serve",
    "`mlspec run` and `mlspec serve` on the local engines ([run.md](run.md)).",
)

STAGES: tuple[Stage, ...] = (
    READ,
    SCHEMA,
    ENVIRONMENTS,
    REFERENCES,
    NAMING,
    SECURITY,
    BUILD,
    BUILD_SYNAPSE,
    BUILD_AZUREML,
    BUILD_AKS,
    BUILD_MONITOR,
    BUILD_ACCESS,
    BUILD_POWERBI,
    PLAN_STATE,
    RUN,
)
"""The stages in the order the reference page presents them (the order a spec goes through mlspec)."""


def code(
    number: str,
    severities: frozenset[Severity],
    stage: Stage,
    title: str,
    description: str = "",
    *,
    exit_code: int = 1,
) -> DiagnosticCode:
    """An entry, written tersely in the data modules; ``description`` defaults to nothing beyond the title."""
    return DiagnosticCode(number, severities, stage, title, description, exit_code)
