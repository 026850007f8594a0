"""What makes checking every environment cheap, without changing what it finds.

Interpolation hands every environment the very same object for a part of the spec it leaves
unchanged (and never changes the document); validating leaves no reference cycles behind, so each
document, with its YAML node tree, is freed as soon as its check ends rather than at the garbage
collector's next full pass.
"""

from __future__ import annotations

import copy
import gc

from mlspec import api
from mlspec.spec_schema.loader import parse_spec

from .spec_text import CONTRACT, CONTRACT_PATH, contract_with


def test_parts_without_references_are_shared_and_the_rest_is_interpolated() -> None:
    document = parse_spec(CONTRACT, "spec.yaml")
    written = copy.deepcopy(document.data)
    dev, prod = (api.resolve(document, env, environ={}).spec.data for env in ("dev", "prod"))
    # No ${...} anywhere in them: the document's own objects.
    for section in ("project", "model", "monitoring", "reports"):
        assert dev[section] is document.data[section] is prod[section], section
    # References: each environment its own value, the document as written.
    assert dev["workspace"]["resource_group"] == "rg-churn-dev"
    assert prod["workspace"]["resource_group"] == "rg-churn-prod"
    assert document.data["workspace"]["resource_group"] == "rg-churn-${environment.name}"
    # A mapping with a reference deep inside is a new object; its untouched siblings are shared.
    customer_features = document.data["transforms"]["customer_features"]
    assert dev["transforms"]["customer_features"] is not customer_features
    assert dev["transforms"]["customer_features"]["spark"] is customer_features["spark"]
    assert prod["transforms"]["customer_features"]["output"]["path"].startswith(
        "abfss://curated@contosolakeprod."
    )
    # The overlay's own value, merged over the base.
    assert prod["deployment"]["replicas"]["min"] == 3
    assert dev["deployment"]["replicas"]["min"] == 2
    assert document.data == written


def test_a_reference_added_to_a_shared_part_is_still_interpolated() -> None:
    text = contract_with(("  name: churn-classifier\n", "  name: churn-${environment.name}\n"))
    document = parse_spec(text, "spec.yaml")
    dev = api.resolve(document, "dev", environ={})
    assert dev.ok, dev.diagnostics
    assert dev.spec.data["model"]["name"] == "churn-dev"
    assert dev.spec.data["model"] is not document.data["model"]
    assert dev.spec.data["model"]["training"] is document.data["model"]["training"]


def test_validating_leaves_no_reference_cycles() -> None:
    api.validate_file(CONTRACT_PATH, environ={})  # first use imports and fills caches
    invalid = contract_with(("executor_size: Small", "executor_size: Smalll"))
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(3):
            assert api.validate_file(CONTRACT_PATH, environ={}).ok
            document = parse_spec(invalid, "spec.yaml")
            assert not api.resolve(document, "prod", environ={}).ok
            del document
        assert gc.collect() == 0
    finally:
        if was_enabled:
            gc.enable()
