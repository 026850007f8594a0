# The two commands the README opens with: `make demo` (the main job, `mlspec run`, on the embedded
# local default) and `make test` (what CI runs via .ci/run). Both install what they need.
PYTHON ?= python3
PIP := $(PYTHON) -m pip
EXAMPLE ?= projects/churn

.PHONY: install install-local install-test demo test lint typecheck unit golden bench schema diagnostics

install:
	$(PIP) install -q -c constraints.txt -e .

install-local:
	$(PIP) install -q -c constraints.txt -e ".[local]"

# Checkov in a virtualenv of its own (its dependencies clash with mlspec's pins), pinned with its closure;
# tests/compiler/test_image_scanners.py runs it from MLSPEC_CHECKOV (and fails in CI without it).
CHECKOV_VENV ?= $(or $(TMPDIR),/tmp)/mlspec-checkov-venv

install-test:
	$(PIP) install -q -c constraints.txt -e ".[test,azure-checks,local,state-azure,azure]"
	npm install --silent --no-audit --no-fund --prefix .ci/node azurite@3.35.0 >/dev/null
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install -q -c .ci/checkov-constraints.txt "checkov==3.3.30"

# `python3 -m mlspec` rather than the `mlspec` script: on a fresh pyenv machine a new console
# script is not on PATH until a rehash.
MLSPEC := $(PYTHON) -m mlspec

# validate every example, then run the whole chain of one on the local engines (build, apply,
# seed → transforms → train → serve → monitor → retrain → report); it ends naming the report.
# The examples' Key Vault secrets have no value on this machine: the demo gives them stand-ins (a
# local run takes secrets from .mlspec/secrets.yaml or MLSPEC_SECRET_<NAME>; docs/run.md).
DEMO_SECRETS := MLSPEC_SECRET_CRM_API_KEY=local-demo MLSPEC_SECRET_APPINSIGHTS_CONNECTION_STRING=local-demo \
	MLSPEC_SECRET_EHR_CLIENT_CERTIFICATE=local-demo MLSPEC_SECRET_SORTING_LINE_API_KEY=local-demo

demo: install-local
	$(MLSPEC) validate projects
	env $(DEMO_SECRETS) $(MLSPEC) run $(EXAMPLE)/mlproject.yaml

lint:
	$(PYTHON) -m ruff check mlspec tests bench scripts projects
	$(PYTHON) -m ruff format --check mlspec tests bench scripts projects

typecheck:
	$(PYTHON) -m mypy mlspec

# pytest exits 5 when it collected no test: that is a failure here, as any non-zero exit.
unit:
	MLSPEC_CHECKOV=$(CHECKOV_VENV)/bin/checkov $(PYTHON) -m pytest -q -p no:cacheprovider

test: install-test lint typecheck unit

golden:
	$(PYTHON) tests/compiler/golden.py --update

schema:
	$(PYTHON) -m mlspec.spec_schema.export

# docs/diagnostics.md from the registry of codes in mlspec/diagnostic_codes/ (a test fails when it is stale).
diagnostics:
	$(PYTHON) -m mlspec.diagnostic_codes --write docs/diagnostics.md

bench:
	$(PYTHON) bench/validate.py
	$(PYTHON) bench/build.py
	$(PYTHON) bench/plan.py
	$(PYTHON) bench/run.py
