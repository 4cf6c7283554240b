"""The A/B experiment of the spec (10% of ``chat`` to its variant) splits real traffic as declared.

Each request is one Bernoulli trial: it lands on the experiment's branch (whose first target is the
variant) with the declared probability p. Over n requests the count is Binomial(n, p). The test accepts
the exact central interval with at most 1e-6 probability of failing a correct gateway (n = 400, p = 0.1:
[14, 72], about -4.3/+5.3 sigma around 40), and checks that the interval excludes a 50/50 split and 0%,
so a wrong split cannot pass. The mock counts confirm every request made exactly one upstream call (no
hidden retries skewing the share).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from e2e_engines import LiteLLMPool
from e2e_support import binomial_bounds, gateway_client, route, unique_body

from local.client import Answer, gateway_tasks, portkey_headers, post_chat
from local.environment import LocalEnvironment
from local.mock_provider import MockControl
from local.processes import ServerProcess

pytestmark = pytest.mark.e2e

REQUESTS = 400
FALSE_FAILURE = 1e-6
WORKERS = 8
DEADLINE_SECONDS = 120.0


def _experiment(routing: dict[str, Any]) -> tuple[str, str, float]:
    """(task, the variant's mock target, its traffic share) of the first experiment in the manifest."""
    for task in gateway_tasks(routing):
        chosen = route(routing, task)
        for experiment in chosen.experiments:
            share = experiment["traffic_percent"] / 100
            assert chosen.shares[experiment["name"]] == pytest.approx(share)
            return task, chosen.branches[experiment["name"]][0], share
    raise AssertionError("the generated routing.json declares no experiment")


def _run(send: Callable[[int], Answer]) -> list[Answer]:
    started = time.monotonic()
    with ThreadPoolExecutor(WORKERS) as pool:
        answers = list(pool.map(send, range(REQUESTS)))
    assert time.monotonic() - started < DEADLINE_SECONDS
    return answers


def _assert_split(
    answers: list[Answer], task: str, variant: str, share: float, routing: dict[str, Any], mock: MockControl
) -> None:
    assert all(answer.status == 200 for answer in answers), [a.text for a in answers if a.status != 200][:3]
    served = Counter(answer.target for answer in answers)
    assert set(served) <= set(route(routing, task).targets.values()), served
    lo, hi = binomial_bounds(REQUESTS, share, FALSE_FAILURE)
    assert lo > 0 and hi < REQUESTS / 2, (lo, hi)  # the interval rejects a 0% and a 50/50 split
    assert lo <= served[variant] <= hi, f"{served[variant]}/{REQUESTS} on {variant}, expected [{lo}, {hi}]: {served}"
    calls = {target: entry["count"] for target, entry in mock.calls().items()}
    assert calls == dict(served), (calls, served)  # one upstream call per request, no retries


def test_litellm_experiment_share_is_within_binomial_bounds(
    litellm_pool: LiteLLMPool, routing: dict[str, Any], mock: MockControl
) -> None:
    task, variant, share = _experiment(routing)
    engine = litellm_pool.claim([task])
    with engine.client() as client:
        answers = _run(lambda _: post_chat(client, unique_body(task, "experiment")))
    _assert_split(answers, task, variant, share, routing, mock)


def test_portkey_experiment_share_is_within_binomial_bounds(
    portkey_gateway: ServerProcess, portkey_env: LocalEnvironment, routing: dict[str, Any], mock: MockControl
) -> None:
    task, variant, share = _experiment(routing)
    headers = portkey_headers(portkey_env.portkey_config(task))
    with gateway_client(portkey_gateway.url) as client:
        answers = _run(lambda _: post_chat(client, unique_body(task, "experiment"), headers))
    _assert_split(answers, task, variant, share, routing, mock)
