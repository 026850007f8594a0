"""MLS8xx: plan, apply, state, providers (``mlspec plan|apply|destroy|force-unlock``) and the local run."""

from __future__ import annotations

from mlspec.diagnostic_codes.entries import ERROR, PLAN_STATE, RUN, DiagnosticCode, code

PLAN_CODES: tuple[DiagnosticCode, ...] = (
    code(
        "MLS801",
        ERROR,
        PLAN_STATE,
        "the state or a lock file cannot be used",
        "the state file or blob cannot be read, parsed or written (located at it), a lock file is not a lock "
        "record, or the state was written by another process while this one held the lock (a broken lock: "
        "apply then starts no further resource)",
    ),
    code(
        "MLS802",
        ERROR,
        PLAN_STATE,
        "the state is locked by another process",
        "the state is locked by another process; the message names who, since when, the operation and the "
        "lock id",
    ),
    code(
        "MLS803",
        ERROR,
        PLAN_STATE,
        "a lock problem",
        "a lock problem: releasing a lock this process does not hold, `force-unlock` with a wrong id",
    ),
    code("MLS804", ERROR, PLAN_STATE, "unknown state backend", "the state backend: unknown kind"),
    code(
        "MLS805",
        ERROR,
        PLAN_STATE,
        "the blob state backend needs `azure-storage-blob`",
        "the state backend: `azure-storage-blob` missing",
    ),
    code(
        "MLS806",
        ERROR,
        PLAN_STATE,
        "the blob state backend has no storage account",
        "the state backend: `state.storage_account` missing (or `AZURE_STORAGE_CONNECTION_STRING` unparseable)",
    ),
    code(
        "MLS807",
        ERROR,
        PLAN_STATE,
        "the state storage cannot be used",
        "the state backend: cannot authenticate, reach or use the storage (the container URL without its "
        "query string, and the cause)",
    ),
    code(
        "MLS808",
        ERROR,
        PLAN_STATE,
        "the state belongs to another owner",
        "the state belongs to another owner: recorded for another project/environment, or a renamed project "
        "would start a second state over the old name's objects (the hint says how to move it)",
    ),
    code(
        "MLS810",
        ERROR,
        PLAN_STATE,
        "the Azure provider cannot deploy a kind of this build yet",
        "the environment deploys with the Azure provider, and the build holds kinds of resource it does not "
        "deploy in this version (the message lists them); nothing is read or changed. Use `--env local` or "
        "`provider: local` for the whole project",
    ),
    code("MLS811", ERROR, PLAN_STATE, "unknown provider"),
    code(
        "MLS815",
        ERROR,
        PLAN_STATE,
        "the Azure environment names too little to deploy into",
        "the manifest's `workspace` lacks a name the Azure provider needs (`subscription_id` and "
        "`resource_group` always; `synapse` for notebooks and pipelines...): set it in the spec and build again",
    ),
    code(
        "MLS817",
        ERROR,
        PLAN_STATE,
        "a source's lake path does not exist",
        "a source's path is not in the lake the environment deploys with (or cannot be read: the message "
        "says why and which role is missing): the transforms would fail on it at run time, so plan and "
        "apply stop first. Located at the source's `path`",
    ),
    code(
        "MLS816",
        ERROR,
        PLAN_STATE,
        "no Azure credentials",
        "no credential of `DefaultAzureCredential` (environment, workload identity, managed identity, Azure "
        "CLI, Azure Developer CLI, PowerShell) gave a token: the message names one that was found but "
        "refused, and the hint says how to sign in. Checked before anything is read",
    ),
    code(
        "MLS820",
        ERROR,
        PLAN_STATE,
        "a provider operation failed",
        "a provider operation failed for one resource (its dependants are skipped; the state stays true; a "
        "rerun continues); or a local provider object file cannot be read (a symlink, not a regular file, "
        "too large, not UTF-8 or not JSON it can use): located at the file, the plan stops, and the hint says "
        "to delete the object's folder so the next apply recreates it; or a create found a different "
        "object at its address (the state does not record it): refused and left untouched, the hint says "
        "how to go on",
    ),
    code(
        "MLS830",
        ERROR,
        PLAN_STATE,
        "a plan cannot be made",
        "a plan cannot be made (e.g. the manifest's graph)",
    ),
    code("MLS831", ERROR, PLAN_STATE, "`--select` matches no resource"),
    code(
        "MLS832",
        ERROR,
        PLAN_STATE,
        "a saved plan is stale",
        "a saved plan is stale: the state's serial or lineage moved since it was made",
    ),
    code(
        "MLS833",
        ERROR,
        PLAN_STATE,
        "destroy in a protected environment",
        "`destroy` in a protected environment without `--allow-destroy`",
    ),
    code(
        "MLS834",
        ERROR,
        PLAN_STATE,
        "a protected environment refuses a delete or replace",
        "a protected environment refuses a delete or replace without `--allow-destroy`",
    ),
    code(
        "MLS835",
        ERROR,
        PLAN_STATE,
        "a `moved` entry whose old address is still configured",
        "a `moved` entry whose old address is still in the configuration (two addresses would claim one "
        "object)",
    ),
    code(
        "MLS836",
        ERROR,
        PLAN_STATE,
        "a saved plan was changed after it was saved",
        "a saved plan was changed after it was saved (its digest is missing or does not match) or its content "
        "is not what `mlspec plan --out` writes; refused before it is shown or applied",
    ),
    code(
        "MLS837",
        ERROR,
        PLAN_STATE,
        "an address is not in the state",
        "`mlspec state show|rm` (or `state mv`) names an address the environment's state does not hold; the "
        "hint names the closest addresses (`mlspec state list` prints them all)",
    ),
    code(
        "MLS838",
        ERROR,
        PLAN_STATE,
        "`state mv` cannot move to that address",
        "`mlspec state mv SOURCE DESTINATION` with an address that does not parse "
        "(`<service>.<kind>.<name>`), a destination of another service or kind (a move keeps the kind of "
        "object), or a destination already in the state",
    ),
    code(
        "MLS839",
        ERROR,
        PLAN_STATE,
        "a renamed project's state cannot be adopted",
        "`mlspec state mv --from-project OLD_NAME`: the old name is this project's own, the state found "
        "under it belongs to another project or environment, or this project's state already holds "
        "resources (two states cannot be merged)",
    ),
    code(
        "MLS840",
        ERROR,
        PLAN_STATE,
        "`plan --out` will not write there",
        "`mlspec plan --out FILE` will not replace that file: a name ending in `.yaml`/`.yml` (`apply` would "
        "read it as a spec), a symlink (a plan is never written through a link), an existing folder, FIFO or "
        "device, the spec itself, a file the spec names (transform code, training script, seed program), or a "
        "path inside the project's `.mlspec/` folder or the state folder. Refused before the plan is shown",
        exit_code=2,
    ),
    code(
        "MLS841",
        ERROR,
        PLAN_STATE,
        "writing the plan file failed",
        "writing the plan file failed, e.g. the disk is full (or the plan is larger than `mlspec apply` reads "
        "back): the plan is written beside the target and renamed over it, so an older file there is left as "
        "it was and no temporary file stays behind",
        exit_code=2,
    ),
    code(
        "MLS842",
        ERROR,
        PLAN_STATE,
        "an output marker nothing satisfies",
        "a resource's payload holds an output marker (`mlspec:output:<address>.<attribute>`, a value known "
        "only after apply) that nothing will provide: its producer is neither created by this plan nor "
        "recorded in state with that output (or this plan destroys it), or the environment's provider "
        "supplies no such `workspace.*` value. `plan` refuses the whole plan and `apply` of a saved plan "
        "checks again; the message names the resource, the marker and what would produce it (set "
        "`workspace.tenant_id` in the spec, or apply the producer)",
    ),
    code(
        "MLS843",
        ERROR,
        PLAN_STATE,
        "apply cannot replace an output marker",
        "apply cannot replace an output marker before sending a resource: its producer reported no such "
        "output (a provider bug: the producer is recorded, what needs it is not sent), or the value cannot "
        "stand in a JSON string or YAML scalar (quotes, backslashes, control characters). The resource "
        "fails and what depends on it is skipped",
    ),
    # --- run and serve --------------------------------------------------------------------------------
    code(
        "MLS812",
        ERROR,
        RUN,
        "`serve` needs an environment with the local provider",
        "the environment deploys with another provider than `local`; `mlspec serve` runs the endpoint on this "
        "machine only (use `--env local`, which every project has, or give the environment `provider: "
        "local`). `mlspec run` of an Azure environment runs its deployed pipeline in Azure",
    ),
    code(
        "MLS819",
        ERROR,
        RUN,
        "a local run's option given to a run in Azure",
        "`--only`, `--from`, `--lake`, `--spark-master` and `--traffic` shape a run on this machine; an Azure "
        "environment's run starts its deployed Synapse pipeline as a whole, so they are refused rather than "
        "ignored",
    ),
    code(
        "MLS818",
        ERROR,
        RUN,
        "nothing deployed to run in Azure",
        "`mlspec run` of an Azure environment runs what `mlspec apply` deployed there, and the state records "
        "no Synapse pipeline for it: apply the environment first",
    ),
    code(
        "MLS813",
        ERROR,
        RUN,
        "the local endpoint cannot start",
        "`mlspec serve` cannot start the local endpoint: the spec has no model and deployment to serve, no "
        "model version has passed its evaluation gate yet (run `mlspec run` first) or it is missing from the "
        "local registry, a secret has no local value, or the scoring environment or server does not come up",
    ),
    code(
        "MLS814",
        ERROR,
        RUN,
        "another `mlspec run` or `serve` holds the project",
        "another `mlspec run` or `mlspec serve` holds the project (the lock in `.mlspec/runs/run.lock`, "
        "released by the operating system if that process dies); the message names it",
    ),
)
