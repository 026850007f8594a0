"""Azure Monitor: ``monitoring`` compiled into one ARM deployment template, ``monitor/alerts.json``.

The template holds, in this order (each a graph resource whose ``pointer`` is ``/resources/<i>``):

- the custom Log Analytics tables the log alerts read and the data collection endpoint and rule that
  fill them (``monitor.log_table.*``, ``monitor.data_collection_endpoint.*``,
  ``monitor.data_collection_rule.*``; columns documented in :mod:`.tables`);
- when an alert retrains, the retrain trigger (``monitor.retrain_trigger.<project>-retrain``, a Logic App)
  -- see :mod:`.retrain` for the chain and why no secret is in the template;
- the action groups (``monitor.action_group.<project>-notify`` with the e-mail and webhook receivers,
  ``monitor.action_group.<project>-retrain`` whose Logic App receiver is the trigger);
- one rule per alert: ``monitor.metric_alert.<alert>`` (Application Insights request rate) or
  ``monitor.log_alert.<alert>`` (KQL; CPU and memory of the scoring pods from Container Insights, see
  :mod:`.signals` for which is which).

An alert retrains when it says ``action: retrain`` or ``monitoring.retrain.on_alerts`` lists it; such an
alert notifies both groups and depends on ``aml.pipeline.<model>``. Windows map to ISO 8601
(``5m`` → ``PT5M``) and are never changed: what Azure does not accept is an error at the alert's line
(MLS415 in ``validate``, MLS640 here). A statistic alert (drift, data quality, model metric) keeps its
window in the query (the monitoring job's rows of that ``Window``), while the rule looks back at most
two days for the newest such row (see :mod:`.windows`).
"""

from __future__ import annotations

from mlspec.compiler.monitor.checks import check
from mlspec.compiler.monitor.template import provides, render

__all__ = ["check", "provides", "render"]
