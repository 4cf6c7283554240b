"""Portkey configs, one per routed task (`portkey/<task>.json`).

Failover follows the measured recipe (docs/runtime-facts.md, "Failover"): `fallback` moves to the next
target on 408 (timeout) and the retryable codes at once, `retry.attempts: 0` on every target but the
last of a chain, and the route's retry budget only on the last target, where no healthy alternative
is left. A top-level `retry` would apply to every target: 7 s per request while a primary is down.
"""

from __future__ import annotations

from typing import Any

from gateway_config.resolve import Branch, ResolvedEnvironment, ResolvedTarget, ResolvedTask

# Portkey answers a target's timeout with 408; without it here a hanging primary never fails over.
TIMEOUT_STATUS = 408
PORTKEY_PROVIDER = {"openai": "openai", "anthropic": "anthropic", "openrouter": "openrouter"}


def _target(target: ResolvedTarget, retry: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "override_params": {"model": target.provider_model},
        "request_timeout": round(target.timeout_seconds * 1000),
        "retry": retry,
    }
    if target.virtual_key is not None:
        entry["virtual_key"] = target.virtual_key
    else:
        # The OSS gateway has no virtual keys: it is told the provider and where to reach it.
        entry["provider"] = PORTKEY_PROVIDER[target.provider_kind]
        entry["custom_host"] = target.base_url
    return entry


def _fallback_strategy(task: ResolvedTask) -> dict[str, Any]:
    return {"mode": "fallback", "on_status_codes": sorted({TIMEOUT_STATUS, *task.retry.on_status_codes})}


def _chain(task: ResolvedTask, branch: Branch) -> list[dict[str, Any]]:
    last_retry = {"attempts": task.retry.attempts, "on_status_codes": sorted(task.retry.on_status_codes)}
    return [
        _target(target, last_retry if index == len(branch.chain) - 1 else {"attempts": 0})
        for index, target in enumerate(branch.chain)
    ]


def portkey_config(task: ResolvedTask) -> dict[str, Any]:
    """The Portkey config for one task, as data."""
    if len(task.branches) == 1:
        config: dict[str, Any] = {
            "strategy": _fallback_strategy(task),
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
                subtrees.append({"weight": weight, "strategy": _fallback_strategy(task), "targets": chain})
        config = {"strategy": {"mode": "loadbalance"}, "targets": subtrees}
    if task.cache.mode != "off":
        config["cache"] = {"mode": task.cache.mode, "max_age": task.cache.ttl_seconds}
    return config


def portkey_configs(environment: ResolvedEnvironment) -> dict[str, dict[str, Any]]:
    """Task name -> Portkey config, for every task the gateway routes."""
    return {task.name: portkey_config(task) for task in environment.gateway_tasks}
