"""Failover under faults, on both real engines, with the generated ``local`` config.

What the generated config asks for (gateway_config/routing.yaml, ``defaults.retry``): the retry budget
is the route's. A target that has an alternative behind it gets no retries, the request fails over to
the next target at once; retries (with backoff where the engine does backoff) are spent on the last
target only. Every tier-1 route has two targets, so "503 twice then success" is asserted in both
places: on the primary (fallback at once) and on the last target (retried until it answers).
Counts come from the mock provider, never from the gateways' own headers (LiteLLM's under-report).

LiteLLM: with the primary already cooled down, a 503 from the last target must not cool it down too
(the group would answer 429 ``all_deployments_in_cooldown`` for ``cooldown_time`` although the target
has recovered): the generator leaves the last-resort deployment out of the quick cooldown.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from e2e_engines import LiteLLMPool
from e2e_support import gateway_client, route, tasks_of_tier, unique_body

from local.client import portkey_headers, post_chat, target_label
from local.environment import LocalEnvironment
from local.mock_provider import MockControl
from local.processes import ServerProcess

pytestmark = pytest.mark.e2e

FAILOVER_SECONDS = 2.0  # a request that fails over without backoff; a backoff would cost ≥ 1 s per retry
TIMEOUT_MARGIN_SECONDS = 2.0  # slow primary: the fallback's answer arrives within timeout + this
PORTKEY_BACKOFF_SECONDS = (1.0, 2.0)  # Portkey's fixed backoff before retries 1 and 2 (measured)


def _tier1_task(routing: dict[str, Any]) -> str:
    tasks = tasks_of_tier(routing, "tier1")
    assert tasks, "the generated routing.json has no tier-1 task"
    return tasks[0]


def _slow_task(routing: dict[str, Any]) -> tuple[str, float]:
    """The tier-1 task whose primary has the shortest timeout (a test waits for it), and that timeout."""
    timeouts = {}
    for task in tasks_of_tier(routing, "tier1"):
        primary = route(routing, task).primary
        timeouts[task] = next(
            float(t["timeout_seconds"]) for t in routing["tasks"][task]["targets"] if target_label(t) == primary
        )
    task = min(timeouts, key=timeouts.__getitem__)
    assert timeouts[task] <= 10, f"no tier-1 primary with a timeout a test can wait for: {timeouts}"
    return task, timeouts[task]


# --- 503 twice, then success ---------------------------------------------------------------------------


def test_litellm_503_twice_fails_over_at_once_and_retries_only_the_last_target(
    litellm_pool: LiteLLMPool, routing: dict[str, Any], mock: MockControl
) -> None:
    task = _tier1_task(routing)
    chain = route(routing, task).control_chain
    primary, last = chain[0], chain[-1]
    engine = litellm_pool.claim([task])

    mock.fail(primary, 503, times=2)
    with engine.client() as client:
        answers = [post_chat(client, unique_body(task, "503x2")) for _ in range(3)]
        assert [(a.status, a.target) for a in answers] == [(200, chain[1])] * 3, [a.text for a in answers]
        # One call: no retry is spent on a target that has an alternative, and the failure cools it down
        # (allowed_fails 0, cooldown 30 s), so the next requests skip it although it would answer again.
        assert mock.count(primary) == 1
        assert mock.count(chain[1]) == 3
        assert max(a.seconds for a in answers) < FAILOVER_SECONDS, [a.seconds for a in answers]

        # The outage goes on (every target but the last down, the primary already cooled down) and the last
        # target answers 503 twice: the route's retries belong there, the request must still succeed.
        mock.reset()
        for target in chain[:-1]:
            mock.fail(target, 503)
        mock.fail(last, 503, times=2)
        answer = post_chat(client, unique_body(task, "503x2-last"))
        after = [post_chat(client, unique_body(task, "503x2-after")) for _ in range(3)]
    assert (answer.status, answer.target) == (200, last), answer.text
    assert mock.count(last) == 3 + len(after)  # two 503s and the success, then the requests after it
    assert mock.count(primary) == 0  # still cooled down from the first half
    assert [(a.status, a.target) for a in after] == [(200, last)] * len(after), [a.text for a in after]


def test_litellm_split_task_survives_a_blip_on_its_last_healthy_target(
    litellm_pool: LiteLLMPool, routing: dict[str, Any], mock: MockControl
) -> None:
    # An experiment puts both targets of a two-target tier at order 1 (weighted). With the control primary
    # down and the other target failing once, the group must not end up with every deployment cooling down.
    task = next(name for name, entry in routing["tasks"].items() if entry.get("experiments"))
    chain = route(routing, task).control_chain
    primary, last = chain[0], chain[-1]
    engine = litellm_pool.claim([task])
    mock.fail(primary, 503)
    with engine.client() as client:
        during_outage = [post_chat(client, unique_body(task, f"split-outage-{i}")) for i in range(5)]
        assert [(a.status, a.target) for a in during_outage] == [(200, last)] * 5, [a.text for a in during_outage]
        mock.fail(last, 503, times=1)
        answers = [post_chat(client, unique_body(task, f"split-blip-{i}")) for i in range(5)]
    assert [(a.status, a.target) for a in answers] == [(200, last)] * 5, [a.text for a in answers]
    assert mock.calls()[last]["failed"] == 1


def test_portkey_503_twice_fails_over_at_once_and_retries_only_the_last_target(
    portkey_gateway: ServerProcess, portkey_env: LocalEnvironment, routing: dict[str, Any], mock: MockControl
) -> None:
    task = _tier1_task(routing)
    chain = route(routing, task).control_chain
    primary, last = chain[0], chain[-1]
    headers = portkey_headers(portkey_env.portkey_config(task))

    mock.fail(primary, 503, times=2)
    with gateway_client(portkey_gateway.url) as client:
        answers = [post_chat(client, unique_body(task, "503x2"), headers) for _ in range(3)]
        # No circuit breaker: each request tries the primary once (retry attempts 0 on it), so the third
        # request meets it recovered.
        assert [(a.status, a.target) for a in answers] == [(200, chain[1]), (200, chain[1]), (200, primary)]
        assert [a.headers["x-portkey-last-used-option-index"] for a in answers] == [
            "config.targets[1]",
            "config.targets[1]",
            "config.targets[0]",
        ]
        assert mock.count(primary) == 3
        assert mock.count(chain[1]) == 2
        assert max(a.seconds for a in answers) < PORTKEY_BACKOFF_SECONDS[0], [a.seconds for a in answers]

        mock.reset()
        for target in chain[:-1]:
            mock.fail(target, 503)
        mock.fail(last, 503, times=2)
        answer = post_chat(client, unique_body(task, "503x2-last"), headers)
    assert (answer.status, answer.target) == (200, last), answer.text
    assert mock.count(last) == 3
    assert mock.count(primary) == 1
    assert answer.headers["x-portkey-retry-attempt-count"] == "2"
    backoff = sum(PORTKEY_BACKOFF_SECONDS)  # the retries on the last target wait 1 s, then 2 s
    assert backoff - 0.1 <= answer.seconds < backoff + FAILOVER_SECONDS, answer.seconds


# --- primary down, every tier-1 task -------------------------------------------------------------------


def test_litellm_primary_down_every_tier1_task_is_served_by_the_fallback(
    litellm_pool: LiteLLMPool, routing: dict[str, Any], mock: MockControl
) -> None:
    tasks = tasks_of_tier(routing, "tier1")
    assert tasks, "the generated routing.json has no tier-1 task"
    engine = litellm_pool.claim(tasks)
    with engine.client() as client:
        for task in tasks:
            chain = route(routing, task).control_chain
            mock.reset()
            mock.fail(chain[0], 503)
            answers = [post_chat(client, unique_body(task, "primary-down")) for _ in range(5)]
            assert [(a.status, a.target) for a in answers] == [(200, chain[1])] * 5, (task, [a.text for a in answers])
            assert mock.count(chain[0]) == 1, task  # tried once, then cooled down for the rest
            assert max(a.seconds for a in answers) < FAILOVER_SECONDS, (task, [a.seconds for a in answers])


def test_portkey_primary_down_every_tier1_task_is_served_by_the_fallback(
    portkey_gateway: ServerProcess, portkey_env: LocalEnvironment, routing: dict[str, Any], mock: MockControl
) -> None:
    tasks = tasks_of_tier(routing, "tier1")
    assert tasks, "the generated routing.json has no tier-1 task"
    with gateway_client(portkey_gateway.url) as client:
        for task in tasks:
            chain = route(routing, task).control_chain
            mock.reset()
            mock.fail(chain[0], 503)
            headers = portkey_headers(portkey_env.portkey_config(task))
            answers = [post_chat(client, unique_body(task, "primary-down"), headers) for _ in range(5)]
            assert [(a.status, a.target) for a in answers] == [(200, chain[1])] * 5, (task, [a.text for a in answers])
            assert {a.headers["x-portkey-last-used-option-index"] for a in answers} == {"config.targets[1]"}
            assert mock.count(chain[0]) == 5, task  # once per request, never retried; no circuit breaker
            assert max(a.seconds for a in answers) < PORTKEY_BACKOFF_SECONDS[0], (task, [a.seconds for a in answers])


# --- slow primary, beyond its timeout -------------------------------------------------------------------


def test_litellm_slow_primary_is_timed_out_and_served_by_the_fallback(
    litellm_pool: LiteLLMPool, routing: dict[str, Any], mock: MockControl
) -> None:
    task, timeout = _slow_task(routing)
    chain = route(routing, task).control_chain
    engine = litellm_pool.claim([task])
    mock.sleep(chain[0], timeout + 3)  # were the timeout not applied, the primary would answer, late
    with engine.client() as client:
        first = post_chat(client, unique_body(task, "slow"))
        assert (first.status, first.target) == (200, chain[1]), first.text
        assert timeout - 0.2 <= first.seconds <= timeout + TIMEOUT_MARGIN_SECONDS, first.seconds
        # The timeout cooled the primary down: the next requests go straight to the fallback.
        rest = [post_chat(client, unique_body(task, "slow")) for _ in range(5)]
    assert [(a.status, a.target) for a in rest] == [(200, chain[1])] * 5, [a.text for a in rest]
    assert max(a.seconds for a in rest) < FAILOVER_SECONDS, [a.seconds for a in rest]
    assert mock.count(chain[0]) == 1


def test_portkey_slow_primary_is_timed_out_and_served_by_the_fallback(
    portkey_gateway: ServerProcess, portkey_env: LocalEnvironment, routing: dict[str, Any], mock: MockControl
) -> None:
    task, timeout = _slow_task(routing)
    chain = route(routing, task).control_chain
    headers = portkey_headers(portkey_env.portkey_config(task))
    mock.sleep(chain[0], timeout + 3)
    # No circuit breaker: every request pays the primary's timeout. Two at once show it without
    # paying it twice in wall time.
    with gateway_client(portkey_gateway.url) as client, ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda _: post_chat(client, unique_body(task, "slow"), headers), range(2)))
    for answer in answers:
        assert (answer.status, answer.target) == (200, chain[1]), answer.text
        assert answer.headers["x-portkey-last-used-option-index"] == "config.targets[1]"
        assert timeout - 0.2 <= answer.seconds <= timeout + TIMEOUT_MARGIN_SECONDS, answer.seconds
    assert mock.count(chain[0]) == 2
