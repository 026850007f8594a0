"""Offline checks of rendered artifacts the way each platform's own SDK or schema reads them.

Used by the test suite and behind ``mlspec build --check``, never on the validate/build path: each
check imports its SDK (azure-ai-ml, azure-synapse-artifacts, azure-mgmt-monitor, kubernetes-validate,
nbformat, jsonschema) inside the function that needs it, so importing this package stays cheap.
Every check returns a list of :class:`PlatformProblem`; an empty list means the platform would accept
the artifact as far as can be told without contacting it.
"""

from mlspec.compiler.platform_checks.arm import check_arm_template
from mlspec.compiler.platform_checks.azureml import AmlKind, check_aml_file
from mlspec.compiler.platform_checks.build_dir import check_build_dir
from mlspec.compiler.platform_checks.ipynb import check_ipynb
from mlspec.compiler.platform_checks.kubernetes import check_kubernetes_manifests
from mlspec.compiler.platform_checks.powerbi import check_pbip_project
from mlspec.compiler.platform_checks.problems import PlatformProblem
from mlspec.compiler.platform_checks.synapse import (
    check_synapse_notebook,
    check_synapse_pipeline,
    check_synapse_spark_job,
)

__all__ = [
    "AmlKind",
    "PlatformProblem",
    "check_aml_file",
    "check_arm_template",
    "check_build_dir",
    "check_ipynb",
    "check_kubernetes_manifests",
    "check_pbip_project",
    "check_synapse_notebook",
    "check_synapse_pipeline",
    "check_synapse_spark_job",
]
