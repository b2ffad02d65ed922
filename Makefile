# Everything runs from a project-local virtualenv that the first target builds.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat requirements-dev.txt layers/shared/requirements.txt cli/pyproject.toml | cksum | cut -d' ' -f1)
PORT   ?= 3000

.PHONY: help venv serve demo bench test test-unit test-integration test-e2e openapi lint validate clean

help:
	@echo "make demo     run the service locally and write sample emails for events/sample_leads.json"
	@echo "make bench    timings, dispatch latency, import times, sizes, tokens and cost on the local stack (bench/RESULTS.md)"
	@echo "make test     the whole test suite (unit, integration on moto, end to end on the local stack)"
	@echo "make serve    the service on 127.0.0.1:\$$PORT (default 3000) until Ctrl-C"
	@echo "               with it running: .venv/bin/outreach --help (the command-line client, installed by make)"
	@echo "make openapi  write the API's OpenAPI document (generated from the routes in layers/shared/outreach/api/) to openapi.json"
	@echo "make lint     static checks: cfn-lint on template.yaml, ruff check on the Python (rules in pyproject.toml)"
	@echo "make validate sam validate --lint (installs aws-sam-cli in .venv-sam)"

# Lambda runs python3.12: prefer it, accept 3.11+ (pyenv machines keep 3.12 behind PYENV_VERSION).
$(STAMP): requirements-dev.txt layers/shared/requirements.txt cli/pyproject.toml
	@PYBIN=$$(for c in python3.12 "env PYENV_VERSION=3.12.1 python3.12" python3.13 python3.11 python3; do \
	    if $$c -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; then echo "$$c"; break; fi; done); \
	  test -n "$$PYBIN" || { echo "Python 3.11 or newer is needed" >&2; exit 1; }; \
	  echo "creating $(VENV) with $$PYBIN"; \
	  test -x $(PY) || $$PYBIN -m venv $(VENV); \
	  $(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip && \
	  $(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt && \
	  $(PY) -m pip install --quiet --disable-pip-version-check -e ./cli && \
	  rm -f $(VENV)/.installed-* && touch $@

venv: $(STAMP)

serve: venv
	PORT=$(PORT) $(PY) -m local.serve

demo: venv
	$(PY) -m local.demo

bench: venv
	$(PY) -m bench.run

test: venv
	$(PY) -m pytest

test-unit: venv
	$(PY) -m pytest tests/unit

test-integration: venv
	$(PY) -m pytest tests/integration

test-e2e: venv
	$(PY) -m pytest tests/e2e

# The document is generated from the routes; tests/e2e/test_openapi.py fails when the committed file is stale.
openapi: venv
	PYTHONPATH=layers/shared $(PY) -c 'from outreach.api.resolver import write_openapi; write_openapi("openapi.json")'
	@echo "wrote openapi.json"

lint: venv
	$(VENV)/bin/cfn-lint template.yaml
	$(VENV)/bin/ruff check .

validate:
	@test -x .venv-sam/bin/sam || { \
	  PYBIN=$$(for c in python3.12 "env PYENV_VERSION=3.12.1 python3.12" python3.13 python3.11 python3; do \
	    if $$c -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; then echo "$$c"; break; fi; done); \
	  $$PYBIN -m venv .venv-sam && .venv-sam/bin/pip install --quiet --disable-pip-version-check aws-sam-cli==1.170.0; }
	.venv-sam/bin/sam validate --lint --region us-east-1

clean:
	rm -rf $(VENV) .venv-sam .local .aws-sam .pytest_cache
