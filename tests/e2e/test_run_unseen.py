"""``mlspec run`` on a project written here, unlike any example: other names, columns, formats, seed.

Iris flowers (scikit-learn's bundled copy) as JSON lines written by the test's own seed program,
one SQL transform into Parquet, a random forest with an accuracy gate, a deployment without Key
Vault secrets, drift and serving alerts, a report with a column chart and a table. Nothing in mlspec
may know any of these names.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from mlspec import api
from tests.e2e.conditions import needs_engines

pytestmark = [pytest.mark.slow, needs_engines]

SPEC = """\
apiVersion: mlspec/v1
project: {name: petals, description: Iris species from flower measurements, owner: botany@example.org}
workspace:
  subscription_id: 00000000-0000-0000-0000-000000000000
  resource_group: rg-petals
  location: northeurope
  machine_learning: mlw-petals
  synapse: syn-petals
  spark_pool: pool1
  key_vault: kv-petals
  container_registry: acrpetals
  kubernetes: aks-petals
  log_analytics: law-petals
  storage_account: herbarium
run: {seed: seed/make_flowers.py}
sources:
  flowers:
    path: abfss://field@herbarium.dfs.core.windows.net/measurements/
    format: json
transforms:
  flower_features:
    inputs: [flowers]
    sql: |
      SELECT flower_id, sepal_l, sepal_w, petal_l, petal_w,
             petal_l * petal_w AS petal_area, species
      FROM flowers WHERE petal_l IS NOT NULL
    output:
      path: abfss://lab@herbarium.dfs.core.windows.net/features/flowers/
      format: parquet
    expectations:
      - not_null: [flower_id, species]
      - unique: flower_id
      - row_count: {min: 140}
model:
  name: species-forest
  task: classification
  training:
    data: flower_features
    target: species
    features: [sepal_l, sepal_w, petal_l, petal_w, petal_area]
    estimator: sklearn.ensemble.RandomForestClassifier
    params: {n_estimators: 40, random_state: 1}
    split: {test_size: 0.3, seed: 3}
  evaluation:
    metrics: [accuracy, f1]
    gate: {accuracy: ">= 0.85"}
deployment:
  endpoint: species-api
  namespace: botany
  network: {internal_load_balancer: true, allow_from: [10.1.0.0/16]}
  log_predictions:
    path: abfss://lab@herbarium.dfs.core.windows.net/served/species/
monitoring:
  notify: {email: [botany@example.org]}
  alerts:
    - {name: petals-moved, signal: data_drift, features: [petal_l, petal_w], threshold: 0.3, window: 1d}
    - {name: server-errors, signal: error_rate, operator: ">", threshold: 0.05, window: 15m}
reports:
  - name: flora
    workspace: Botany
    tables: [flower_features]
    measures:
      flowers: {table: flower_features, expression: "COUNTROWS(flower_features)"}
      mean_petal: {table: flower_features, expression: "AVERAGE(flower_features[petal_l])", format: "0.00"}
    pages:
      - title: Petals
        visuals:
          - {type: card, title: Flowers measured, measure: flowers}
          - {type: column, title: Petal length by species, x: species, y: mean_petal}
          - {type: table, title: Sample, columns: [flower_id, species, petal_l]}
"""

SEED = '''\
"""Writes the iris measurements where MLSPEC_SOURCES says the flowers source lives."""
import json, os
from pathlib import Path
from sklearn.datasets import load_iris

target = Path(json.loads(os.environ["MLSPEC_SOURCES"])["flowers"]["path"])
target.mkdir(parents=True, exist_ok=True)
iris = load_iris()
with open(target / "part-0.json", "w") as out:
    for i, (row, label) in enumerate(zip(iris.data, iris.target)):
        out.write(json.dumps({"flower_id": f"f{i:03d}", "sepal_l": row[0], "sepal_w": row[1],
                              "petal_l": row[2], "petal_w": row[3],
                              "species": str(iris.target_names[label])}) + "\\n")
'''


def test_a_project_never_seen_runs_the_whole_chain(tmp_path: Path) -> None:
    project = tmp_path / "petals"
    (project / "seed").mkdir(parents=True)
    (project / "mlproject.yaml").write_text(SPEC, encoding="utf-8")
    (project / "seed" / "make_flowers.py").write_text(textwrap.dedent(SEED), encoding="utf-8")
    lake = tmp_path / "elsewhere-lake"

    record = api.run(project / "mlproject.yaml", lake=lake)

    assert record["status"] == "succeeded", record["error"]
    assert record["lake"] == str(lake.resolve())
    assert (lake / "herbarium" / "field" / "measurements" / "part-0.json").is_file()
    features = record["transforms"]["flower_features"]
    assert features["rows"] == 150 and features["format"] == "parquet"
    assert Path(features["path"]) == lake / "herbarium" / "lab" / "features" / "flowers"
    model = record["model"]
    assert model["version"] == "1" and model["metrics"]["accuracy"] >= 0.85
    serving = record["serving"]
    assert serving["rows"] == 45 and serving["status_counts"] == {"200": serving["requests"]}
    logged = [
        json.loads(line)
        for file in (lake / "herbarium" / "lab" / "served" / "species").glob("predictions-*.jsonl")
        for line in file.read_text().splitlines()
    ]
    assert sum(len(entry["predictions"]) for entry in logged) == 45
    assert {p for entry in logged for p in entry["predictions"]} <= {"setosa", "versicolor", "virginica"}
    monitoring = record["monitoring"]
    assert {"petal_l", "petal_w"} <= set(monitoring["drift"])
    assert {a["name"]: a["fired"] for a in monitoring["alerts"]} == {
        "petals-moved": False,
        "server-errors": False,
    }
    table = lake / "log-analytics" / "law-petals" / "MlspecModelMonitoring_CL"
    assert list(table.glob("*.parquet"))
    html = Path(record["report"]["path"]).read_text(encoding="utf-8")
    for title in ("Flowers measured", "Petal length by species", "Sample", "150"):
        assert title in html
