"""The AKS renderer: Kubernetes objects the platform accepts, rollout strategies, network and identity."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlspec import api
from mlspec.compiler import aks
from mlspec.compiler.aks.conventions import INTERNAL_LB, INTERNAL_SUBNET, LB_IPV4
from mlspec.compiler.artifacts import ArtifactSet, RenderContext
from mlspec.compiler.platform_checks.kubernetes import check_kubernetes_manifests
from mlspec.diagnostics import MlspecError
from mlspec.spec_schema.canary import canary_replicas


def _support() -> Any:
    """``test_aks_support.py`` (tests run with --import-mode=importlib: no sibling imports)."""
    import importlib.util
    import sys

    if "aks_support" not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            "aks_support", Path(__file__).with_name("test_aks_support.py")
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["aks_support"] = module
        spec.loader.exec_module(module)
    return sys.modules["aks_support"]


_s = _support()
BASE, CONTRACT, HOSTILE = _s.BASE, _s.CONTRACT, _s.HOSTILE
Rendered, example_cases, render, variant = _s.Rendered, _s.example_cases, _s.render, _s.variant
spec_diagnostics = _s.spec_diagnostics
CASES = example_cases()

# --- every example ------------------------------------------------------------------------


@pytest.mark.parametrize(("spec", "env"), CASES, ids=[f"{s.parent.name}-{e}" for s, e in CASES])
def test_every_example_renders_manifests_kubernetes_accepts(spec: Path, env: str) -> None:
    rendered = render(spec, env)
    assert not rendered.errors, [str(d) for d in rendered.errors]
    manifests = rendered.manifests()
    assert manifests, "an example with a deployment renders Kubernetes objects"
    problems = check_kubernetes_manifests(manifests, kubernetes_version="1.30.0")
    assert problems == [], "\n".join(f"{p.artifact} {p.where}: {p.message} ({p.checker})" for p in problems)


@pytest.mark.parametrize(("spec", "env"), CASES, ids=[f"{s.parent.name}-{e}" for s, e in CASES])
def test_every_example_service_is_internal_with_its_subnet(spec: Path, env: str) -> None:
    rendered = render(spec, env)
    model = rendered.ctx.model
    assert model.deployment is not None
    annotations = rendered.doc("aks/service.yaml")["metadata"]["annotations"]
    assert annotations[INTERNAL_LB] == "true"
    if model.deployment.network.subnet:
        assert annotations[INTERNAL_SUBNET] == model.deployment.network.subnet


@pytest.mark.parametrize(("spec", "env"), CASES, ids=[f"{s.parent.name}-{e}" for s, e in CASES])
def test_full_build_writes_the_aks_files_and_a_closed_graph(spec: Path, env: str, tmp_path: Path) -> None:
    try:
        api.build(spec, env, out_dir=tmp_path, environ={})
    except MlspecError as exc:
        codes = sorted({d.code for d in exc.diagnostics})
        if any(code.startswith("MLS63") for code in codes):
            raise
        pytest.skip(f"another renderer rejects this spec ({', '.join(codes)}); the AKS part is tested above")
    manifest = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    entries = {e["address"]: e for e in manifest["resources"]}
    ours = {a: e for a, e in entries.items() if a.startswith(("aks.", "acr."))}
    assert ours, "the deployment is built"
    for address, entry in ours.items():
        assert set(entry["depends_on"]) <= set(entries), f"{address} depends on something the build lacks"
        for file in entry["files"]:
            assert (tmp_path / file).is_file()
    written = [
        yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted((tmp_path / "aks").glob("*.yaml"))
    ]
    assert check_kubernetes_manifests(written) == []


@pytest.mark.parametrize("spec", [CONTRACT, BASE], ids=["contract", "aks-base"])
def test_rendering_twice_gives_identical_bytes(spec: Path) -> None:
    first, second = render(spec), render(spec)
    assert {p: a.content for p, a in first.out.artifacts.items()} == {
        p: a.content for p, a in second.out.artifacts.items()
    }
    assert [str(r.address) for r in first.out.resources] == [str(r.address) for r in second.out.resources]


# --- layout, addresses, dependencies ------------------------------------------------------


def test_rolling_layout_is_one_object_per_file_with_its_address() -> None:
    rendered = render(BASE)
    files = {
        "aks/namespace.yaml": ("aks.namespace.scoring", "kubernetes:v1/Namespace"),
        "aks/serviceaccount.yaml": ("aks.service_account.scorer", "kubernetes:v1/ServiceAccount"),
        "aks/configmap.yaml": ("aks.config_map.scorer", "kubernetes:v1/ConfigMap"),
        "aks/secretproviderclass.yaml": (
            "aks.secret_provider_class.scorer",
            "kubernetes:secrets-store.csi.x-k8s.io/v1/SecretProviderClass",
        ),
        "aks/deployment.yaml": ("aks.deployment.scorer", "kubernetes:apps/v1/Deployment"),
        "aks/service.yaml": ("aks.service.scorer", "kubernetes:v1/Service"),
        "aks/hpa.yaml": ("aks.hpa.scorer", "kubernetes:autoscaling/v2/HorizontalPodAutoscaler"),
        "aks/pdb.yaml": ("aks.pdb.scorer", "kubernetes:policy/v1/PodDisruptionBudget"),
        "aks/networkpolicy.yaml": (
            "aks.network_policy.scorer",
            "kubernetes:networking.k8s.io/v1/NetworkPolicy",
        ),
        "aks/networkpolicy-default-deny.yaml": (
            "aks.network_policy.scorer-default-deny",
            "kubernetes:networking.k8s.io/v1/NetworkPolicy",
        ),
    }
    for path, (address, provider_type) in files.items():
        resource = rendered.resource(address)
        assert resource.files == [path]
        assert resource.provider_type == provider_type
        assert isinstance(yaml.safe_load(rendered.text(path)), dict), (
            "one object (one YAML document) per file"
        )
    task = rendered.resource("acr.task.scorer")
    assert task.provider_type == "acr:task"
    assert task.files == [
        "acr/task.yaml",
        "acr/Dockerfile",
        "acr/score.py",
        "acr/gunicorn.conf.py",
        "acr/requirements.txt",
    ]
    assert rendered.addresses() == {*(a for a, _ in files.values()), "acr.task.scorer"}


def test_everything_depends_on_the_namespace_and_deployments_on_their_prerequisites() -> None:
    rendered = render(BASE)
    for resource in rendered.out.resources:
        if resource.address.service == "aks" and resource.address.kind != "namespace":
            assert "aks.namespace.scoring" in {str(a) for a in resource.depends_on}, resource.address
    deployment = rendered.resource("aks.deployment.scorer")
    assert {
        "acr.task.scorer",
        "aks.config_map.scorer",
        "aks.service_account.scorer",
        "aks.secret_provider_class.scorer",
        "aks.network_policy.scorer",
        "aks.network_policy.scorer-default-deny",
    } <= {str(a) for a in deployment.depends_on}
    assert deployment.immutable == ["spec.selector"]
    assert deployment.source == ("deployment",)
    assert "aks.deployment.scorer" in {str(a) for a in rendered.resource("aks.service.scorer").depends_on}
    assert [str(a) for a in rendered.resource("aks.hpa.scorer").depends_on] == [
        "aks.deployment.scorer",
        "aks.namespace.scoring",
    ]


def test_default_namespace_is_used_but_never_created_or_relabelled(tmp_path: Path) -> None:
    spec = variant(tmp_path, lambda d: d["deployment"].update(namespace="default"))
    rendered = render(spec)
    assert "aks/namespace.yaml" not in rendered.out.artifacts
    assert rendered.doc("aks/deployment.yaml")["metadata"]["namespace"] == "default"
    assert all(not r.depends_on or "namespace" not in str(r.depends_on) for r in rendered.out.resources)


def test_system_namespace_is_rejected_at_its_line(tmp_path: Path) -> None:
    spec = variant(tmp_path, lambda d: d["deployment"].update(namespace="kube-system"))
    found = [d for d in spec_diagnostics(spec) if d.is_error]  # validate refuses it
    assert [(d.code, d.path) for d in found] == [("MLS638", ("deployment", "namespace"))]
    rendered = render(spec, checked=False)  # and the renderer still refuses it, as defence in depth
    assert [d.code for d in rendered.errors] == ["MLS638"]
    assert rendered.out.resources == []


# --- rollout strategies -------------------------------------------------------------------


def _strategy(tmp_path: Path, rollout: dict[str, Any], **replicas: int) -> Any:
    def change(data: dict[str, Any]) -> None:
        data["deployment"]["rollout"] = rollout
        data["deployment"]["replicas"].update(replicas)

    return render(variant(tmp_path, change))


def _deployments(rendered: Any) -> dict[str, dict[str, Any]]:
    return {m["metadata"]["name"]: m for m in rendered.manifests() if m["kind"] == "Deployment"}


def _pods_selected(rendered: Any, selector: dict[str, str]) -> set[str]:
    return {
        name
        for name, m in _deployments(rendered).items()
        if all(m["spec"]["template"]["metadata"]["labels"].get(k) == v for k, v in selector.items())
    }


def test_rolling_update_is_one_deployment_scaled_by_the_hpa(tmp_path: Path) -> None:
    rendered = _strategy(tmp_path, {"strategy": "rolling", "max_surge": 1, "max_unavailable": "10%"})
    deployments = _deployments(rendered)
    assert list(deployments) == ["scorer"]
    spec = deployments["scorer"]["spec"]
    assert "replicas" not in spec, "the HPA owns the replica count"
    assert spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": "10%"},
    }
    hpa = rendered.doc("aks/hpa.yaml")["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "scorer"}
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 10)
    assert hpa["metrics"][0]["resource"] == {
        "name": "cpu",
        "target": {"type": "Utilization", "averageUtilization": 60},
    }
    assert rendered.doc("aks/pdb.yaml")["spec"]["minAvailable"] == 1
    assert _pods_selected(rendered, rendered.doc("aks/service.yaml")["spec"]["selector"]) == {"scorer"}


def test_canary_is_a_stable_and_a_canary_deployment_behind_one_service(tmp_path: Path) -> None:
    rendered = _strategy(tmp_path, {"strategy": "canary", "canary_percent": 20}, min=2, max=10)
    assert not rendered.diagnostics, [str(d) for d in rendered.diagnostics]
    deployments = _deployments(rendered)
    assert set(deployments) == {"scorer", "scorer-canary"}
    assert rendered.resource("aks.deployment.scorer-canary").files == ["aks/deployment-canary.yaml"]
    stable, canary = deployments["scorer"], deployments["scorer-canary"]
    assert stable["spec"]["selector"]["matchLabels"]["track"] == "stable"
    assert canary["spec"]["selector"]["matchLabels"]["track"] == "canary"
    assert stable["spec"]["template"]["spec"] == canary["spec"]["template"]["spec"], (
        "one release, one pod spec"
    )
    hpa = rendered.doc("aks/hpa.yaml")["spec"]
    assert hpa["scaleTargetRef"]["name"] == "scorer"
    # 20 %: 4 stable pods at the minimum and 1 canary pod, so 1 in 5 requests reach the canary.
    assert (hpa["minReplicas"], canary["spec"]["replicas"]) == (4, 1)
    assert _pods_selected(rendered, rendered.doc("aks/service.yaml")["spec"]["selector"]) == {
        "scorer",
        "scorer-canary",
    }
    stable_deps = {str(a) for a in rendered.resource("aks.deployment.scorer").depends_on}
    assert "aks.deployment.scorer-canary" in stable_deps, "a release reaches the canary first"


def test_canary_split_that_replicas_max_cannot_realise_is_a_warning(tmp_path: Path) -> None:
    rendered = _strategy(tmp_path, {"strategy": "canary", "canary_percent": 5}, min=2, max=6)
    assert rendered.codes() == [], "validate warns, not the renderer (build shows the warning once)"
    [warning] = [d for d in spec_diagnostics(Path(rendered.ctx.spec.file)) if d.code == "MLS639"]
    assert not warning.is_error
    assert warning.path == ("deployment", "rollout", "canary_percent")
    assert "14%" in warning.message


@pytest.mark.parametrize(
    ("percent", "low", "high", "expected"),
    [
        (10, 2, 10, (9, 1)),
        (25, 2, 10, (3, 1)),
        (50, 2, 10, (2, 2)),
        (10, 2, 5, (5, 1)),
        (75, 2, 10, (2, 6)),
        (99, 2, 4, (2, 4)),
    ],
)
def test_canary_pod_counts_never_exceed_the_percentage_when_reachable(
    percent: int, low: int, high: int, expected: tuple[int, int]
) -> None:
    stable, canary = canary_replicas(percent, low, high)
    assert (stable, canary) == expected
    assert stable >= low and canary >= 1


def test_blue_green_is_two_slots_and_the_service_selects_the_active_one(tmp_path: Path) -> None:
    rendered = _strategy(tmp_path, {"strategy": "blue_green"})
    deployments = _deployments(rendered)
    assert set(deployments) == {"scorer-blue", "scorer-green"}
    assert rendered.resource("aks.deployment.scorer-blue").files == ["aks/deployment-blue.yaml"]
    assert rendered.resource("aks.deployment.scorer-green").files == ["aks/deployment-green.yaml"]
    service = rendered.doc("aks/service.yaml")["spec"]["selector"]
    assert service["slot"] == "blue"
    assert _pods_selected(rendered, service) == {"scorer-blue"}
    preview = rendered.doc("aks/service-preview.yaml")
    assert preview["spec"]["type"] == "ClusterIP", "the standby slot is never exposed outside the cluster"
    assert _pods_selected(rendered, preview["spec"]["selector"]) == {"scorer-green"}
    assert rendered.doc("aks/hpa.yaml")["spec"]["scaleTargetRef"]["name"] == "scorer-blue"
    assert rendered.doc("aks/pdb.yaml")["spec"]["selector"]["matchLabels"]["slot"] == "blue"
    assert "replicas" not in deployments["scorer-blue"]["spec"]
    assert deployments["scorer-green"]["spec"]["replicas"] == 2, "the standby slot stays warm at replicas.min"
    active_deps = {str(a) for a in rendered.resource("aks.deployment.scorer-blue").depends_on}
    assert "aks.deployment.scorer-green" in active_deps, "a release reaches the standby slot first"
    problems = check_kubernetes_manifests(rendered.manifests())
    assert problems == []


# --- network ------------------------------------------------------------------------------


def test_internal_load_balancer_carries_subnet_and_static_ip() -> None:
    service = render(BASE, "prod").doc("aks/service.yaml")
    assert service["spec"]["type"] == "LoadBalancer"
    assert service["metadata"]["annotations"] == {
        INTERNAL_LB: "true",
        INTERNAL_SUBNET: "snet-inference",
        LB_IPV4: "10.20.0.40",
    }
    assert service["spec"]["externalTrafficPolicy"] == "Local", "client addresses reach the NetworkPolicy"
    assert service["spec"]["loadBalancerSourceRanges"] == ["10.10.0.0/16", "10.30.4.0/24"]


def test_public_load_balancer_only_when_the_spec_allows_it(tmp_path: Path) -> None:
    public = variant(
        tmp_path, lambda d: d["deployment"]["network"].update(internal_load_balancer=False, allow_public=True)
    )
    annotations = render(public).doc("aks/service.yaml")["metadata"].get("annotations", {})
    assert INTERNAL_LB not in annotations
    # Without allow_public the spec is refused before anything is rendered.
    refused = variant(
        tmp_path / "refused", lambda d: d["deployment"]["network"].update(internal_load_balancer=False)
    )
    resolved = api.resolve(api.load(refused), None, environ={})
    assert "MLS503" in {d.code for d in resolved.diagnostics if d.is_error}


def test_network_policies_deny_by_default_and_admit_allow_from_on_the_port() -> None:
    rendered = render(BASE)
    deny = rendered.doc("aks/networkpolicy-default-deny.yaml")["spec"]
    assert deny == {
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "scorer"}},
        "policyTypes": ["Ingress"],
    }
    allow = rendered.doc("aks/networkpolicy.yaml")["spec"]
    assert allow["ingress"] == [
        {
            "ports": [{"protocol": "TCP", "port": 8080}],
            "from": [{"ipBlock": {"cidr": "10.10.0.0/16"}}, {"ipBlock": {"cidr": "10.30.4.0/24"}}],
        }
    ]


def test_empty_allow_from_admits_the_port_from_anywhere_with_a_warning(tmp_path: Path) -> None:
    spec = variant(tmp_path, lambda d: d["deployment"]["network"].update(allow_from=[]))
    rendered = render(spec)
    assert rendered.codes() == [], "validate warns, not the renderer (build shows the warning once)"
    [warning] = [d for d in spec_diagnostics(spec) if d.code == "MLS639"]
    assert not warning.is_error and warning.path == ("deployment", "network")
    assert rendered.doc("aks/networkpolicy.yaml")["spec"]["ingress"] == [
        {"ports": [{"protocol": "TCP", "port": 8080}]}
    ]


def test_subnet_that_is_not_an_azure_name_is_rejected(tmp_path: Path) -> None:
    spec = variant(tmp_path, lambda d: d["deployment"]["network"].update(subnet="snet\n  evil: x"))
    expected = [("MLS638", ("deployment", "network", "subnet"))]
    assert [(d.code, d.path) for d in spec_diagnostics(spec) if d.is_error] == expected
    rendered = render(spec, checked=False)  # the renderer refuses it too, as defence in depth
    assert [(d.code, d.path) for d in rendered.errors] == expected


# --- pod ----------------------------------------------------------------------------------


def test_pod_runs_restricted_with_probes_resources_and_identity() -> None:
    deployment = render(BASE).doc("aks/deployment.yaml")
    template = deployment["spec"]["template"]
    assert template["metadata"]["labels"]["azure.workload.identity/use"] == "true"
    pod = template["spec"]
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "runAsGroup": 10001,
        "fsGroup": 10001,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert pod["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == "scorer"
    assert pod["terminationGracePeriodSeconds"] == 30
    assert {c["topologyKey"] for c in pod["topologySpreadConstraints"]} == {
        "topology.kubernetes.io/zone",
        "kubernetes.io/hostname",
    }
    (container,) = pod["containers"]
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["privileged"] is False
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert container["resources"] == {
        "requests": {"cpu": "250m", "memory": "512Mi"},
        "limits": {"cpu": "250m", "memory": "1Gi"},
    }
    # Azure ML's inference server answers GET / once the model is loaded; GET /score is the script's readiness.
    assert container["livenessProbe"]["httpGet"]["path"] == "/"
    assert container["startupProbe"]["httpGet"]["path"] == "/"
    assert container["readinessProbe"]["httpGet"]["path"] == "/score"
    assert container["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", "5"]
    assert container["startupProbe"]["httpGet"]["port"] == "http"
    assert container["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert mounts["/mnt/secrets"]["readOnly"] is True
    assert "/tmp" in mounts
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["tmp"]["emptyDir"]
    assert volumes["secrets-store"]["csi"] == {
        "driver": "secrets-store.csi.k8s.io",
        "readOnly": True,
        "volumeAttributes": {"secretProviderClass": "scorer"},
    }


def test_namespace_enforces_the_restricted_pod_security_standard() -> None:
    labels = render(BASE).doc("aks/namespace.yaml")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


# --- identity and secrets -----------------------------------------------------------------


def test_service_account_uses_the_spec_client_id() -> None:
    rendered = render(BASE)
    annotations = rendered.doc("aks/serviceaccount.yaml")["metadata"]["annotations"]
    assert annotations["azure.workload.identity/client-id"] == "00000000-0000-0000-0000-0000000000bb"
    assert annotations["azure.workload.identity/tenant-id"] == "00000000-0000-0000-0000-0000000000aa"
    assert not any(str(a).startswith("access.") for r in rendered.out.resources for a in r.depends_on)


def test_without_a_client_id_the_identity_comes_from_the_access_resource(tmp_path: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        del data["deployment"]["identity"]
        del data["workspace"]["tenant_id"]

    rendered = render(variant(tmp_path, change))
    marker = "mlspec:output:access.identity.scorer.client_id"
    annotations = rendered.doc("aks/serviceaccount.yaml")["metadata"]["annotations"]
    assert annotations == {"azure.workload.identity/client-id": marker}
    parameters = rendered.doc("aks/secretproviderclass.yaml")["spec"]["parameters"]
    assert (parameters["clientID"], parameters["tenantId"]) == (marker, "mlspec:output:workspace.tenant_id")
    for address in ("aks.service_account.scorer", "aks.secret_provider_class.scorer"):
        assert "access.identity.scorer" in {str(a) for a in rendered.resource(address).depends_on}
    assert check_kubernetes_manifests(rendered.manifests()) == []


def test_secret_provider_class_mounts_every_secret_as_the_csi_driver_parses_it() -> None:
    spc = render(BASE).doc("aks/secretproviderclass.yaml")
    parameters = spc["spec"]["parameters"]
    assert spc["spec"]["provider"] == "azure"
    assert all(isinstance(v, str) for v in parameters.values()), "CSI parameters are all strings"
    assert parameters["usePodIdentity"] == "false"
    assert parameters["keyvaultName"] == "kv-scoring-dev"
    assert parameters["tenantId"] == "00000000-0000-0000-0000-0000000000aa"
    objects = [yaml.safe_load(entry) for entry in yaml.safe_load(parameters["objects"])["array"]]
    assert objects == [
        {"objectName": "upstream-token", "objectType": "secret", "objectVersion": ""},
        {
            "objectName": "pinned-secret",
            "objectType": "secret",
            "objectVersion": "0123456789abcdef0123456789abcdef",
        },
        {"objectName": "scorer-key", "objectType": "secret", "objectVersion": ""},
    ]


def test_entra_auth_without_secrets_has_no_secret_mount(tmp_path: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        data["deployment"].update(auth="entra", secrets=[])

    rendered = render(variant(tmp_path, change))
    assert "aks/secretproviderclass.yaml" not in rendered.out.artifacts
    pod = rendered.doc("aks/deployment.yaml")["spec"]["template"]["spec"]
    assert [v["name"] for v in pod["volumes"]] == ["tmp"]
    config = rendered.doc("aks/configmap.yaml")["data"]
    assert config["MLSPEC_AUTH"] == "entra"
    assert config["ENTRA_AUDIENCE"] == "00000000-0000-0000-0000-0000000000bb"
    assert "SCORING_KEY_FILE" not in config


def test_key_auth_without_a_key_vault_is_an_error(tmp_path: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        del data["workspace"]["key_vault"]
        data["deployment"]["secrets"] = []
        data["access"]["secrets"] = {}

    spec = variant(tmp_path, change)
    resolved = api.resolve(api.load(spec), None, environ={})  # validate refuses it before any rendering
    assert [(d.code, d.path) for d in resolved.diagnostics if d.is_error] == [
        ("MLS316", ("deployment", "auth"))
    ]
    ctx = RenderContext(resolved.model, resolved.spec)  # type: ignore[arg-type]
    out = ArtifactSet()
    aks.render(ctx, out)  # and the AKS renderer still catches it, as defence in depth
    found = [*out.diagnostics, *aks.check(ctx, out)]
    assert [(d.code, d.path) for d in found if d.is_error] == [("MLS634", ("deployment", "auth"))]


def test_secrets_from_two_key_vaults_are_an_error(tmp_path: Path) -> None:
    spec = variant(tmp_path, lambda d: d["access"]["secrets"]["pinned"].update(key_vault="kv-elsewhere"))
    expected = [("MLS634", ("deployment", "secrets"))]
    assert [(d.code, d.path) for d in spec_diagnostics(spec) if d.is_error] == expected
    rendered = render(spec, checked=False)  # the renderer refuses it too, as defence in depth
    assert [(d.code, d.path) for d in rendered.errors] == expected


def test_config_map_holds_settings_and_secret_file_paths_never_values() -> None:
    data = render(BASE).doc("aks/configmap.yaml")["data"]
    assert data["MODEL_NAME"] == "scoring-model"
    assert data["MLSPEC_FEATURES"] == '["tenure", "charges", "plan"]'
    assert data["MLSPEC_AUTH"] == "key"
    assert data["SCORING_KEY_FILE"] == "/mnt/secrets/scorer-key"
    assert data["MLSPEC_SECRET_FILES"] == (
        '{"pinned": "/mnt/secrets/pinned-secret", "upstream_token": "/mnt/secrets/upstream-token"}'
    )
    assert (
        data["PREDICTION_LOG_PATH"]
        == "abfss://monitoring@scoringlake.dfs.core.windows.net/scorer/predictions/"
    )
    assert data["PREDICTION_LOG_SAMPLE_RATE"] == "0.25"
    assert data["MLFLOW_TRACKING_URI"].startswith(
        "azureml://westeurope.api.azureml.ms/mlflow/v1.0/subscriptions/"
    )
    assert all(isinstance(v, str) for v in data.values())


# --- injection ------------------------------------------------------------------------------


def test_hostile_free_text_stays_data_in_every_artifact() -> None:
    rendered = render(HOSTILE)
    assert not rendered.errors, [str(d) for d in rendered.errors]
    for path, artifact in rendered.out.artifacts.items():
        if path.endswith(".yaml"):
            documents = list(yaml.safe_load_all(artifact.content))
            assert len(documents) == 1, f"{path} must stay one YAML document"
            assert documents[0] == artifact.data
    assert not [m for m in rendered.manifests() if m["kind"] == "Secret"]
    assert check_kubernetes_manifests(rendered.manifests()) == []
    features = rendered.ctx.model.model.training.features  # type: ignore[union-attr]
    assert json.loads(rendered.doc("aks/configmap.yaml")["data"]["MLSPEC_FEATURES"]) == features


def test_names_that_would_leave_the_output_folder_are_rejected(tmp_path: Path) -> None:
    spec = variant(tmp_path, lambda d: d["deployment"].update(endpoint="../../etc"))
    with pytest.raises(MlspecError) as raised:
        api.build(spec, None, out_dir=tmp_path / "out", environ={})
    assert {d.code for d in raised.value.diagnostics} >= {"MLS401"}
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "etc").exists()


def test_the_service_account_waits_for_the_federated_credential_of_a_named_identity(tmp_path: Path) -> None:
    """Without it the pods start before their token exchange can work (the credential is access's)."""
    churn = Path(__file__).resolve().parents[2] / "projects" / "churn" / "mlproject.yaml"
    data = yaml.safe_load(churn.read_text(encoding="utf-8"))
    assert data["deployment"]["identity"].get("name"), "churn names its identity"

    def account_dependencies(spec: Path) -> tuple[set[str], set[str]]:
        result = api.build(spec, "dev", environ={})
        resources = {str(r.address): r for r in result.manifest.resources}
        account = resources["aks.service_account.churn-scoring"]
        return {str(a) for a in account.depends_on}, set(resources)

    named, addresses = account_dependencies(churn)
    assert "access.identity.churn-scoring" in addresses and "access.identity.churn-scoring" in named
    data["deployment"]["identity"] = {"client_id": data["deployment"]["identity"]["client_id"]}
    folder = tmp_path / "churn"
    import shutil

    shutil.copytree(churn.parent, folder, ignore=shutil.ignore_patterns("build", ".mlspec"))
    (folder / "mlproject.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    unnamed, addresses = account_dependencies(folder / "mlproject.yaml")
    assert "access.identity.churn-scoring" not in addresses and "access.identity.churn-scoring" not in unnamed
