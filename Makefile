# The README's two commands are `make run` and `make test`; both set up what they need first.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
# The pinned CDK CLI and Node 22 from package.json come first on PATH, ahead of the machine's Node.
export PATH := $(CURDIR)/node_modules/.bin:$(CURDIR)/$(VENV)/bin:$(PATH)
# The local engine evaluates JSONata with npm jsonata 2.0.6, which package.json pins: it uses
# this node_modules instead of installing its own copy into the user cache.
export IDEMPOTENT_WORKFLOWS_NODE_MODULES := $(CURDIR)/node_modules
# Hermetic: no AWS account is ever needed, and the user's AWS settings (profile, config and
# credentials files, endpoint, keys, region) are never read, so nothing can reach AWS.
unexport AWS_PROFILE AWS_DEFAULT_PROFILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
unexport AWS_SESSION_TOKEN AWS_SECURITY_TOKEN AWS_ENDPOINT_URL AWS_REGION AWS_CA_BUNDLE
unexport AWS_ROLE_ARN AWS_WEB_IDENTITY_TOKEN_FILE AWS_CONTAINER_CREDENTIALS_FULL_URI
unexport AWS_CONTAINER_CREDENTIALS_RELATIVE_URI
unexport $(filter AWS_ENDPOINT_URL_%,$(.VARIABLES))
export AWS_CONFIG_FILE := /dev/null
export AWS_SHARED_CREDENTIALS_FILE := /dev/null
export AWS_DEFAULT_REGION := us-east-1
export AWS_EC2_METADATA_DISABLED := true
export CDK_DISABLE_VERSION_CHECK := true
export CDK_DISABLE_CLI_TELEMETRY := true

.PHONY: setup run synth test fuzz typecheck docs snapshot-update clean bench

setup: $(VENV)/.installed node_modules/.installed

# Set-up is a no-op while the pinned files are unchanged (make compares the stamps' times).
# Exact versions come from constraints.txt; the library itself declares compatible ranges.
$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt pip
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[ministack]' \
		--group dev
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

synth: setup
	cdk synth --quiet

# First for real: MiniStack on 127.0.0.1, `cdk bootstrap` + `cdk deploy --all` with the pinned
# CLI, the demo through boto3, MiniStack stopped; then the same demo on the in-process engine.
run: synth
	$(PY) -m idempotent_workflows.examples.deployed_demo cdk.out
	$(PY) -m idempotent_workflows.examples.demo cdk.out

test: setup
# pytest also runs `make bench` in its quick mode (tests/test_bench.py: every figure computed),
# the wheel installed at the lowest and at the highest versions its ranges admit, used by a
# user's app (tests/test_wheel.py), and every Python snippet of the docs (tests/test_snippets.py).
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	HYPOTHESIS_PROFILE=ci $(PY) -m pytest

# Exploration, not CI: the property and differential suites with many more random examples
# (hypothesis profile "fuzz" in tests/conftest.py); failures are kept in .hypothesis/ to replay.
fuzz: setup
	HYPOTHESIS_PROFILE=fuzz $(PY) -m pytest tests/test_properties.py tests/test_jsonata_fidelity.py \
		tests/test_jsonata_engine.py tests/test_runtime_keys.py

typecheck: setup
	$(PY) -m mypy

docs: setup
	$(PY) docs/generate.py
	$(PY) docs/dashboard.py

snapshot-update: setup
	$(PY) -m pytest tests/test_snapshots.py --snapshot-update -n 0

clean:
	rm -rf cdk.out $(VENV) node_modules .pytest_cache .ruff_cache .mypy_cache .hypothesis build
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

# The numbers of README's Performance section, written to bench/results.json (minutes).
bench: setup
	$(PY) bench/benchmark.py
