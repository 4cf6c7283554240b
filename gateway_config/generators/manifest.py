"""`routing.json`: the manifest clients read to find both routes for a task.

A client names a task, never a model: the manifest tells it the LiteLLM model group (in-cluster
gateway), the Portkey config (hosted gateway; its saved-config slug is created by `pulumi up` and
published in the ESC app environment), the targets behind them, and the limits it should expect.
Embedding tasks run in Snowflake Cortex next to the data and say so instead.

For a `model_catalog` environment it also states the Portkey control plane the Pulumi program
creates: each Model Catalog provider (slug, the integration holding its key, rate limit, credit
limit) and the budgets Portkey enforces.
"""

from __future__ import annotations

from typing import Any

from gateway_config.resolve import (
    CORTEX_EMBED_FUNCTIONS,
    ResolvedEnvironment,
    ResolvedPortkeyProvider,
    ResolvedTarget,
    ResolvedTask,
)


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
    if target.portkey_provider is not None:
        entry["portkey_provider"] = target.portkey_provider
    return entry


def _traffic(task: ResolvedTask) -> list[dict[str, Any]]:
    return [
        {"branch": branch.label, "percent": branch.percent, "chain": [target.model for target in branch.chain]}
        for branch in task.branches
    ]


def longest_request_seconds(task: ResolvedTask, embedding: ResolvedTarget | None) -> float:
    """An upper bound of the time one request of ``task`` spends in provider calls.

    Every attempt of the retry budget may walk the whole chain (a cooldown expires while a long
    request is still retrying), each target at its own timeout; a semantic cache embeds the prompt
    first. The engine's waits between retries come on top (runtime/engines.py).
    """
    chain = sum(target.timeout_seconds for target in task.targets)
    embed = embedding.timeout_seconds if embedding is not None and task.cache.mode == "semantic" else 0.0
    return round(embed + (1 + task.retry.attempts) * chain, 3)


def _task_entry(task: ResolvedTask, embedding: ResolvedTarget | None) -> dict[str, Any]:
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
            "longest_request_seconds": longest_request_seconds(task, embedding),
            "connection_pool": task.connection_pool,
            # True: the task's prompts reach only its own route's providers (no cache, no embedding).
            "prompts_stay_on_route": task.prompts_stay_on_route,
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


def _portkey_provider_entry(entry: ResolvedPortkeyProvider) -> dict[str, Any]:
    return {
        "name": entry.name,
        "description": entry.description,
        "provider": entry.provider,
        "ai_provider_id": entry.ai_provider_id,
        "integration": entry.integration,
        "api_key_env": entry.api_key_env,
        "rate_limit": entry.rate_limit.model_dump(mode="json") if entry.rate_limit else None,
        "credit_limit_usd_monthly": entry.credit_limit_usd_monthly,
        "tasks": list(entry.tasks),
    }


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
        # How the generated Portkey configs name their targets: `model_catalog` (`@slug/model`: only
        # Portkey's hosted gateway resolves them) or `custom_host` (any Portkey gateway, the OSS one included).
        "portkey_targets": environment.portkey_targets,
        "portkey_providers": {entry.slug: _portkey_provider_entry(entry) for entry in environment.portkey_providers},
        "providers": _providers(environment),
        "budget_usd_monthly": environment.budget_usd_monthly,
        "budget_alert_threshold_percent": environment.budget_alert_threshold_percent,
        "slos": environment.slos.model_dump(mode="json"),
        # The environment's shared cache (one per gateway, every task that keeps it on shares it).
        "shared_cache": {
            "mode": environment.defaults.cache.mode,
            "embedding_model": environment.cache_embedding_target.model if environment.cache_embedding_target else None,
        },
        "tasks": {task.name: _task_entry(task, environment.cache_embedding_target) for task in environment.tasks},
        "applications": _applications(environment),
    }
