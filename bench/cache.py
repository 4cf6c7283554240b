"""Cache: hit rate of the generated LiteLLM config (simple cache in Redis) on a replayed workload.

    .venv/bin/python -m bench.cache [--requests 1000] [--repeat-share 0.30] [--off-task-requests 200]

The workload has a known share of repeated prompts: ``requests x (1 - share)`` distinct prompts seen
for the first time and ``requests x share`` repeats of a prompt sent earlier (chosen at random, seeded;
the first requests are all new so that there is something to repeat). Every prompt carries a nonce of
this run, so nothing is cached before it starts. The body is otherwise identical on every request.

A hit is counted two ways: the ``x-litellm-cache-key`` response header, and at the mock provider
(hits = requests - upstream calls). Goal (issue 4): hit rate equal to the repeat share, with no hit on a
first-seen prompt. A second, shorter replay goes to a task whose spec says ``cache: off``
(``experimental``): its hit rate should be 0. Exits 1 if a goal is missed.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

from bench.common import (
    BENCH_TASK,
    Destination,
    MockControl,
    Stack,
    chat_body,
    goal,
    litellm_destination,
    machine_note,
    ms,
    percentile,
    print_table,
    unique_prompts,
    warm_up,
)
from tools.warm_cache import CACHE_KEY_HEADER

ALL_NEW_PREFIX = 10  # the first requests of the workload are all new prompts
MAX_SECONDS = 180.0
SEED = 20240527


@dataclass
class Replay:
    task: str
    expected_share: float
    requests: int = 0
    failed: int = 0
    header_hits: int = 0
    hits_on_repeats: int = 0
    hits_on_new: int = 0
    repeats: int = 0
    upstream_calls: int = 0
    stopped_by_deadline: bool = False
    hit_latencies: list[float] | None = None
    miss_latencies: list[float] | None = None


def workload(requests: int, repeat_share: float, seed: int = SEED) -> list[tuple[int, bool]]:
    """(prompt number, is a repeat) for each request: exactly ``round(requests x share)`` repeats."""
    repeats = round(requests * repeat_share)
    kinds = [False] * (requests - repeats) + [True] * repeats
    rng = random.Random(seed)
    rng.shuffle(kinds)
    # Move repeats out of the all-new prefix (swap with a later new prompt), keeping the counts exact.
    for i in range(min(ALL_NEW_PREFIX, requests)):
        if kinds[i]:
            j = next(j for j in range(ALL_NEW_PREFIX, requests) if not kinds[j])
            kinds[i], kinds[j] = False, True
    sequence: list[tuple[int, bool]] = []
    seen = 0
    for is_repeat in kinds:
        if is_repeat:
            sequence.append((rng.randrange(seen), True))
        else:
            sequence.append((seen, False))
            seen += 1
    return sequence


def replay(
    destination: Destination, control: MockControl, task: str, requests: int, repeat_share: float, max_seconds: float
) -> Replay:
    prompts: Iterator[str] = unique_prompts(f"cache-{task}")
    texts: list[str] = []
    result = Replay(task, repeat_share, hit_latencies=[], miss_latencies=[])
    calls_before = sum(entry["count"] for entry in control.calls().values())
    deadline = time.monotonic() + max_seconds
    for number, is_repeat in workload(requests, repeat_share):
        if time.monotonic() >= deadline:
            result.stopped_by_deadline = True
            break
        if number == len(texts):
            texts.append(next(prompts))
        status, latency, headers = destination.send(chat_body(task, texts[number]))
        result.requests += 1
        result.repeats += is_repeat
        if status != 200:
            result.failed += 1
            continue
        hit = headers is not None and CACHE_KEY_HEADER in headers
        result.header_hits += hit
        result.hits_on_repeats += hit and is_repeat
        result.hits_on_new += hit and not is_repeat
        (result.hit_latencies if hit else result.miss_latencies).append(latency)  # type: ignore[union-attr]
    result.upstream_calls = sum(entry["count"] for entry in control.calls().values()) - calls_before
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--repeat-share", type=float, default=0.30)
    parser.add_argument("--off-task", default="experimental", help="a task whose spec turns the cache off")
    parser.add_argument("--off-task-requests", type=int, default=200)
    args = parser.parse_args(argv)

    print(
        f"cache bench: {args.requests} requests, {args.repeat_share:.0%} repeated prompts, LiteLLM generated "
        f"config + Redis; {machine_note()}"
    )
    with Stack("cache") as stack:
        mock, control = stack.mock()
        _, redis = stack.redis()
        generated = stack.generated("generated", mock.url, redis)
        cache_modes = {
            task: generated.environment.routing["tasks"][task]["cache"]["mode"] for task in (BENCH_TASK, args.off_task)
        }
        server = stack.litellm(generated.litellm_config, generated.litellm_env(), name="litellm-cache")
        destination = litellm_destination(stack, "LiteLLM generated", server, generated.master_key)
        warm_up([destination], 20)
        replays = [replay(destination, control, BENCH_TASK, args.requests, args.repeat_share, MAX_SECONDS)]
        if args.off_task_requests:
            replays.append(
                replay(destination, control, args.off_task, args.off_task_requests, args.repeat_share, MAX_SECONDS / 3)
            )

    rows = []
    verdicts: list[tuple[str, bool]] = []
    for result in replays:
        mode = cache_modes[result.task]
        expected = result.repeats if mode != "off" else 0
        mock_hits = result.requests - result.upstream_calls
        rows.append(
            [
                f"{result.task} (spec cache: {mode})"
                + (" (stopped by its time bound)" if result.stopped_by_deadline else ""),
                result.requests,
                result.failed,
                f"{result.repeats} ({result.repeats / max(1, result.requests):.1%})",
                f"{expected / max(1, result.requests):.1%}",
                f"{result.header_hits} ({result.header_hits / max(1, result.requests):.1%})",
                f"{mock_hits} ({mock_hits / max(1, result.requests):.1%})",
                result.hits_on_new,
                ms(percentile(result.hit_latencies or [], 50)),
                ms(percentile(result.miss_latencies or [], 50)),
            ]
        )
        verdicts.append(
            (
                f"{result.task}: hit rate {result.header_hits}/{result.requests} (header) and "
                f"{mock_hits}/{result.requests} (mock) equal to the expected {expected}/{result.requests}, "
                f"no hit on a new prompt, no failure",
                result.header_hits == mock_hits == expected and result.hits_on_new == 0 and result.failed == 0,
            )
        )
    print_table(
        "Cache: replayed workload through LiteLLM, generated config, Redis simple cache (ms)",
        [
            "task",
            "requests",
            "failed",
            "repeated prompts",
            "expected hit rate",
            "hits (header)",
            "hits (mock: requests - upstream calls)",
            "hits on new prompts",
            "p50 hit",
            "p50 miss",
        ],
        rows,
    )
    print()
    for text, met in verdicts:
        print(f"  {goal(met):<8} {text}")
    return 0 if all(met for _, met in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
