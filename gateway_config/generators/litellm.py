"""The LiteLLM proxy config (`litellm/config.yaml`) and the environment its process needs.

One model group per routed task, named as the task. Its deployments carry `order`: the router tries
order 1 and, inside the same request, falls to order 2 (an implicit fallback list), so alternatives
live in the group rather than in cross-group `fallbacks`. Experiment and loadbalance shares become
`weight` among the order-1 deployments.

Failover follows what was measured on LiteLLM 1.106 (docs/probe-litellm-portkey.md):
- `allowed_fails: 0` on each *deployment*: the first failure cools a target down, so the next
  requests skip it at once. At router level the same setting would also cool down the only
  deployment of a single-target group, which then fails instead of retrying.
- `num_retries` is the spec's retry budget. The router retries at once while the group has a healthy
  deployment and backs off exponentially only when none is left: exactly "fail over first, spend
  retries where no alternative remains".
- Router state lives in Redis, so what one replica learns about a dead target the others use. It has
  a Redis of its own (`STATE_REDIS_*`, never evicts), apart from the response cache (`CACHE_REDIS_*`,
  evicts under pressure), so a burst of cache writes cannot evict a cooldown. Both are reached as
  the ACL user `gateway`: `router_settings.redis_username` does not exist in LiteLLM 1.106 (it is
  dropped with a warning), the username goes in `cache_kwargs`; the semantic cache takes only a URL.

The client contract (docs/client-api.md) is enforced by two modules of project code that ship next
to the generated config (runtime/litellm/hooks/; the engine registry carries them into the pods): the
`custom_auth` hook (keys, routes, tasks) and a callback (request validation, error bodies). A target
cools down only on the upstream failures the spec's retry codes name, never on what a client sent.

Secrets and infrastructure endpoints are `os.environ/NAME` references only, so one file runs in a
pod (env from Kubernetes Secrets) and on a laptop (env from `make run`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from gateway_config.resolve import ResolvedEnvironment, ResolvedTarget, ResolvedTask
from gateway_config.runtime_env import (
    CACHE_REDIS_HOST,
    CACHE_REDIS_PASSWORD,
    CACHE_REDIS_PORT,
    CACHE_REDIS_URL,
    MASTER_KEY,
    REDIS_USERNAME,
    REQUEST_LOG_BUCKET,
    REQUEST_LOG_ENDPOINT,
    REQUEST_LOG_PREFIX,
    REQUEST_LOG_REGION,
    S3_FLUSH_INTERVAL,
    STATE_REDIS_HOST,
    STATE_REDIS_PASSWORD,
    STATE_REDIS_PORT,
    env_reference,
)
from gateway_config.spec import Cache

CACHE_REDIS = {
    "host": env_reference(CACHE_REDIS_HOST),
    "port": env_reference(CACHE_REDIS_PORT),
    "username": REDIS_USERNAME,
    "password": env_reference(CACHE_REDIS_PASSWORD),
}
STATE_REDIS = {
    "host": env_reference(STATE_REDIS_HOST),
    "port": env_reference(STATE_REDIS_PORT),
    "username": REDIS_USERNAME,
    "password": env_reference(STATE_REDIS_PASSWORD),
}
MASTER_KEY_REFERENCE = env_reference(MASTER_KEY)
SEMANTIC_CACHE_GROUP = "semantic-cache-embedding"
CACHE_NAMESPACE = "llm-gateway"
REDIS_BREAKER_RECOVERY_SECONDS = 10
# How often a replica re-reads from Redis a cooldown key its own memory does not hold
# (litellm/router_utils/cooldown_cache.py::CooldownCache.__init__ reads
# DEFAULT_COOLDOWN_REDIS_READ_INTERVAL_SECONDS at import, default 1 s). Until that read a replica
# keeps calling a primary another replica has already cooled down. 1 ms means every request reads it
# (on the request's existing Redis round trip where one is open: router_utils/routing_read_batch.py).
# Not 0: `DualCache.__init__` takes `interval or litellm.default_redis_batch_cache_expiry or 10`, so 0
# would mean 10 s. Measured in bench/fleet.py, priced in bench/load.py (docs/capacity.md).
COOLDOWN_REDIS_READ_INTERVAL_SECONDS = 0.001
COOLDOWN_READ_INTERVAL_ENV = "DEFAULT_COOLDOWN_REDIS_READ_INTERVAL_SECONDS"
# The hooks the proxy loads from the config's folder (`module.attribute`, module = file name there).
AUTH_HOOK = "gateway_auth.user_api_key_auth"
CALLBACK_HOOK = "gateway_hooks.proxy_handler_instance"
HOOK_MODULES = tuple(f"{hook.split('.')[0]}.py" for hook in (AUTH_HOOK, CALLBACK_HOOK))

# A malformed or refused request fails the same way on every retry (LiteLLM RetryPolicy names).
NOT_RETRIED = {"BadRequestErrorRetries": 0, "ContentPolicyViolationErrorRetries": 0}
# How LiteLLM names the exception a provider status becomes (litellm exception_mapping_utils):
# 408 and 504 are Timeout, 502 is BadGatewayError, which, like a refused connection, only matches
# DefaultRetries, so DefaultRetries always keeps the route's budget.
RETRY_POLICY_BY_STATUS = {
    408: "TimeoutErrorRetries",
    429: "RateLimitErrorRetries",
    500: "InternalServerErrorRetries",
    503: "ServiceUnavailableErrorRetries",
    504: "TimeoutErrorRetries",
}


# LiteLLM's per-deployment cooldown policy names (router_utils/cooldown_handlers.py).
COOLDOWN_POLICY_BY_STATUS = {
    408: "TimeoutErrorAllowedFails",
    429: "RateLimitErrorAllowedFails",
    500: "InternalServerErrorAllowedFails",
    502: "BadGatewayErrorAllowedFails",
    503: "ServiceUnavailableErrorAllowedFails",
    504: "TimeoutErrorAllowedFails",
}
# A request the upstream answers 404 or 401 (a path it lacks, a credential it refuses) says nothing
# about the target's health for other requests; LiteLLM would cool the target down on it.
NEVER_COOLED = ("AuthenticationErrorAllowedFails", "NotFoundErrorAllowedFails")
# "Never": the policy takes a count, no infinity; no target fails this often within a cooldown window.
NEVER = 1_000_000_000


def _model_prefix(target: ResolvedTarget) -> str:
    return {"openai": "openai", "anthropic": "anthropic", "openrouter": "openrouter"}[target.provider_kind]


def _api_key(target: ResolvedTarget) -> str:
    # Every provider a gateway route can reach names its key variable (spec.Provider enforces it).
    if target.api_key_env is None:
        raise ValueError(f"{target.label}: a gateway target without api_key_env")
    return env_reference(target.api_key_env)


def _cost(target: ResolvedTarget) -> dict[str, float]:
    """The target's price from the pinned LiteLLM's map, stated per deployment: LiteLLM then prices
    every call (spend metrics, the request log) the way the cost projection does, and models priced
    through `price_as` (which LiteLLM could not find by itself) are not logged as free."""
    if target.price is None:
        return {}
    return {
        "input_cost_per_token": target.price.input_per_token,
        "output_cost_per_token": target.price.output_per_token,
    }


def _api_base(target: ResolvedTarget) -> str:
    # LiteLLM appends `/v1/messages` to an Anthropic api_base; the spec's URL already ends in /v1
    # (as Portkey's custom_host requires), so it is dropped here rather than sent twice.
    if target.provider_kind == "anthropic":
        return target.base_url.removesuffix("/v1")
    return target.base_url


@dataclass(frozen=True)
class Deployment:
    """One entry of a task's model group."""

    target: ResolvedTarget
    order: int
    weight: float | None
    # The single deployment that serves when every other one is cooling down. It is never cooled
    # down quickly itself: with nothing behind it, a cooldown would turn one failed call into
    # `429 all deployments in cooldown` for the whole cooldown window.
    last_resort: bool = False
    # True for the copy of a target that also serves at an earlier order (ids must be unique).
    repeated: bool = False

    @property
    def deployment_id(self) -> str:
        return f"{self.target.model}/last-resort" if self.repeated else self.target.model


