"""The router's state lives apart from the response cache, and LiteLLM reaches both as the ACL user.

Two redis-servers per engine, as in the cluster (components/redis.py): the cache (``allkeys-lru``,
capped) and the router's state (``noeviction``), each with the ``default`` user off and a
``gateway`` user limited to the commands LiteLLM sends. Redis failures are silent at the HTTP level
(LiteLLM answers 200 without its cache or shared cooldowns), so these tests look at Redis itself:
which keys each instance holds, who is connected, and the ACL LOG of refused commands and logins.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import redis
from e2e_engines import LiteLLMEngine, LiteLLMPool
from e2e_support import route, tasks_of_tier, unique_body

from local.client import post_chat
from local.mock_provider import MockControl
from local.processes import ADMIN_USERNAME, REPO_ROOT

pytestmark = pytest.mark.e2e

CACHE_NAMESPACE = b"llm-gateway:"  # cache_params.namespace of the generated config
# A cache small enough that a burst fills it in well under the 30 s cooldown.
BURST_CACHE_MB = 4
BURST_VALUE = b"x" * 20_000
BURST_MAX_WRITES = 2_000
# A replica re-reads from Redis a cooldown key it does not hold at most this often (LiteLLM's
# CooldownCache, DEFAULT_COOLDOWN_REDIS_READ_INTERVAL_SECONDS, which the generated env.json sets);
# in between it answers from its own memory. Plus a margin.
REDIS_REREAD_SECONDS = (
    float(
        json.loads((REPO_ROOT / "gateway_config" / "generated" / "local" / "litellm" / "env.json").read_text())[
            "DEFAULT_COOLDOWN_REDIS_READ_INTERVAL_SECONDS"
        ]
    )
    + 1.5
)


def _tier1(routing: dict[str, Any]) -> str:
    tasks = tasks_of_tier(routing, "tier1")
    assert tasks, "the generated routing.json has no tier-1 task"
    return tasks[0]


def _cooldowns(state: redis.Redis) -> list[bytes]:
    return [key for key in state.keys("deployment:*:cooldown")]


def _gateway_clients(client: redis.Redis) -> set[str]:
    return {entry["user"] for entry in client.client_list() if entry["user"] != ADMIN_USERNAME}


def test_litellm_writes_each_kind_of_key_to_its_own_instance_as_the_acl_user(
    dedicated_litellm: LiteLLMEngine, routing: dict[str, Any], mock: MockControl
) -> None:
    engine = dedicated_litellm
    task = _tier1(routing)
    chain = route(routing, task).control_chain
    mock.fail(chain[0], 503, times=1)
    with engine.client() as client:
        answers = [post_chat(client, unique_body(task, "instances")) for _ in range(2)]
    assert [(a.status, a.target) for a in answers] == [(200, chain[1])] * 2, [a.text for a in answers]

    with engine.redis.endpoints.cache.client() as cache, engine.redis.endpoints.state.client() as state:
        cache_keys, state_keys = cache.keys("*"), state.keys("*")
        # The cache holds responses only (the warm-up's and these), all under the cache namespace.
        assert cache_keys and all(key.startswith(CACHE_NAMESPACE) for key in cache_keys), cache_keys[:10]
        # The router's cooldown of the failed primary, its counters, the proxy's rate-limit windows.
        assert _cooldowns(state), state_keys
        assert not any(key.startswith(CACHE_NAMESPACE) for key in state_keys), state_keys[:10]
        for instance in (cache, state):
            # No refused login or command: the username reached every client LiteLLM built.
            assert instance.acl_log() == [], instance.acl_log()
            assert _gateway_clients(instance) == {"gateway"}
            # And the default user is really off.
            with pytest.raises(redis.AuthenticationError):
                redis.Redis(
                    host=engine.redis.endpoints.cache.host, port=instance.connection_pool.connection_kwargs["port"]
                ).ping()


def test_router_state_survives_a_burst_of_cache_writes(
    litellm_pool: LiteLLMPool, routing: dict[str, Any], mock: MockControl
) -> None:
    """A dead primary found by replica A stays skipped by replica B after the cache fills up and evicts."""
    first = litellm_pool.start_engine("burst", cache_maxmemory_mb=BURST_CACHE_MB)
    try:
        # A second replica on the same two instances, warm before any fault (its warm-up needs a healthy mock).
        second = litellm_pool.start_engine("burst-replica", redis=first.redis)
        second_warm = time.monotonic()
        try:
            task = _tier1(routing)
            chain = route(routing, task).control_chain
            primary = chain[0]
            mock.fail(primary, 503)
            with first.client() as client:
                answer = post_chat(client, unique_body(task, "burst-a"))
            assert (answer.status, answer.target) == (200, chain[1]), answer.text
            endpoints = first.redis.endpoints
            with endpoints.state.client() as state:
                cooldowns = _cooldowns(state)
            assert cooldowns, "replica A wrote no cooldown to the state instance"

            # The burst, written as the gateway user (what the proxy itself may write), until Redis evicts.
            with endpoints.cache.client(admin=False) as writer, endpoints.cache.client() as cache:
                for index in range(BURST_MAX_WRITES):
                    writer.set(f"llm-gateway:burst-{index}", BURST_VALUE, ex=3600)
                    if index % 50 == 49 and int(cache.info("stats")["evicted_keys"]) > 0:
                        break
                evicted = int(cache.info("stats")["evicted_keys"])
            assert evicted > 0, "the burst never filled the cache instance"
            with endpoints.state.client() as state:
                assert all(state.exists(key) for key in cooldowns), "a cooldown was evicted"
                assert int(state.info("stats")["evicted_keys"]) == 0

            # B last read the cooldown keys during its warm-up; let its memory of them expire.
            time.sleep(max(0.0, REDIS_REREAD_SECONDS - (time.monotonic() - second_warm)))
            before = mock.count(primary)
            with second.client() as client:
                answers = [post_chat(client, unique_body(task, f"burst-b-{i}")) for i in range(3)]
            assert [(a.status, a.target) for a in answers] == [(200, chain[1])] * 3, [a.text for a in answers]
            assert mock.count(primary) == before, "replica B called the primary replica A had cooled down"
        finally:
            second.server.stop()
    finally:
        first.stop()
