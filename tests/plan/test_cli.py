"""The command line: output, exit codes (cli.md), saved plans, confirmation, force-unlock."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlspec.api import deploy as api_deploy
from mlspec.plan.backends.local import LocalBackend
from mlspec.plan.render import render_plan
from plan.conftest import SYNTHETIC_CLI, cli_env, edit, read_state, run_cli, synthetic_cli

ERRORS_ALERT = (
    '    - {name: errors, signal: error_rate, operator: ">", threshold: 0.02, window: 15m, severity: 1}\n'
)


def test_plan_prints_blocks_and_the_summary_and_detailed_exitcode_follows_terraform(shop: Path) -> None:
    cwd = shop.parent
    first = run_cli(["plan", "--env", "dev", "--detailed-exitcode"], cwd)
    assert first.returncode == 2, first.stderr
    assert "  + synapse.notebook.features (Microsoft.Synapse/workspaces/notebooks)" in first.stdout
    assert first.stdout.rstrip().endswith("Plan: 11 to add, 0 to change, 0 to replace, 0 to destroy.")
    applied = run_cli(["apply", "--env", "dev", "--auto-approve"], cwd)
    assert applied.returncode == 0, applied.stderr
    assert "Apply complete! Resources: 11 added, 0 changed, 0 replaced, 0 destroyed." in applied.stdout
    assert (
        "synapse.notebook.features: Synapse notebook registered at "
        ".mlspec/local/dev/synapse/notebook/features" in applied.stdout
    )
    assert "synapse.notebook.features: Creating..." in applied.stderr  # progress goes to stderr
    same = run_cli(["plan", "--env", "dev", "--detailed-exitcode"], cwd)
    assert same.returncode == 0 and same.stdout.startswith("No changes.")
    broken = run_cli(["plan", "--env", "nope", "--detailed-exitcode"], cwd)
    assert broken.returncode == 1 and "unknown environment 'nope'" in broken.stderr
    assert run_cli(["plan", "--env", "nope"], cwd).returncode == 1
    assert run_cli(["plan", "missing.yaml", "--env", "dev", "--detailed-exitcode"], cwd).returncode == 1
    assert run_cli(["plan", "missing.yaml", "--env", "dev"], cwd).returncode == 2


def test_plan_json_prints_one_document_and_nothing_else(shop: Path) -> None:
    result = run_cli(["plan", "--env", "dev", "--json", "--out", "plan.json"], shop.parent)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["summary"]["add"] == 11 and document["has_changes"] is True
    assert "Saved the plan" in result.stderr
    assert json.loads((shop.parent / "plan.json").read_text())["saved"]["files"]


def test_apply_of_a_saved_plan_and_refusal_of_a_stale_one(shop: Path) -> None:
    cwd = shop.parent
    assert run_cli(["plan", "--env", "dev", "--out", "first.bin"], cwd).returncode == 0
    assert run_cli(["plan", "--env", "dev", "--out", "second.bin"], cwd).returncode == 0
    applied = run_cli(["apply", "first.bin"], cwd)
    assert applied.returncode == 0, applied.stderr
    assert "11 added" in applied.stdout
    stale = run_cli(["apply", "second.bin"], cwd)
    assert stale.returncode == 1
    assert "the saved plan is stale" in stale.stderr
    wrong_env = run_cli(["apply", "first.bin", "--env", "prod"], cwd)
    assert wrong_env.returncode == 2 and "is a plan for environment 'dev'" in wrong_env.stderr


def test_apply_without_a_terminal_or_auto_approve_changes_nothing(shop: Path) -> None:
    result = run_cli(["apply", "--env", "dev"], shop.parent)
    assert result.returncode == 2
    assert "stdin is not a terminal" in result.stderr
    assert not (shop.parent / ".mlspec/state/shop/dev.json").exists()
    assert not (shop.parent / ".mlspec/state/shop/dev.lock").exists()


@pytest.mark.parametrize(("answer", "code"), [("no", 1), ("yes", 0)])
def test_apply_asks_on_a_terminal_and_only_yes_proceeds(shop: Path, answer: str, code: int) -> None:
    leader, follower = os.openpty()
    try:
        process = subprocess.Popen(
            synthetic_cli("apply", "--env", "dev"),
            cwd=shop.parent,
            env=cli_env(),
            stdin=follower,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        os.write(leader, f"{answer}\n".encode())
        out, err = process.communicate(timeout=60)
    finally:
        os.close(leader)
        os.close(follower)
    assert process.returncode == code, err
    assert "Do you want to perform these actions? Only 'yes' is accepted" in out
    state = shop.parent / ".mlspec/state/shop/dev.json"
    if answer == "yes":
        assert len(read_state(shop)["resources"]) == 11  # type: ignore[arg-type]
    else:
        assert "Apply cancelled" in out and not state.exists()


def test_protected_environment_refusals_and_allow_destroy(shop: Path) -> None:
    cwd = shop.parent
    assert run_cli(["apply", "--env", "prod", "--auto-approve", "-q"], cwd).returncode == 0
    refused = run_cli(["destroy", "--env", "prod", "--auto-approve"], cwd)
    assert refused.returncode == 1 and "environment 'prod' is protected: destroy is refused" in refused.stderr
    edit(shop, ERRORS_ALERT, "")
    planned = run_cli(["plan", "--env", "prod"], cwd)
    assert planned.returncode == 1
    assert "  - monitor.metric_alert.errors" in planned.stdout and "refused" in planned.stdout
    assert "refusing to delete monitor.metric_alert.errors" in planned.stderr
    allowed = run_cli(["destroy", "--env", "prod", "--auto-approve", "--allow-destroy", "-q"], cwd)
    assert (
        allowed.returncode == 0 and "Destroy complete! Resources: 11 destroyed." in allowed.stdout
    )  # all in state


def test_a_held_lock_names_its_holder_and_force_unlock_breaks_it(shop: Path) -> None:
    backend = LocalBackend(shop.parent / ".mlspec/state/shop", "dev")
    held = backend.lock("apply")
    blocked = run_cli(["plan", "--env", "dev"], shop.parent)
    assert blocked.returncode == 1
    assert f"held by {held.who}, operation apply, since {held.created} (lock id {held.id})" in blocked.stderr
    assert (
        run_cli(["plan", "--env", "dev", "--no-refresh"], shop.parent).returncode == 0
    )  # reads without the lock
    wrong = run_cli(["force-unlock", "not-the-id", "--env", "dev"], shop.parent)
    assert wrong.returncode == 1 and "does not match" in wrong.stderr
    assert "stale" not in blocked.stderr  # its holder (this test) still runs
    unconfirmed = run_cli(["force-unlock", held.id, "--env", "dev"], shop.parent)  # stdin is no terminal
    assert unconfirmed.returncode == 2 and "without confirmation" in unconfirmed.stderr  # as apply: usage
    assert f"mlspec force-unlock {held.id} mlproject.yaml --env dev --force" in unconfirmed.stderr
    assert backend.current_lock() == held
    removed = run_cli(["force-unlock", held.id, "--env", "dev", "--force"], shop.parent)
    assert removed.returncode == 0 and f"Lock {held.id} removed" in removed.stdout
    assert run_cli(["plan", "--env", "dev"], shop.parent).returncode == 0


def test_the_human_plan_marks_each_action_and_colours_only_when_asked(shop: Path) -> None:
    from plan.synthetic import installed

    with installed():
        api_deploy.apply_environment(shop, "dev")
        edit(shop, "namespace: shop", "namespace: other")
        edit(shop, "replicas: {min: 2, max: 4}", "replicas: {min: 3, max: 4}")
        edit(
            shop,
            "      SELECT customer_id, count(*) AS visits FROM clicks GROUP BY customer_id\n",
            "      SELECT customer_id, count(*) AS visits\n      FROM clicks GROUP BY customer_id\n",
        )
        edit(shop, ERRORS_ALERT, "")
        the_plan = api_deploy.plan_environment(shop, "dev").plan
    text = render_plan(the_plan)
    assert "  -+ aks.deployment.shop-scoring (kubernetes:apps/v1/Deployment)" in text
    assert "      # replace: properties.metadata.namespace cannot be changed in place" in text
    assert '      ~ properties.metadata.namespace: "shop" → "other"  # forces replacement' in text
    assert "      ~ properties.spec.replicas: 2 → 3" in text
    assert "  - monitor.metric_alert.errors (Microsoft.Insights/metricAlerts)" in text
    assert "  ~ synapse.notebook.click_stats" in text
    assert "          +FROM clicks GROUP BY customer_id" in text  # multi-line values diff by line
    assert text.rstrip().endswith("Plan: 0 to add, 1 to change, 1 to replace, 1 to destroy.")
    assert "\033[" not in text
    coloured = render_plan(the_plan, color=True)
    assert (
        "\033[35m-+\033[0m aks.deployment.shop-scoring" in coloured and "\033[31m-\033[0m monitor" in coloured
    )


def test_plan_and_apply_import_no_azure_sdk_spark_or_mlflow(shop: Path) -> None:
    probe = (
        "import atexit, sys\n"
        "def report():\n"
        "    heavy = {m.split('.')[0] for m in sys.modules} & {'azure', 'pyspark', 'mlflow', 'matplotlib', 'azureml_inference_server_http', 'gunicorn'}\n"
        "    sys.stderr.write('HEAVY:' + ','.join(sorted(heavy)) + '\\n')\n"
        "atexit.register(report)\n"
        "sys.argv = ['mlspec', *sys.argv[1:]]\n"
        f"__file__ = {str(SYNTHETIC_CLI)!r}\n"
        f"exec(compile(open(__file__).read(), __file__, 'exec'))\n"
    )
    for args in (["plan", "--env", "dev"], ["apply", "--env", "dev", "--auto-approve"]):
        result = subprocess.run(
            [sys.executable, "-c", probe, *args],
            cwd=shop.parent,
            env=cli_env(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert "HEAVY:\n" in result.stderr, result.stderr


def test_detailed_exitcode_turns_a_flag_error_into_1_not_the_changes_code(tmp_path: Path) -> None:
    """2 means "changes present" with --detailed-exitcode, so a usage error there must be 1."""
    import subprocess
    import sys

    command = [sys.executable, "-m", "mlspec", "plan", str(tmp_path / "mlproject.yaml"), "--bogus"]
    assert subprocess.run([*command, "--detailed-exitcode"], capture_output=True, check=False).returncode == 1
    assert subprocess.run(command, capture_output=True, check=False).returncode == 2