def deployments(task: ResolvedTask) -> list[Deployment]:
    """The deployments of a task's model group, in order.

    Order 1 holds the first target of every branch, weighted by the branch shares; the other
    targets follow in the order a request meets them. When the last order would hold several
    deployments (a split with nothing behind it, as an experiment on a two-target tier), the
    control chain's final target is repeated behind them as the single last resort.

    LiteLLM cannot give each branch its own fallback chain: while the control's primary cools down,
    the other order-1 deployments (an experiment's variant) take its share too. Portkey keeps the split.
    """
    first_share: dict[str, float] = {}
    for branch in task.branches:
        model = branch.chain[0].model
        first_share[model] = first_share.get(model, 0.0) + branch.percent
    split = len(first_share) > 1
    rows: list[Deployment] = []
    next_order = 2
    for target in task.targets:
        if target.model in first_share:
            rows.append(Deployment(target, 1, round(first_share[target.model], 6) if split else None))
        else:
            rows.append(Deployment(target, next_order, None))
            next_order += 1
    last_order = max(row.order for row in rows)
    last_level = [row for row in rows if row.order == last_order]
    if len(last_level) == 1:
        rows[rows.index(last_level[0])] = replace(last_level[0], last_resort=True)
    else:
        rows.append(Deployment(task.branches[0].chain[-1], last_order + 1, None, last_resort=True, repeated=True))
    return rows


