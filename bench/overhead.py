"""Gateway overhead: the generated ``local`` config against the same engine with a minimal config.

    .venv/bin/python -m bench.overhead [--requests 1000] [--warm-up 50] [--breakdown]

One run, one mock provider, every destination measured in the same loop: each round sends one body
(a prompt never sent before, so the generated config's cache never hits and every request reaches
the mock) to each destination in turn, so drift on the machine hits all of them alike:

- direct to the mock (``/openai/v1/chat/completions``): the baseline every overhead is taken from;
- LiteLLM, minimal config: one model group, one deployment, no cache, callbacks or Redis;
- LiteLLM, generated config (endpoints rewritten only, Redis running, ``env.json`` applied):
  cache lookups and writes to Redis, the prometheus callback, ten deployments, router state in Redis;
- with ``--breakdown``, two diagnostic variants of the generated config, one
  without the prometheus callback and one without the cache, to show where the difference goes;
- Portkey, minimal config (one provider) and generated ``portkey/code_generation.json`` (two targets
  in fallback mode; its ``cache`` block is inert in the OSS build), both on the same Portkey process.

overhead = gateway latency - direct latency, at p50 and at p99. Goal (issue 4): the generated config's
overhead at most 1.2x the minimal config's, per engine. The ratio of two p99 tails on a shared 2-core
machine is noisy, so each ratio comes with a 95 % interval from a paired bootstrap over rounds; a verdict
reads NOISE when that interval straddles the goal. Exits 1 on a failed request or a miss outside the noise.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
from pathlib import Path
from typing import Any

from bench.common import (
    BENCH_TASK,
    Destination,
    Run,
    Stack,
    direct_destination,
    goal,
    litellm_destination,
    litellm_env_without_redis,
    machine_note,
    mock_provider_key,
    ms,
    percentile,
    portkey_destination,
    print_table,
    run_interleaved,
    unique_prompts,
    warm_up,
    write_yaml,
)

GOAL_RATIO = 1.2
BOOTSTRAP_RESAMPLES = 400
MAX_SECONDS = 300.0


def minimal_litellm_config(path: Path, mock_url: str) -> Path:
    """The smallest config the proxy serves the task with (a master key is mandatory)."""
    return write_yaml(
        path,
        {
            "model_list": [
                {
                    "model_name": BENCH_TASK,
                    "litellm_params": {
                        "model": "openai/gpt-4o",
                        "api_base": f"{mock_url}/openai/v1",
                        "api_key": "os.environ/OPENAI_API_KEY",
                    },
                }
            ],
            "general_settings": {"master_key": "os.environ/LITELLM_MASTER_KEY"},
        },
    )


def minimal_portkey_config(mock_url: str) -> dict[str, Any]:
    return {
        "provider": "openai",
        "api_key": mock_provider_key("openai"),
        "custom_host": f"{mock_url}/openai/v1",
        "override_params": {"model": "gpt-4o"},
    }


def variant_config(path: Path, generated: dict[str, Any], drop: str) -> Path:
    """A diagnostic copy of the generated config without the prometheus callback or without the cache."""
    config = {**generated, "litellm_settings": dict(generated.get("litellm_settings") or {})}
    settings = config["litellm_settings"]
    if drop == "callbacks":
        settings.pop("callbacks", None)
    else:
        settings["cache"] = False
        settings.pop("cache_params", None)
    return write_yaml(path, config)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000, help="measured requests per destination")
    parser.add_argument("--warm-up", type=int, default=50, help="discarded requests per destination")
    parser.add_argument("--breakdown", action="store_true", help="add two diagnostic LiteLLM variants")
    args = parser.parse_args(argv)

    print(
        f"overhead bench: {args.requests} sequential requests per destination after {args.warm_up} "
        f"warm-up, interleaved; {machine_note()}"
    )
    with Stack("overhead") as stack:
        mock, _control = stack.mock()
        _redis, redis_endpoint = stack.redis()
        generated = stack.generated("generated", mock.url, redis_endpoint)
        env = generated.litellm_env()

        litellm_minimal = stack.litellm(
            minimal_litellm_config(stack.work / "minimal.yaml", mock.url),
            litellm_env_without_redis(generated.master_key),
            name="litellm-minimal",
        )
        litellm_generated = stack.litellm(generated.litellm_config, env, name="litellm-generated")
        portkey = stack.portkey()

        litellm_rows: list[tuple[str, Destination]] = [
            ("minimal", litellm_destination(stack, "LiteLLM minimal", litellm_minimal, generated.master_key)),
            ("generated", litellm_destination(stack, "LiteLLM generated", litellm_generated, generated.master_key)),
        ]
        if args.breakdown:
            for drop in ("callbacks", "cache"):
                config = variant_config(stack.work / f"generated-no-{drop}.yaml", generated.litellm_yaml(), drop)
                server = stack.litellm(config, env, name=f"litellm-no-{drop}")
                label = "generated without prometheus callback" if drop == "callbacks" else "generated without cache"
                litellm_rows.append(
                    (label, litellm_destination(stack, f"LiteLLM {label}", server, generated.master_key))
                )
        portkey_rows = [
            ("minimal", portkey_destination(stack, "Portkey minimal", portkey, minimal_portkey_config(mock.url))),
            ("generated", portkey_destination(stack, "Portkey generated", portkey, generated.portkey_config())),
        ]
        direct = direct_destination(stack, mock.url)
        destinations = [direct, *(d for _, d in litellm_rows), *(d for _, d in portkey_rows)]

        warm_up(destinations, args.warm_up)
        runs = run_interleaved(destinations, unique_prompts("overhead"), args.requests, MAX_SECONDS)

    return report(runs, direct, [("LiteLLM", litellm_rows), ("Portkey", portkey_rows)])


def overhead_ratio(
    runs: dict[str, Run], direct: str, gateway: str, minimal: str, q: float, rounds: list[int] | None = None
) -> float:
    """(gateway - direct) / (minimal - direct) at percentile ``q``, over ``rounds`` (all by default)."""

    def at(name: str) -> float:
        latencies = runs[name].latencies_ms
        return percentile(latencies if rounds is None else [latencies[i] for i in rounds], q)

    base = at(direct)
    denominator = at(minimal) - base
    return (at(gateway) - base) / denominator if denominator > 0 else math.nan


def bootstrap_interval(
    runs: dict[str, Run], direct: str, gateway: str, minimal: str, q: float, resamples: int = BOOTSTRAP_RESAMPLES
) -> tuple[float, float]:
    """95 % interval of the ratio by a paired bootstrap over rounds (a round = one body to every destination)."""
    count = min(runs[name].count for name in (direct, gateway, minimal))
    rng = random.Random(7)
    ratios = sorted(
        overhead_ratio(runs, direct, gateway, minimal, q, [rng.randrange(count) for _ in range(count)])
        for _ in range(resamples)
    )
    ratios = [value for value in ratios if not math.isnan(value)]
    return percentile(ratios, 2.5), percentile(ratios, 97.5)


def verdict(point: float, low: float, high: float) -> str:
    """MET / NOT MET by the point estimate; NOISE when the 95 % interval straddles the goal."""
    if low <= GOAL_RATIO < high:
        return "MET (noise)" if point <= GOAL_RATIO else "NOISE"
    return goal(point <= GOAL_RATIO)


def report(runs: dict[str, Run], direct: Destination, engines: list[tuple[str, list[tuple[str, Destination]]]]) -> int:
    base = runs[direct.name]
    rows: list[list[object]] = [[direct.name, base.count, base.failures, ms(base.p50), ms(base.p99)] + ["-"] * 4]
    verdicts: list[tuple[str, str]] = []
    for engine, variants in engines:
        minimal = variants[0][1].name
        for label, destination in variants:
            run = runs[destination.name]
            cells = [
                destination.name,
                run.count,
                run.failures,
                ms(run.p50),
                ms(run.p99),
                ms(run.p50 - base.p50),
                ms(run.p99 - base.p99),
            ]
            for q in (50, 99):
                point = overhead_ratio(runs, direct.name, destination.name, minimal, q)
                if destination.name == minimal:
                    cells.append("1.00x")
                    continue
                low, high = bootstrap_interval(runs, direct.name, destination.name, minimal, q)
                cells.append(f"{point:.2f}x ({low:.2f}-{high:.2f})")
                if label == "generated":
                    verdicts.append(
                        (
                            verdict(point, low, high),
                            f"{engine}: generated/minimal overhead at p{q} {point:.2f}x "
                            f"(95% CI {low:.2f}-{high:.2f}) <= {GOAL_RATIO}x",
                        )
                    )
            rows.append(cells)
            if label == "generated":
                overhead = run.p50 - base.p50
                verdicts.append(
                    (
                        goal(overhead < 100),
                        f"{engine}: generated overhead p50 {ms(overhead)} ms < 100 ms (the plan's target)",
                    )
                )
    failed = sum(run.failures for run in runs.values())
    print_table(
        "Overhead (ms, client-side; overhead = destination - direct at the same percentile; "
        "ratio = overhead / minimal config's overhead, 95% paired-bootstrap interval in brackets)",
        [
            "destination",
            "requests",
            "failed",
            "p50",
            "p99",
            "overhead p50",
            "overhead p99",
            "vs minimal p50",
            "vs minimal p99",
        ],
        rows,
    )
    print()
    for status, text in verdicts:
        print(f"  {status:<11} {text}")
    if failed:
        print(f"  NOT MET     {failed} failed requests")
    bounded = [run.name for run in runs.values() if run.stopped_by_deadline]
    if bounded:
        print(f"  note: stopped by the {MAX_SECONDS:.0f} s bound before all requests: {', '.join(bounded)}")
    # Exit 1 only for a miss the noise cannot explain (the interval lies above the goal) or a failure.
    return 1 if failed or any(status == "NOT MET" for status, _ in verdicts) else 0


if __name__ == "__main__":
    sys.exit(main())
