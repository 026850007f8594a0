"""The pre-processing component of Azure ML's model monitor: the prediction log as an MLTable.

Azure ML's monitor reads its production data as a table of one row per scored input and windows it
itself; the scoring pods write JSON lines of whole requests. Each signal of ``schedules/monitor.yml``
therefore names this registered Spark component (``pre_processing_component``), which the monitor
runs with ``data_window_start``, ``data_window_end`` and the log folder, and whose output it reads.
The component's code is ``mlspec/runtime/prediction_log_preprocess.py`` byte for byte (PySpark only;
mlspec's tests run it on local PySpark).

Layout::

    azureml/components/prediction_log_preprocess.yml
    azureml/src/prediction_log_preprocess/preprocess.py
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

from mlspec.compiler.azureml.names import component_name, content_version, inert
from mlspec.spec_schema.models import ModelSpec

STEP = "prediction_log_preprocess"
PROGRAM = "preprocess.py"
SPARK_CONF = {
    "spark.driver.cores": 1,
    "spark.driver.memory": "2g",
    "spark.executor.cores": 2,
    "spark.executor.memory": "2g",
    "spark.executor.instances": 1,
}
"""The smallest serverless Spark session: a day of prediction log is small."""
CORRELATION_COLUMN = "correlationid"
PREDICTION_COLUMN = "prediction"


@cache
def program_text() -> str:
    """The program's source, read as a file (the compiler never imports the runtime)."""
    return resources.files("mlspec").joinpath("runtime", "prediction_log_preprocess.py").read_text("utf-8")


def component(spec: ModelSpec, tags: dict[str, str]) -> dict[str, Any]:
    """The Spark component with the inputs and output Azure ML's monitor passes to a pre-processor."""
    args = " ".join(
        [
            "--data_window_start ${{inputs.data_window_start}}",
            "--data_window_end ${{inputs.data_window_end}}",
            "--input_data ${{inputs.input_data}}",
            "--preprocessed_input_data ${{outputs.preprocessed_input_data}}",
        ]
    )
    return {
        "$schema": "https://azuremlschemas.azureedge.net/latest/sparkComponent.schema.json",
        "type": "spark",
        "name": component_name(spec.name, STEP),
        "version": content_version(program_text(), args, SPARK_CONF),
        "display_name": f"{inert(spec.name)} prediction log pre-processing",
        "description": "One row per scored input of the prediction log's records in the monitor's window.",
        "inputs": {
            "data_window_start": {"type": "string"},
            "data_window_end": {"type": "string"},
            "input_data": {"type": "uri_folder", "mode": "direct"},
        },
        "outputs": {"preprocessed_input_data": {"type": "mltable", "mode": "direct"}},
        "code": f"../src/{STEP}",
        "entry": {"file": PROGRAM},
        "args": args,
        "conf": dict(SPARK_CONF),
        "tags": tags,
    }