def task_cache_controls(task: ResolvedTask, environment_cache: Cache) -> dict[str, Any] | None:
    """Per-request cache controls for a task whose cache differs from the environment's.

    LiteLLM has one cache per proxy; deployment `litellm_params` reach every call of the group,
    so a task can opt out (`no-cache`/`no-store`) or keep entries for another TTL. The cache type
    (semantic or simple) stays the environment's.
    """
    if task.cache.mode == "off" and environment_cache.mode != "off":
        return {"no-cache": True, "no-store": True}
    if task.cache.mode != "off" and task.cache.ttl_seconds != environment_cache.ttl_seconds:
        return {"ttl": task.cache.ttl_seconds}
    return None


def _deployment(task: ResolvedTask, deployment: Deployment, environment_cache: Cache) -> dict[str, Any]:
    target = deployment.target
    params: dict[str, Any] = {
        "model": f"{_model_prefix(target)}/{target.provider_model}",
        "api_base": _api_base(target),
        "api_key": _api_key(target),
        "order": deployment.order,
        "timeout": target.timeout_seconds,
        "stream_timeout": target.timeout_seconds,
        **_cost(target),
    }
    if deployment.weight is not None:
        params["weight"] = deployment.weight
    cache_controls = task_cache_controls(task, environment_cache)
    if cache_controls is not None:
        params["cache"] = cache_controls
    params.update(request_log_deployment_params(task, deployment))
    model_info: dict[str, Any] = {
        "id": f"{task.name}/{deployment.deployment_id}",
        "task": task.name,
        "target_model": target.model,
    }
    if not deployment.last_resort:
        # One failure cools this target down, so the next requests go straight to the next one.
        model_info["allowed_fails"] = 0
        model_info["allowed_fails_policy"] = cooldown_policy(task)
        model_info["cooldown_time"] = task.cooldown_seconds
    return {"model_name": task.name, "litellm_params": params, "model_info": model_info}


def cooldown_policy(task: ResolvedTask) -> dict[str, int]:
    """Which failures cool a target down at once: the upstream statuses the task's retry codes name, and
    timeouts; never a 404 or 401. Classes it does not name (BadRequest: LiteLLM would then start cooling
    on it) keep LiteLLM's own rule with `allowed_fails: 0`: other 5xx cool, other 4xx do not."""
    cooled = {
        COOLDOWN_POLICY_BY_STATUS[code] for code in task.retry.on_status_codes if code in COOLDOWN_POLICY_BY_STATUS
    }
    cooled.add("TimeoutErrorAllowedFails")
    policy = {name: 0 if name in cooled else NEVER for name in sorted(set(COOLDOWN_POLICY_BY_STATUS.values()))}
    return {**policy, **dict.fromkeys(NEVER_COOLED, NEVER)}


def client_contract_settings() -> dict[str, Any]:
    """`litellm_settings` of the client contract besides its callback (`CALLBACK_HOOK`, in `callbacks`):
    the Anthropic-format bridge."""
    return {
        # `/v1/messages` to an OpenAI deployment goes through chat/completions like every other request,
        # not the Responses API: an upstream without `/responses` answered 404, which cooled a healthy
        # target down for every client (docs/runtime-facts.md).
        "use_chat_completions_url_for_anthropic_messages": True,
    }


def task_retry_policy(task: ResolvedTask) -> dict[str, int]:
    """LiteLLM retries by exception class, the spec by status code: retry the classes whose codes
    the task lists, `attempts` times; the others not at all."""
    listed = {RETRY_POLICY_BY_STATUS[code] for code in task.retry.on_status_codes if code in RETRY_POLICY_BY_STATUS}
    policy = {
        name: (task.retry.attempts if name in listed else 0) for name in sorted(set(RETRY_POLICY_BY_STATUS.values()))
    }
    return {**policy, "DefaultRetries": task.retry.attempts, **NOT_RETRIED}


