"""`routing.json`: the manifest clients read to find both routes for a task.

A client names a task, never a model: the manifest tells it the LiteLLM model group (in-cluster
gateway), the Portkey config (hosted gateway; the config slug joins when Portkey configs are
provisioned), the targets behind them, and the limits it should expect. Embedding tasks run in
Snowflake Cortex next to the data and say so instead.
"""

from __future__ import annotations

from typing import Any

from gateway_config.resolve import CORTEX_EMBED_FUNCTIONS, ResolvedEnvironment, ResolvedTarget, ResolvedTask


def cortex_function(target: ResolvedTarget) -> str:
    """The SQL function that serves a Cortex model: EMBED_TEXT_<dims> for embeddings, else COMPLETE."""
    if target.embedding_dimensions is not None:
        return CORTEX_EMBED_FUNCTIONS[target.embedding_dimensions]
    return "SNOWFLAKE.CORTEX.COMPLETE"


def _target_entry(target: ResolvedTarget) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "model": target.model,
        "provider": target.provider,
        "provider_model": target.provider_model,
        "timeout_seconds": target.timeout_seconds,
    }
    if target.virtual_key is not None:
        entry["virtual_key"] = target.virtual_key
    return entry


def _traffic(task: ResolvedTask) -> list[dict[str, Any]]:
    return [
        {"branch": branch.label, "percent": branch.percent, "chain": [target.model for target in branch.chain]}
        for branch in task.branches
    ]


def _task_entry(task: ResolvedTask) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "description": task.description,
        "tier": task.tier,
        "route": task.route,
        "budget_usd_monthly": task.budget_usd_monthly,
    }
    if task.route == "snowflake_cortex":
        target = task.targets[0]
        entry["cortex"] = {
            "model": target.provider_model,
            "function": cortex_function(target),
        }
        return entry
    entry.update(
        {
            "litellm_model_group": task.name,
            "portkey_config": f"portkey/{task.name}.json",
            "targets": [_target_entry(target) for target in task.targets],
            "traffic": _traffic(task),
            "experiments": [
                {"name": e.name, "kind": e.kind, "traffic_percent": e.traffic_percent, "variant": e.variant}
                for e in task.experiments
            ],
            "cache": task.cache.model_dump(mode="json"),
            "retry": task.retry.model_dump(mode="json"),
            "request_timeout_seconds": task.request_timeout_seconds,
            "connection_pool": task.connection_pool,
        }
    )
    return entry


def _providers(environment: ResolvedEnvironment) -> dict[str, dict[str, Any]]:
    """Every provider the environment routes to: its wire format, URL and the variable of its key.

    Consumers (the Pulumi program mounting keys, the local runner rewriting endpoints) read these
    facts here instead of re-deriving them from the engine configs.
    """
    providers: dict[str, dict[str, Any]] = {}
    for task in environment.tasks:
        for target in task.targets:
            providers.setdefault(
                target.provider,
                {"kind": target.provider_kind, "base_url": target.base_url, "api_key_env": target.api_key_env},
            )
    return dict(sorted(providers.items()))


def _applications(environment: ResolvedEnvironment) -> dict[str, dict[str, Any]]:
    """Who may call the in-cluster gateway: each application's tasks and the variable holding its key
    (the Pulumi program generates the keys into Secrets; the gateway's auth hook reads this section)."""
    return {
        application.name: {
            "description": application.description,
            "tasks": list(application.tasks),
            "key_env": application.key_env,
        }
        for application in environment.applications
    }


def routing_manifest(environment: ResolvedEnvironment) -> dict[str, Any]:
    """The manifest for one environment, as data."""
    return {
        "generated_by": "python -m gateway_config build (from gateway_config/routing.yaml); do not edit",
        "environment": environment.name,
        # How the generated Portkey configs name their targets: `virtual_key` (only Portkey's hosted
        # gateway resolves them) or `custom_host` (any Portkey gateway, the OSS one included).
        "portkey_targets": environment.portkey_targets,
        "providers": _providers(environment),
        "budget_usd_monthly": environment.budget_usd_monthly,
        "slos": environment.slos.model_dump(mode="json"),
        "tasks": {task.name: _task_entry(task) for task in environment.tasks},
        "applications": _applications(environment),
    }
