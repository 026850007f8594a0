"""Rules that used to surface only in `build`: `validate` must refuse what a build or deploy would refuse."""

from __future__ import annotations

from .spec_text import Validate, contract_with

LATENCY = (
    '{name: high-latency, signal: latency_p95_ms, operator: ">", threshold: 250, window: 5m, severity: 2}'
)
RETRAIN = '    schedule: "0 3 * * 1"        # cron, UTC\n'


def test_log_alert_window_beyond_two_days_is_refused(validate: Validate) -> None:
    text = contract_with((LATENCY, LATENCY.replace("window: 5m", "window: 30d")))
    found = validate(text).only(
        "MLS415",
        "window '30d' (P30D) is not one Azure Monitor accepts for latency_p95_ms, a log alert; log alerts look back at most P2D",
        "30d",
    )
    assert found.hint is not None and "P2D" in found.hint


def test_log_alert_window_between_allowed_steps_is_refused(validate: Validate) -> None:
    text = contract_with((LATENCY, LATENCY.replace("window: 5m", "window: 20m")))
    validate(text).only("MLS415", "window '20m' (PT20M) is not one Azure Monitor accepts", "20m")


def test_statistic_signals_take_any_window_and_log_alerts_their_allowed_ones(validate: Validate) -> None:
    text = contract_with((LATENCY, LATENCY.replace("window: 5m", "window: 2d")))
    validate(text).assert_clean()  # the contract's own drift (1d) and model_metric (7d) alerts stay valid


def test_metric_alert_windows_are_checked_against_the_metric_set(validate: Validate) -> None:
    traffic = '{name: quiet, signal: request_rate, operator: "<", threshold: 1, window: 2d, severity: 3}'
    text = contract_with(
        (
            "  log_analytics: log-ml-${environment.name}\n",
            "  log_analytics: log-ml-${environment.name}\n"
            "  application_insights: appi-ml-${environment.name}\n",
        ),
        (LATENCY, LATENCY + "\n    - " + traffic),
    )
    validate(text).only(
        "MLS415", "window '2d' (P2D) is not one Azure Monitor accepts for request_rate, a metric alert", "2d"
    )


def test_cpu_alerts_are_log_alerts_over_the_pods_and_refuse_windows_past_two_days(validate: Validate) -> None:
    cpu = '{name: hot-pods, signal: cpu_percent, operator: ">", threshold: 80, window: 3d, severity: 3}'
    text = contract_with((LATENCY, LATENCY + "\n    - " + cpu))
    validate(text).only(
        "MLS415",
        "window '3d' (P3D) is not one Azure Monitor accepts for cpu_percent, a log alert; log alerts look back at most P2D",
        "3d",
    )
    validate(contract_with((LATENCY, LATENCY + "\n    - " + cpu.replace("3d", "2d")))).assert_clean()


def test_alert_triggered_retraining_without_a_schedule_is_refused(validate: Validate) -> None:
    text = contract_with((RETRAIN, ""))
    found = validate(text).only(
        "MLS311",
        "alert-triggered retraining (feature-drift, auc-drop) needs monitoring.retrain.schedule",
        "on_alerts",
    )
    assert found.hint is not None and "cron" in found.hint


def test_key_auth_without_a_key_vault_is_refused(validate: Validate) -> None:
    text = contract_with(
        ("  key_vault: kv-churn-${environment.name}\n", ""),
        (
            '    crm_api_key: {key_vault: "${workspace.key_vault}", name: crm-api-key}',
            "    crm_api_key: {key_vault: kv-other, name: crm-api-key}",
        ),
        ("  secrets: [crm_api_key]", "  secrets: []"),
    )
    validate(text).only("MLS316", "auth: key needs workspace.key_vault", "key  ")
