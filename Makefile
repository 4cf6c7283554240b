# llm-gateway: one entry point for people and CI. Every target installs what it needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: help venv generate check validate lint test test-unit bench-build

help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $(STAMP)

venv: $(STAMP) ## create .venv with the pinned Pulumi/generator/test dependencies

validate: $(STAMP) ## validate gateway_config/routing.yaml
	$(PY) -m gateway_config validate

generate: $(STAMP) ## regenerate gateway_config/generated/ from the spec (commit the result)
	$(PY) -m gateway_config build

check: $(STAMP) ## fail if the committed generated tree is stale
	$(PY) -m gateway_config check

lint: $(STAMP) ## ruff
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check gateway_config

test-unit: $(STAMP) ## generator, spec and Pulumi tests (no gateway runtimes)
	$(VENV)/bin/pytest -q tests --ignore=tests/e2e

test: lint check ## everything CI runs: lint, stale-check, unit and end-to-end tests
	$(VENV)/bin/pytest -q tests

bench-build: $(STAMP) ## time the generator on the real spec and a synthetic 1,000-task spec
	$(PY) bench/bench_build.py
