"""LiteLLM's Redis cache with the generated config: hits, misses, and Redis failing under it.

A hit is an answer that carries ``x-litellm-cache-key`` and reaches no upstream (counted at the mock),
and its key is found in the cache Redis.
The engine is the test's own: the test kills its cache Redis, then starts a new one on the same port.
"""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any

import httpx
import pytest
import redis
from e2e_engines import LiteLLMEngine
from e2e_support import cached_tasks, unique_body

from local.client import Answer, post_chat
from local.mock_provider import MockControl
from local.processes import REPO_ROOT, start_redis

pytestmark = pytest.mark.e2e

CACHE_KEY_HEADER = "x-litellm-cache-key"
CACHE_NAMESPACE = "llm-gateway:"  # cache_params.namespace of the generated config
DOWN_SECONDS = 10.0  # a request while Redis is down: the cache must fail open, not hang
# LiteLLM's Redis client has a circuit breaker: after 5 consecutive failures it stops calling Redis for
# REDIS_CIRCUIT_BREAKER_RECOVERY_TIMEOUT seconds (LiteLLM's default 60; hits meanwhile come from the
# process's in-memory copy). The generated litellm/env.json shortens it; the engine runs with that value.
BREAKER_RECOVERY_SECONDS = float(
    json.loads((REPO_ROOT / "gateway_config" / "generated" / "local" / "litellm" / "env.json").read_text())[
        "REDIS_CIRCUIT_BREAKER_RECOVERY_TIMEOUT"
    ]
)
RECOVERY_SECONDS = BREAKER_RECOVERY_SECONDS + 20.0


def _upstream_calls(mock: MockControl) -> int:
    return sum(entry["count"] for entry in mock.calls().values())


def _hit(answer: Answer) -> bool:
    return answer.status == 200 and bool(answer.headers.get(CACHE_KEY_HEADER))


def _repeat_until_hit(client: httpx.Client, body: dict[str, Any], seconds: float) -> tuple[Answer, int]:
    """Repeat ``body`` until it is a cache hit (the write after a miss may land a moment later)."""
    deadline, tries = time.monotonic() + seconds, 0
    while True:
        answer, tries = post_chat(client, body), tries + 1
        if _hit(answer) or time.monotonic() > deadline or tries >= 50:
            return answer, tries
        time.sleep(0.2)


def _redis(engine: LiteLLMEngine) -> redis.Redis:
    return engine.redis.endpoints.cache.client()


def test_litellm_cache_hits_misses_and_fails_open_when_redis_dies(
    dedicated_litellm: LiteLLMEngine, routing: dict[str, Any], mock: MockControl
) -> None:
    """LiteLLM also keeps an in-memory copy of what it caches, so a hit alone does not prove Redis works:
    the test also finds each hit's key in Redis."""
    tasks = cached_tasks(routing)
    assert tasks, "no task of the generated routing.json has its cache on"
    task = tasks[0]
    engine = dedicated_litellm
    with engine.client(timeout=30) as client:
        repeated = unique_body(task, "cache")
        first = post_chat(client, repeated)
        assert first.status == 200 and not _hit(first), first.headers
        assert _upstream_calls(mock) == 1

        hit, tries = _repeat_until_hit(client, repeated, 5)
        assert _hit(hit), hit.headers
        key = hit.headers[CACHE_KEY_HEADER]
        assert key.startswith(CACHE_NAMESPACE), key
        assert hit.target == first.target
        assert _upstream_calls(mock) == tries  # the first request and the misses before the hit, not the hit
        with _redis(engine) as client_redis:
            assert client_redis.exists(key), f"{key} not in Redis: {client_redis.keys('*')[:10]}"

        other = post_chat(client, unique_body(task, "cache-other"))
        assert other.status == 200 and not _hit(other), other.headers
        assert _upstream_calls(mock) == tries + 1

        # The cache Redis dies: the gateway keeps answering from the providers (the cache fails open).
        cache = engine.redis.endpoints.cache
        engine.redis.cache.stop()
        try:
            calls_before = _upstream_calls(mock)
            while_down = [post_chat(client, unique_body(task, "redis-down")) for _ in range(3)]
            while_down.append(post_chat(client, repeated))  # a hit from LiteLLM's in-memory copy, or a miss
            for answer in while_down:
                assert answer.status == 200, answer.text
                assert answer.seconds < DOWN_SECONDS, answer.seconds
            assert not any(_hit(answer) for answer in while_down[:3])
            assert _upstream_calls(mock) - calls_before in (3, 4)
        finally:
            # A new, empty Redis on the same port and password: the engine must reconnect by itself.
            engine.redis.cache, restarted = start_redis(
                engine.redis.cache.log_path.parent, port=cache.port, password=cache.password
            )
            engine.redis.endpoints = dataclasses.replace(engine.redis.endpoints, cache=restarted)

        # Hits recover: a new prompt, asked twice, is a hit again and its entry is in the new Redis.
        deadline, rounds, in_redis = time.monotonic() + RECOVERY_SECONDS, 0, False
        while not in_redis and time.monotonic() < deadline and rounds < 60:
            rounds += 1
            body = unique_body(task, "redis-back")
            assert post_chat(client, body).status == 200
            again, _ = _repeat_until_hit(client, body, 3)
            if _hit(again):
                with _redis(engine) as client_redis:
                    in_redis = bool(client_redis.exists(again.headers[CACHE_KEY_HEADER]))
            if not in_redis:
                time.sleep(0.5)
        assert in_redis, f"no cache entry reached the restarted Redis within {RECOVERY_SECONDS:.0f} s"
