"""Alert notifications and retrain wiring that the Azure Monitor build refuses or reads differently.

- MLS645 a webhook URL that carries a credential (it would be stored in the ARM template in clear)
- MLS646 an alert listed in ``retrain.on_alerts`` whose ``action`` says otherwise: it retrains (a warning)
- MLS648 more e-mail or webhook receivers than one action group takes (a warning)
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import parse_qsl, urlsplit

from mlspec.diagnostics import Diagnostic
from mlspec.spec_schema.checks.context import CheckContext

ACTION_GROUP_LIMITS = {"email": 1000, "webhook": 10}
"""Receivers of one kind an Azure Monitor action group takes (Azure Monitor's service limits: 1,000 e-mail
actions and 10 webhook actions per action group); all of ``monitoring.notify`` goes into one group."""

CREDENTIAL_QUERY = re.compile(r"(?i)^(?:sig|code|token|access_token|key|apikey|api-key|secret|password|sv)$")
"""Query parameters that carry a credential (SAS signatures, Functions keys, tokens)."""


def check_monitoring(ctx: CheckContext) -> Iterator[Diagnostic]:
    monitoring = ctx.model.monitoring
    if monitoring is None:
        return
    for i, url in enumerate(monitoring.notify.webhook):
        parts = urlsplit(url)
        keys = [k for k, _ in parse_qsl(parts.query, keep_blank_values=True)]
        if any(CREDENTIAL_QUERY.match(k) for k in keys) or "@" in parts.netloc:
            yield ctx.error(
                "MLS645",
                "this webhook URL carries a credential; it would be stored in the ARM template in clear",
                ("monitoring", "notify", "webhook", i),
                "use a webhook that authenticates otherwise (e.g. Entra ID), or a Logic App receiver",
            )
    for kind, limit in ACTION_GROUP_LIMITS.items():
        receivers = getattr(monitoring.notify, kind)
        if len(receivers) > limit:
            yield ctx.warning(
                "MLS648",
                f"{len(receivers)} {kind} receivers: an Azure Monitor action group takes at most {limit}, "
                "and the deploy of the project's action group would be refused",
                ("monitoring", "notify", kind),
                "notify a distribution list or one webhook that fans out (a Logic App, an incident tool)",
            )
    on_alerts = monitoring.retrain.on_alerts if monitoring.retrain else []
    for i, alert in enumerate(monitoring.alerts):
        if alert.name in on_alerts and alert.action != "retrain":
            yield ctx.warning(
                "MLS646",
                f"alert {alert.name!r} is in retrain.on_alerts but says action: {alert.action}; it retrains",
                ("monitoring", "alerts", i, "action"),
                "write action: retrain to say so",
            )