def _task_retry_policies(tasks: tuple[ResolvedTask, ...], default_attempts: int) -> dict[str, dict[str, int]]:
    """Per-group policies, only for tasks that the router-level `num_retries` does not describe."""
    uniform = {name: default_attempts for name in [*RETRY_POLICY_BY_STATUS.values(), "DefaultRetries"]}
    return {task.name: policy for task in tasks if (policy := task_retry_policy(task)) != {**uniform, **NOT_RETRIED}}


def _cache_params(environment: ResolvedEnvironment) -> dict[str, Any] | None:
    cache = environment.defaults.cache
    if cache.mode == "off":
        return None
    params: dict[str, Any] = {**CACHE_REDIS, "ttl": cache.ttl_seconds, "namespace": CACHE_NAMESPACE}
    if cache.mode == "semantic":
        params["type"] = "redis-semantic"
        # redis-semantic builds its URL from host/port/password without a username; a URL carries it.
        params["redis_url"] = env_reference(CACHE_REDIS_URL)
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
                "api_key": _api_key(target),
                "timeout": target.timeout_seconds,
                **_cost(target),
            },
            "model_info": {"id": f"{SEMANTIC_CACHE_GROUP}/{target.model}"},
        }
    ]


def _router_state_redis() -> dict[str, Any]:
    """Shared router state (cooldowns, usage): what one replica learns about a dead target, the others use."""
    return {
        "redis_host": STATE_REDIS["host"],
        "redis_port": STATE_REDIS["port"],
        "redis_password": STATE_REDIS["password"],
        # Router.__init__ has no redis_username; its cache_kwargs reach the Redis client.
        "cache_kwargs": {"username": REDIS_USERNAME},
    }


def litellm_config(environment: ResolvedEnvironment) -> dict[str, Any]:
    """The LiteLLM proxy config for one environment, as data."""
    tasks = environment.gateway_tasks
    model_list = [
        _deployment(task, deployment, environment.defaults.cache) for task in tasks for deployment in deployments(task)
    ]
    model_list += _semantic_cache_deployment(environment)
    defaults = environment.defaults
    router_settings: dict[str, Any] = {
        "routing_strategy": "simple-shuffle",
        "num_retries": defaults.retry.attempts,
        "retry_policy": NOT_RETRIED,
        "model_group_retry_policy": _task_retry_policies(tasks, defaults.retry.attempts),
        "timeout": defaults.request_timeout_seconds,
        "cooldown_time": defaults.cooldown_seconds,
        **_router_state_redis(),
    }
    litellm_settings: dict[str, Any] = {
        # Metrics, the request log, and the client contract's callback (request validation, error bodies).
        "callbacks": ["prometheus", REQUEST_LOG_CALLBACK, CALLBACK_HOOK],
        **client_contract_settings(),
        # Without it a streamed request to a model with a Hugging Face tokenizer blocks ~23 s trying
        # to download it (measured), on a pod whose egress is limited to the providers.
        "disable_hf_tokenizer_download": True,
        # Retries belong to the router alone (router_settings): a second, module-level retry count
        # would multiply the calls to a failing target.
        "request_timeout": defaults.request_timeout_seconds,
    }
    litellm_settings.update(request_log_settings())
    cache_params = _cache_params(environment)
    litellm_settings["cache"] = cache_params is not None
    if cache_params is not None:
        litellm_settings["cache_params"] = cache_params
    return {
        "model_list": model_list,
        "router_settings": router_settings,
        "litellm_settings": litellm_settings,
        "general_settings": {
            "master_key": MASTER_KEY_REFERENCE,
            # The auth hook accepts the master key (administrators) and each application's key.
            "custom_auth": AUTH_HOOK,
            # Rate-limit and usage counters shared across pods: with the router's state, not the cache.
            "coordination_redis": dict(STATE_REDIS),
        },
    }


