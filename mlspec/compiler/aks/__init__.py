"""AKS serving and its image in ACR: the ``deployment`` section as Kubernetes manifests and an ACR build.

Layout (one Kubernetes object per file, each its own resource ``aks.<kind>.<name>``)::

    aks/namespace.yaml                     aks.namespace.<ns>           (not for "default")
    aks/serviceaccount.yaml                aks.service_account.<endpoint>
    aks/configmap.yaml                     aks.config_map.<endpoint>
    aks/secretproviderclass.yaml           aks.secret_provider_class.<endpoint>  (secrets or auth: key)
    aks/networkpolicy-default-deny.yaml    aks.network_policy.<endpoint>-default-deny
    aks/networkpolicy.yaml                 aks.network_policy.<endpoint>
    aks/deployment.yaml                    aks.deployment.<endpoint>    (rolling, canary's stable side)
    aks/deployment-canary.yaml             aks.deployment.<endpoint>-canary
    aks/deployment-blue.yaml / -green.yaml aks.deployment.<endpoint>-blue / -green
    aks/service.yaml                       aks.service.<endpoint>
    aks/service-preview.yaml               aks.service.<endpoint>-preview  (blue/green standby)
    aks/hpa.yaml                           aks.hpa.<endpoint>
    aks/pdb.yaml                           aks.pdb.<endpoint>
    acr/task.yaml + Dockerfile, score.py, gunicorn.conf.py, requirements.txt    acr.task.<endpoint>

Every Kubernetes object depends on the namespace; Deployments on the ACR task, ConfigMap,
ServiceAccount, SecretProviderClass and NetworkPolicies; the Service on the Deployments; the
HPA on the Deployment it scales. Deployments list ``spec.selector`` as immutable (a dotted
path: Kubernetes rejects a changed selector, so a change means replace).

The image is ``<registry>.azurecr.io/<project>/<endpoint>:<tag>`` in the project's own
registry; the tag is a content hash of the build inputs (see :mod:`.image`). The scoring
script (an entry script of Azure ML's inference server), its gunicorn settings and the
Dockerfile come from ``mlspec/templates/aks/``; every other file is serialised data.

Values that exist only after something is created are written as markers that apply
replaces (``mlspec:output:<address>.<attribute>``, see :mod:`.conventions`): without
``deployment.identity``, the workload identity's client id is
``mlspec:output:access.identity.<endpoint>.client_id`` and the objects carrying it depend on
``access.identity.<endpoint>``; without ``workspace.tenant_id`` the tenant is
``mlspec:output:workspace.tenant_id``; a rollout slot without a pinned model version serves
``mlspec:output:aml.pipeline.<model>.model_version`` and its Deployment depends on
``aml.pipeline.<model>``.

Runtime contract of the pods (the ConfigMap, read by ``acr/score.py``, and each Deployment's own
``env``): the model is ``MODEL_URI`` = ``models:/<model.name>/$(MODEL_VERSION)`` from the Azure ML
workspace's MLflow registry (``MLFLOW_TRACKING_URI``, reached with the workload identity), both set
per Deployment, never in the ConfigMap the rollout slots share (see :mod:`.rollout`); secrets are files under
``/mnt/secrets/<Key Vault secret name>`` (``MLSPEC_SECRET_FILES`` maps the spec's names to
them); with ``auth: key`` the endpoint key is the Key Vault secret ``<endpoint>-key`` in
``workspace.key_vault`` (created outside mlspec, mounted like the others); with ``auth: entra``
tokens must be issued for the workload identity's client id (``ENTRA_AUDIENCE``).

Rollout strategies are described in :mod:`.rollout`; the checks (MLS630-MLS639) in :mod:`.checks`.
"""

from mlspec.compiler.aks.checks import check
from mlspec.compiler.aks.render import render

__all__ = ["check", "render"]
