"""Portkey configs, one per routed task (`portkey/<task>.json`).

Failover follows the measured recipe (docs/runtime-facts.md, "Failover"): `fallback` moves to the next
target on 408 (timeout) and the retryable codes at once, `retry.attempts: 0` on every target but the
last of a chain, and the route's retry budget only on the last target, where no healthy alternative
is left. A top-level `retry` would apply to every target: 7 s per request while a primary is down.

How a target names its provider depends on the gateway that serves the environment:

- `model_catalog` (staging, prod: Portkey's hosted gateway): `override_params.model: "@<slug>/<model>"`,
  the Model Catalog provider the Pulumi program creates with that fixed slug (Portkey's recommended
  form, valid inside multi-target strategies). Every strategy also carries Portkey's circuit breaker
  (`cb_config`), which takes a failing target out for the spec's cooldown instead of letting every
  request pay its timeout (the weakness docs/benchmarks.md measures for a hanging primary).
- `custom_host` (local: the OSS gateway, which has no catalog and no circuit breaker): the provider
  id and its URL.
"""

from __future__ import annotations

from typing import Any

from gateway_config.resolve import PORTKEY_AI_PROVIDERS, Branch, ResolvedEnvironment, ResolvedTarget, ResolvedTask

# Portkey answers a target's timeout with 408; without it here a hanging primary never fails over.
TIMEOUT_STATUS = 408
# Portkey's documented bounds of `cb_config` (config object schema): at least one failure opens the
# breaker, and an open target stays out for at least 30 s.
CB_MIN_FAILURE_THRESHOLD = 1
CB_MIN_COOLDOWN_MS = 30_000


def _target(target: ResolvedTarget, retry: dict[str, Any]) -> dict[str, Any]:
    if target.portkey_provider is not None:
        return {
            "override_params": {"model": f"@{target.portkey_provider}/{target.provider_model}"},
            "request_timeout": round(target.timeout_seconds * 1000),
            "retry": retry,
        }
    # The OSS gateway has no Model Catalog: it is told the provider and where to reach it.
    return {
        "custom_host": target.base_url,
        "override_params": {"model": target.provider_model},
        "provider": PORTKEY_AI_PROVIDERS[target.provider_kind],
        "request_timeout": round(target.timeout_seconds * 1000),
        "retry": retry,
    }


def failure_status_codes(task: ResolvedTask) -> list[int]:
    """The statuses that fail a target over, and that count against it in the circuit breaker."""
    return sorted({TIMEOUT_STATUS, *task.retry.on_status_codes})


def circuit_breaker(task: ResolvedTask) -> dict[str, Any]:
    """Portkey's `cb_config` from the spec: like LiteLLM's `allowed_fails: 0`, the first failure takes a
    target out, for the spec's cooldown (raised to Portkey's 30 s minimum)."""
    return {
        "cooldown_interval": max(CB_MIN_COOLDOWN_MS, task.cooldown_seconds * 1000),
        "failure_status_codes": failure_status_codes(task),
        "failure_threshold": CB_MIN_FAILURE_THRESHOLD,
    }


def _strategy(task: ResolvedTask, mode: str, hosted: bool) -> dict[str, Any]:
    strategy: dict[str, Any] = {"mode": mode}
    if mode == "fallback":
        strategy["on_status_codes"] = failure_status_codes(task)
    if hosted:
        strategy["cb_config"] = circuit_breaker(task)
    return strategy


def _chain(task: ResolvedTask, branch: Branch) -> list[dict[str, Any]]:
    last_retry = {"attempts": task.retry.attempts, "on_status_codes": sorted(task.retry.on_status_codes)}
    return [
        _target(target, last_retry if index == len(branch.chain) - 1 else {"attempts": 0})
        for index, target in enumerate(branch.chain)
    ]


def portkey_config(task: ResolvedTask) -> dict[str, Any]:
    """The Portkey config for one task, as data."""
    hosted = any(target.portkey_provider is not None for target in task.targets)
    if len(task.branches) == 1:
        config: dict[str, Any] = {
            "strategy": _strategy(task, "fallback", hosted),
            "targets": _chain(task, task.branches[0]),
        }
    else:
        subtrees = []
        for branch in task.branches:
            weight = round(branch.percent / 100.0, 6)
            chain = _chain(task, branch)
            if len(chain) == 1:
                subtrees.append({"weight": weight, **chain[0]})
            else:
                subtrees.append({"weight": weight, "strategy": _strategy(task, "fallback", hosted), "targets": chain})
        config = {"strategy": _strategy(task, "loadbalance", hosted), "targets": subtrees}
    if task.cache.mode != "off":
        config["cache"] = {"mode": task.cache.mode, "max_age": task.cache.ttl_seconds}
    return config


def portkey_configs(environment: ResolvedEnvironment) -> dict[str, dict[str, Any]]:
    """Task name -> Portkey config, for every task the gateway routes."""
    return {task.name: portkey_config(task) for task in environment.gateway_tasks}