def litellm_environment(environment: ResolvedEnvironment) -> dict[str, str]:
    """Plain (non-secret) environment the LiteLLM process needs, read at import time.

    The connection pool to the providers is sized by these variables, not by the config file.
    """
    pool = str(environment.defaults.connection_pool)
    return {
        "AIOHTTP_CONNECTOR_LIMIT": pool,
        "AIOHTTP_CONNECTOR_LIMIT_PER_HOST": pool,
        # Use the price map shipped in the package: no fetch from the internet at start-up.
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        # After 5 failed Redis calls LiteLLM stops calling Redis for this long (default 60 s): a
        # restarted Redis then serves the cache and shared cooldowns again within seconds, not a minute.
        "REDIS_CIRCUIT_BREAKER_RECOVERY_TIMEOUT": str(REDIS_BREAKER_RECOVERY_SECONDS),
        # Replicas learn a cooldown another replica wrote on their next request, not up to 1 s later.
        COOLDOWN_READ_INTERVAL_ENV: str(COOLDOWN_REDIS_READ_INTERVAL_SECONDS),
        # The request log is written out on this period only (not by batch size); the config cannot set it.
        S3_FLUSH_INTERVAL: str(REQUEST_LOG_FLUSH_SECONDS),
    }


# --- the request log (Snowflake analytics: components/analytics.py) --------------------------------

REQUEST_LOG_CALLBACK = "s3_v2"
# Queued payloads are written every this many seconds, and lost if the process stops first: the
# Deployment's preStop waits longer than this before the pod is sent SIGTERM.
REQUEST_LOG_FLUSH_SECONDS = 10
# Deployment tags LiteLLM adds to the logged `request_tags` after the client's own; the pipe's COPY
# reads the last value of each (gateway_config-independent SQL: program/analytics_sql.py).
TAG_PREFIX = "llm-gateway:"
EXPERIMENT_TAG = f"{TAG_PREFIX}experiment="
VARIANT_TAG = f"{TAG_PREFIX}variant="
PORTKEY_TAG = f"{TAG_PREFIX}portkey="
CONTROL = "control"


def request_log_settings() -> dict[str, Any]:
    """LiteLLM's S3 logger: one payload per request and per failed attempt, written to object storage.

    `s3_v2` logs failures as well as successes (the legacy `s3` callback logs successes only).
    Every infrastructure value is an environment reference (runtime_env.py). `s3_batch_file_upload`
    writes one NDJSON object per flush instead of one per request: Snowpipe bills per file.
    Message content is redacted (`turn_off_message_logging`, for every request: LiteLLM 1.106 has no
    per-deployment or per-request opt-in that works, docs/runtime-facts.md): the raw payload column
    keeps tokens, cost, timing and ids, never the prompts and answers. `request_correlation_in_logs`
    fills the payload's `session_id` from the client's `metadata.session_id` (empty otherwise).
    """
    return {
        "request_correlation_in_logs": True,
        "turn_off_message_logging": True,
        "s3_callback_params": {
            "s3_bucket_name": env_reference(REQUEST_LOG_BUCKET),
            "s3_path": env_reference(REQUEST_LOG_PREFIX),
            "s3_region_name": env_reference(REQUEST_LOG_REGION),
            "s3_endpoint_url": env_reference(REQUEST_LOG_ENDPOINT),
            "s3_batch_file_upload": True,
        },
    }


def deployment_branch(task: ResolvedTask, deployment: Deployment) -> str:
    """The traffic branch a deployment is the first choice of (`control` or an experiment's name).

    Fallback deployments (order 2 and later, the repeated last resort) serve a request only after its
    first attempt failed; the analytics attribute a request to the branch of its first attempt.
    """
    if deployment.order == 1 and not deployment.repeated:
        for branch in task.branches:
            if branch.chain[0].model == deployment.target.model:
                return branch.label
    return CONTROL


def request_log_deployment_params(task: ResolvedTask, deployment: Deployment) -> dict[str, Any]:
    """Tags that put experiment, variant and Portkey provider slug into each logged payload.

    Every deployment carries all three (empty where none applies), so a tag a client sends in its
    own `tags` is always followed by the gateway's, whose last value the COPY keeps.
    """
    branch = deployment_branch(task, deployment)
    # Control deployments name every experiment running on the task: its comparison's other side.
    experiment = ",".join(sorted(e.name for e in task.experiments)) if branch == CONTROL else branch
    target = deployment.target
    params: dict[str, Any] = {
        "tags": [
            f"{EXPERIMENT_TAG}{experiment}",
            f"{VARIANT_TAG}{CONTROL if branch == CONTROL else 'variant'}",
            f"{PORTKEY_TAG}{target.portkey_provider or target.provider}",
        ]
    }
    return params
