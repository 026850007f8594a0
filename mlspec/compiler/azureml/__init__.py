"""Azure ML renderer: environment, compute, command components, the training pipeline job,
the retrain schedule and the model monitor schedule, rendered into ``azureml/``.

``render(ctx, out)`` writes the artifacts and resources; ``check(ctx, out)`` is mlspec's own
check of them (bindings, declarations, cron, monitor metrics) for what the SDK misses.

Training with ``script:``: the team's script is copied into the train step's code folder
(``src/train/team/``) and called as
``python <script> --train-data DIR --target COLUMN --features A,B,C --model-output DIR [--params JSON]``:
``--train-data`` holds ``train.parquet``, ``--features`` is comma-separated, the script must
save an MLflow model into the empty ``--model-output`` folder, and ``--params`` (the spec's
``params`` as a JSON object) comes only when the spec sets params.

Importing this package imports neither the Azure SDK nor MLflow nor scikit-learn: the
generated scripts import those where they run.
"""

from mlspec.compiler.azureml.checks import check
from mlspec.compiler.azureml.render import provides, render

__all__ = ["check", "provides", "render"]
