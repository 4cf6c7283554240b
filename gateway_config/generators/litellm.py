"""The LiteLLM proxy config (`litellm/config.yaml`).

One model group per routed task, named as the task. Its deployments carry `order`: the router sends
traffic to the lowest order that is not cooling down, so a dead primary is skipped at once and the
next target serves. Experiment and loadbalance shares become `weight` among the first targets.

Secrets and infrastructure endpoints are `os.environ/NAME` references only, so one file runs in a
pod (env from Kubernetes Secrets) and on a laptop (env from `make run`).
"""

from __future__ import annotations

from typing import Any

from gateway_config.resolve import ResolvedEnvironment, ResolvedTarget, ResolvedTask

REDIS_ENV = {"host": "os.environ/REDIS_HOST", "port": "os.environ/REDIS_PORT", "password": "os.environ/REDIS_PASSWORD"}
MASTER_KEY_ENV = "os.environ/LITELLM_MASTER_KEY"
SEMANTIC_CACHE_GROUP = "semantic-cache-embedding"

# LiteLLM's exception classes, as its RetryPolicy names them. Failures that another target can
# absorb: with an alternative in the group, retrying the same target only delays the failover.
FAILOVER_ERRORS = (
    "InternalServerErrorRetries",
    "RateLimitErrorRetries",
    "TimeoutErrorRetries",
)
# Failures that the next target cannot fix (the request itself is wrong).
NON_RETRYABLE_ERRORS = ("AuthenticationErrorRetries", "BadRequestErrorRetries", "ContentPolicyViolationErrorRetries")


def _model_prefix(target: ResolvedTarget) -> str:
    return {"openai": "openai", "anthropic": "anthropic", "openrouter": "openrouter"}[target.provider_kind]


def _api_base(target: ResolvedTarget) -> str:
    # LiteLLM appends `/v1/messages` to an Anthropic api_base; the spec's URL already ends in /v1
    # (as Portkey's custom_host requires), so it is dropped here rather than sent twice.
    if target.provider_kind == "anthropic":
        return target.base_url.removesuffix("/v1")
    return target.base_url


def deployment_orders(task: ResolvedTask) -> list[tuple[ResolvedTarget, int, float | None]]:
    """(target, order, weight) for each distinct target of a task.

    Order 1 holds the first target of every branch, weighted by the branch shares; the rest follow
    in the order a request meets them. Weights are only written where traffic is split.
    """
    first_share: dict[str, float] = {}
    for branch in task.branches:
        model = branch.chain[0].model
        first_share[model] = first_share.get(model, 0.0) + branch.percent
    split = len(first_share) > 1
    rows: list[tuple[ResolvedTarget, int, float | None]] = []
    next_order = 2
    for target in task.targets:
        if target.model in first_share:
            rows.append((target, 1, round(first_share[target.model], 6) if split else None))
        else:
            rows.append((target, next_order, None))
            next_order += 1
    return rows


def _deployment(task: ResolvedTask, target: ResolvedTarget, order: int, weight: float | None) -> dict[str, Any]:
    params: dict[str, Any] = {
        "model": f"{_model_prefix(target)}/{target.provider_model}",
        "api_base": _api_base(target),
        "api_key": f"os.environ/{target.api_key_env}",
        "order": order,
        "timeout": target.timeout_seconds,
        "stream_timeout": target.timeout_seconds,
    }
    if weight is not None:
        params["weight"] = weight
    return {
        "model_name": task.name,
        "litellm_params": params,
        "model_info": {"id": f"{task.name}/{target.model}", "task": task.name, "target_model": target.model},
    }


def _retry_policy(task: ResolvedTask) -> dict[str, int]:
    has_alternative = len(task.targets) > 1
    policy = {name: 0 if has_alternative else task.retry.attempts for name in FAILOVER_ERRORS}
    policy.update({name: 0 for name in NON_RETRYABLE_ERRORS})
    return policy


def _cache_params(environment: ResolvedEnvironment) -> dict[str, Any] | None:
    cache = environment.defaults.cache
    if cache.mode == "off":
        return None
    params: dict[str, Any] = {**REDIS_ENV, "ttl": cache.ttl_seconds}
    if cache.mode == "semantic":
        params["type"] = "redis-semantic"
        params["similarity_threshold"] = cache.similarity_threshold
        params["redis_semantic_cache_embedding_model"] = SEMANTIC_CACHE_GROUP
    else:
        params["type"] = "redis"
    return params


def _semantic_cache_deployment(environment: ResolvedEnvironment) -> list[dict[str, Any]]:
    """LiteLLM's semantic cache embeds each prompt through a model group of the same proxy."""
    target = environment.cache_embedding_target
    if environment.defaults.cache.mode != "semantic" or target is None:
        return []
    return [
        {
            "model_name": SEMANTIC_CACHE_GROUP,
            "litellm_params": {
                "model": f"{_model_prefix(target)}/{target.provider_model}",
                "api_base": _api_base(target),
                "api_key": f"os.environ/{target.api_key_env}",
                "timeout": target.timeout_seconds,
            },
            "model_info": {"id": f"{SEMANTIC_CACHE_GROUP}/{target.model}"},
        }
    ]


def litellm_config(environment: ResolvedEnvironment) -> dict[str, Any]:
    """The LiteLLM proxy config for one environment, as data."""
    tasks = environment.gateway_tasks
    model_list = [
        _deployment(task, target, order, weight) for task in tasks for target, order, weight in deployment_orders(task)
    ]
    model_list += _semantic_cache_deployment(environment)
    defaults = environment.defaults
    router_settings: dict[str, Any] = {
        "routing_strategy": "simple-shuffle",
        "num_retries": defaults.retry.attempts,
        "retry_after": 0,
        "timeout": defaults.request_timeout_seconds,
        # 0 allowed fails: one failure cools a target down. (3, the default, counts as unset and the
        # router then waits for >= 50 % failures over >= 5 requests a minute.)
        "allowed_fails": 0,
        "cooldown_time": defaults.cooldown_seconds,
        "model_group_retry_policy": {task.name: _retry_policy(task) for task in tasks},
        # Shared router state: what one replica learns about a dead target, the others use.
        "redis_host": REDIS_ENV["host"],
        "redis_port": REDIS_ENV["port"],
        "redis_password": REDIS_ENV["password"],
    }
    litellm_settings: dict[str, Any] = {
        "callbacks": ["prometheus"],
        "request_timeout": defaults.request_timeout_seconds,
        "num_retries": defaults.retry.attempts,
    }
    cache_params = _cache_params(environment)
    litellm_settings["cache"] = cache_params is not None
    if cache_params is not None:
        litellm_settings["cache_params"] = cache_params
    return {
        "model_list": model_list,
        "router_settings": router_settings,
        "litellm_settings": litellm_settings,
        "general_settings": {"master_key": MASTER_KEY_ENV},
    }
