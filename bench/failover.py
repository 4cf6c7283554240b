"""Failover: what a dead or slow primary costs through the generated config, against the plan's naive reading.

    .venv/bin/python -m bench.failover [--requests 1000] [--naive-requests 5] [--engine both|litellm|portkey]

All on one mock provider, task ``code_generation`` (targets in order: primary, then fallback), one
request at a time, a prompt never sent before on every request (the generated config caches).

1. Healthy vs full outage (the primary answers 503 to every call), ``--requests`` each, through the
   generated config and through a naive config written the way the original plan reads: a
   single-target group with 3 retries and exponential backoff, then a fallback group (LiteLLM:
   ``num_retries: 3`` + ``fallbacks``; Portkey: top-level ``retry: {attempts: 3}`` + fallback). The naive
   outage costs seconds per request, so it runs only ``--naive-requests`` requests (default 5), and its
   healthy run ``--naive-healthy-requests`` (default 200).
2. Slow primary (sleeps 2 s beyond the timeout the generated config gives it). LiteLLM: requests for
   one cooldown window and a bit (bounded by time), counting those that pay the timeout per cooldown
   window. Portkey: ``--portkey-slow-requests`` (default 12), each pays the timeout: it has no circuit
   breaker, so nothing remembers that the primary is slow.
3. Replicas (LiteLLM): two proxies on the generated config, primary dead; N requests to proxy A, then
   M to proxy B; calls that B sends to the dead primary, with the proxies sharing one Redis and without.

Goals (issue 4): outage p99 within 10 ms of healthy p99 on both engines, zero failures; LiteLLM slow
primary at most 2 requests per cooldown window pay the timeout and the others' p99 within 50 ms of the
healthy p99; replicas as few calls as the engine allows (0 with shared Redis). Exits 1 if one is missed.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass, field
from typing import Any

from bench.common import (
    BENCH_TASK,
    Destination,
    GeneratedLocal,
    MockControl,
    Run,
    Stack,
    goal,
    litellm_destination,
    litellm_env_without_redis,
    machine_note,
    mock_provider_key,
    ms,
    percentile,
    portkey_destination,
    print_table,
    run_sequential,
    unique_prompts,
    warm_up,
    write_yaml,
)

FAILOVER_GOAL_MS = 10.0
SLOW_GOAL_MS = 50.0
SLOW_PER_WINDOW_GOAL = 2
SLOW_BEYOND_TIMEOUT_S = 2.0
WARM_UP = 30
FALLBACK_GROUP = f"{BENCH_TASK}_fallback"


@dataclass
class Results:
    """Rows of the three tables and the goal verdicts, filled by the phases."""

    failover: list[list[object]] = field(default_factory=list)
    slow: list[list[object]] = field(default_factory=list)
    replicas: list[list[object]] = field(default_factory=list)
    verdicts: list[tuple[str, bool]] = field(default_factory=list)
    healthy_p99: dict[str, float] = field(default_factory=dict)

    def failover_row(self, engine: str, config: str, scenario: str, run: Run, primary_calls: int) -> None:
        self.failover.append(
            [
                engine,
                config,
                scenario + run.note(),
                run.count,
                run.failures,
                ms(run.p50),
                ms(run.p99),
                ms(run.max),
                primary_calls,
            ]
        )

    def slow_row(
        self, engine: str, timeout: str, requests: str, run: Run, paid: str, others: list[float], primary_calls: int
    ) -> None:
        self.slow.append(
            [
                engine,
                timeout,
                requests + run.note(),
                run.failures,
                paid,
                ms(run.p50),
                ms(run.p99),
                ms(run.max),
                ms(percentile(others, 99)),
                ms(max(others, default=math.nan)),
                primary_calls,
            ]
        )


def measured(
    control: MockControl, primary: str, destination: Destination, prompts: Any, requests: int, max_seconds: float
) -> tuple[Run, int]:
    """A sequential run and the calls it caused at the primary (counted at the mock, not from headers)."""
    before = control.count(primary)
    run = run_sequential(destination, prompts, requests, max_seconds)
    return run, control.count(primary) - before


def healthy_then_outage(
    control: MockControl,
    primary: str,
    destination: Destination,
    prompts: Any,
    rows: tuple[Results, str, str],
    healthy_requests: int,
    outage_requests: int,
    max_seconds: float,
    outage_max_seconds: float,
) -> tuple[Run, Run]:
    """Measure healthy, then with the primary answering 503 to every call; record both rows."""
    results, engine, config = rows
    healthy, healthy_calls = measured(control, primary, destination, prompts, healthy_requests, max_seconds)
    control.fail(primary, 503)
    try:
        outage, outage_calls = measured(control, primary, destination, prompts, outage_requests, outage_max_seconds)
    finally:
        control.recover(primary)
    results.failover_row(engine, config, "healthy", healthy, healthy_calls)
    results.failover_row(engine, config, "primary 503", outage, outage_calls)
    return healthy, outage


def judge_failover(results: Results, engine: str, healthy: Run, outage: Run) -> None:
    gap = outage.p99 - healthy.p99
    results.verdicts.append(
        (
            f"{engine}: outage p99 {ms(outage.p99)} within {FAILOVER_GOAL_MS:.0f} ms of healthy "
            f"p99 {ms(healthy.p99)} (gap {ms(gap)} ms; discovery = max {ms(outage.max)})",
            gap <= FAILOVER_GOAL_MS,
        )
    )
    results.verdicts.append(
        (
            f"{engine}: generated config, zero failed requests ({healthy.failures + outage.failures} failed)",
            healthy.failures + outage.failures == 0,
        )
    )


# --- LiteLLM --------------------------------------------------------------------------------------------


def naive_litellm_config(stack: Stack, generated: GeneratedLocal) -> Any:
    """The plan read literally: one target per group, 3 retries (exponential backoff), then a fallback group."""
    primary = generated.litellm_deployment(BENCH_TASK, 1)["litellm_params"]
    fallback = generated.litellm_deployment(BENCH_TASK, 2)["litellm_params"]

    def group(name: str, params: dict[str, Any]) -> dict[str, Any]:
        keep = ("model", "api_base", "api_key", "timeout", "stream_timeout")
        return {"model_name": name, "litellm_params": {key: params[key] for key in keep if key in params}}

    return write_yaml(
        stack.work / "naive-litellm.yaml",
        {
            "model_list": [group(BENCH_TASK, primary), group(FALLBACK_GROUP, fallback)],
            "router_settings": {"num_retries": 3, "fallbacks": [{BENCH_TASK: [FALLBACK_GROUP]}]},
            "litellm_settings": {"disable_hf_tokenizer_download": True},
            "general_settings": {"master_key": "os.environ/LITELLM_MASTER_KEY"},
        },
    )


def litellm_failover(
    stack: Stack, mock_url: str, control: MockControl, args: argparse.Namespace, results: Results
) -> None:
    _, redis = stack.redis()
    generated = stack.generated("litellm-generated", mock_url, redis)
    primary = generated.targets()[0]
    server = stack.litellm(generated.litellm_config, generated.litellm_env(), name="litellm-generated")
    destination = litellm_destination(stack, "LiteLLM generated", server, generated.master_key)
    warm_up([destination], WARM_UP)
    prompts = unique_prompts("failover-litellm")
    healthy, outage = healthy_then_outage(
        control,
        primary,
        destination,
        prompts,
        (results, "LiteLLM", "generated"),
        args.requests,
        args.requests,
        args.max_seconds,
        args.max_seconds,
    )
    stack.stop(server)
    results.healthy_p99["LiteLLM"] = healthy.p99
    judge_failover(results, "LiteLLM", healthy, outage)

    naive = stack.litellm(
        naive_litellm_config(stack, generated), litellm_env_without_redis(generated.master_key), name="litellm-naive"
    )
    destination = litellm_destination(stack, "LiteLLM naive", naive, generated.master_key)
    warm_up([destination], WARM_UP)
    healthy_then_outage(
        control,
        primary,
        destination,
        prompts,
        (results, "LiteLLM", "naive (plan)"),
        args.naive_healthy_requests,
        args.naive_requests,
        args.max_seconds,
        args.naive_max_seconds,
    )
    stack.stop(naive)


def litellm_slow_primary(
    stack: Stack, mock_url: str, control: MockControl, args: argparse.Namespace, results: Results
) -> None:
    # Its own Redis: the failover phase's cooldowns (shared through Redis) must not leak into this one.
    _, redis = stack.redis()
    generated = stack.generated("litellm-slow", mock_url, redis)
    primary = generated.targets()[0]
    deployment = generated.litellm_deployment(BENCH_TASK, 1)
    timeout_s = float(deployment["litellm_params"]["timeout"])
    cooldown_s = float(
        deployment.get("model_info", {}).get("cooldown_time")
        or generated.litellm_yaml()["router_settings"]["cooldown_time"]
    )
    server = stack.litellm(generated.litellm_config, generated.litellm_env(), name="litellm-slow")
    destination = litellm_destination(stack, "LiteLLM generated", server, generated.master_key)
    warm_up([destination], WARM_UP)
    control.sleep(primary, timeout_s + SLOW_BEYOND_TIMEOUT_S)
    # One full cooldown window, the re-probe when it ends, and a few seconds of the next window.
    seconds = cooldown_s + timeout_s + 5
    before = control.count(primary)
    run = run_sequential(destination, unique_prompts("slow-litellm"), args.slow_max_requests, seconds)
    control.recover(primary)
    paid = [i for i, latency in enumerate(run.latencies_ms) if latency >= 0.9 * timeout_s * 1000]
    primary_calls = control.count(primary) - before  # the mock counts a call when it arrives
    stack.stop(server)

    others = [latency for latency in run.latencies_ms if latency < 0.9 * timeout_s * 1000]
    start = run.started_at[0] if run.started_at else 0.0
    windows = math.ceil((run.started_at[-1] - start) / cooldown_s) if run.started_at else 0
    per_window = [
        sum(1 for i in paid if k * cooldown_s <= run.started_at[i] - start < (k + 1) * cooldown_s)
        for k in range(max(1, windows))
    ]
    others_p99 = percentile(others, 99)
    healthy_p99 = results.healthy_p99.get("LiteLLM", math.nan)
    results.slow_row(
        "LiteLLM",
        f"{timeout_s:.0f} s, cooldown {cooldown_s:.0f} s",
        f"{run.count} in {seconds:.0f} s",
        run,
        f"{len(paid)} ({', '.join(map(str, per_window))} per window)",
        others,
        primary_calls,
    )
    results.verdicts.append(
        (
            f"LiteLLM slow primary: at most {SLOW_PER_WINDOW_GOAL} requests per {cooldown_s:.0f} s "
            f"cooldown window pay the timeout ({per_window})",
            bool(per_window) and max(per_window) <= SLOW_PER_WINDOW_GOAL,
        )
    )
    results.verdicts.append(
        (
            f"LiteLLM slow primary: others' p99 {ms(others_p99)} within {SLOW_GOAL_MS:.0f} ms of "
            f"healthy p99 {ms(healthy_p99)}",
            others_p99 - healthy_p99 <= SLOW_GOAL_MS,
        )
    )
    results.verdicts.append((f"LiteLLM slow primary: zero failed requests ({run.failures} failed)", run.failures == 0))


def litellm_replicas(
    stack: Stack, mock_url: str, control: MockControl, args: argparse.Namespace, results: Results
) -> None:
    for shared in (True, False):
        redis = stack.redis()[1] if shared else None
        label = "shared Redis" if shared else "no Redis (state per process)"
        generated = stack.generated(f"replicas-{'shared' if shared else 'own'}", mock_url, redis)
        env = generated.litellm_env() if shared else litellm_env_without_redis(generated.master_key)
        primary = generated.targets()[0]
        servers = [stack.litellm(generated.litellm_config, env, name=f"litellm-replica-{name}") for name in "ab"]
        proxies = [
            litellm_destination(stack, f"proxy {name}", server, generated.master_key)
            for name, server in zip("AB", servers, strict=True)
        ]
        warm_up(proxies, WARM_UP)
        control.fail(primary, 503)
        prompts = unique_prompts(f"replicas-{shared}")
        run_a, calls_a = measured(control, primary, proxies[0], prompts, args.replica_a_requests, 60)
        run_b, calls_b = measured(control, primary, proxies[1], prompts, args.replica_b_requests, 60)
        control.recover(primary)
        for server in servers:
            stack.stop(server)
        results.replicas.append([label, run_a.count, calls_a, run_b.count, calls_b, run_a.failures + run_b.failures])
        if shared:
            results.verdicts.append(
                (
                    f"LiteLLM replicas, shared Redis: proxy B sent {calls_b} calls to the primary "
                    "proxy A had cooled down (0 expected)",
                    calls_b == 0,
                )
            )


# --- Portkey --------------------------------------------------------------------------------------------


def naive_portkey_config(generated_config: dict[str, Any]) -> dict[str, Any]:
    """The plan read literally: a top-level ``retry: {attempts: 3}`` (applies to every target), then fallback."""
    keep = ("provider", "custom_host", "override_params")
    targets = [
        {**{key: target[key] for key in keep if key in target}, "api_key": mock_provider_key(target["provider"])}
        for target in generated_config["targets"]
    ]
    return {"retry": {"attempts": 3}, "strategy": {"mode": "fallback"}, "targets": targets}


def portkey_phases(
    stack: Stack, mock_url: str, control: MockControl, args: argparse.Namespace, results: Results
) -> None:
    generated = stack.generated("portkey", mock_url, None)
    primary = generated.targets()[0]
    config = json.loads(generated.portkey_config())
    server = stack.portkey()
    destination = portkey_destination(stack, "Portkey generated", server, config)
    warm_up([destination], WARM_UP)
    prompts = unique_prompts("failover-portkey")
    healthy, outage = healthy_then_outage(
        control,
        primary,
        destination,
        prompts,
        (results, "Portkey", "generated"),
        args.requests,
        args.requests,
        args.max_seconds,
        args.max_seconds,
    )
    results.healthy_p99["Portkey"] = healthy.p99
    judge_failover(results, "Portkey", healthy, outage)

    naive = portkey_destination(stack, "Portkey naive", server, naive_portkey_config(config))
    warm_up([naive], 5)
    healthy_then_outage(
        control,
        primary,
        naive,
        prompts,
        (results, "Portkey", "naive (plan)"),
        args.naive_healthy_requests,
        args.naive_requests,
        args.max_seconds,
        args.naive_max_seconds,
    )

    timeout_ms = float(config["targets"][0]["request_timeout"])
    control.sleep(primary, timeout_ms / 1000 + SLOW_BEYOND_TIMEOUT_S)
    bound = args.portkey_slow_requests * (timeout_ms / 1000 + 2) + 10
    before = control.count(primary)
    slow = run_sequential(destination, prompts, args.portkey_slow_requests, bound)
    control.recover(primary)
    paid = sum(1 for latency in slow.latencies_ms if latency >= 0.9 * timeout_ms)
    slow_calls = control.count(primary) - before  # the mock counts a call when it arrives
    others = [latency for latency in slow.latencies_ms if latency < 0.9 * timeout_ms]
    results.slow_row(
        "Portkey",
        f"{timeout_ms / 1000:.0f} s, no circuit breaker",
        str(slow.count),
        slow,
        f"{paid} (every request)" if paid == slow.count else str(paid),
        others,
        slow_calls,
    )


# --- report ---------------------------------------------------------------------------------------------


def report(results: Results) -> int:
    print_table(
        f"Failover, task {BENCH_TASK} (ms, client-side; calls to primary counted at the mock)",
        ["engine", "config", "scenario", "requests", "failed", "p50", "p99", "max", "calls to primary"],
        results.failover,
    )
    if results.slow:
        print_table(
            f"Slow primary (sleeps {SLOW_BEYOND_TIMEOUT_S:.0f} s beyond its timeout; ms)",
            [
                "engine",
                "primary timeout",
                "requests",
                "failed",
                "paid the timeout",
                "p50",
                "p99",
                "max",
                "p99 of the others",
                "max of the others",
                "calls to primary",
            ],
            results.slow,
        )
    if results.replicas:
        print_table(
            "Replicas: two LiteLLM proxies, generated config, primary dead",
            ["router state", "requests to A", "A: calls to primary", "requests to B", "B: calls to primary", "failed"],
            results.replicas,
        )
    print()
    for text, met in results.verdicts:
        print(f"  {goal(met):<8} {text}")
    return 0 if all(met for _, met in results.verdicts) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=("both", "litellm", "portkey"), default="both")
    parser.add_argument("--requests", type=int, default=1000, help="per healthy / outage run (generated config)")
    parser.add_argument("--max-seconds", type=float, default=150.0, help="time bound per run")
    parser.add_argument("--naive-requests", type=int, default=5, help="naive outage run (seconds per request)")
    parser.add_argument("--naive-max-seconds", type=float, default=90.0)
    parser.add_argument("--naive-healthy-requests", type=int, default=200)
    parser.add_argument("--slow-max-requests", type=int, default=3000, help="LiteLLM slow primary (time-bounded)")
    parser.add_argument("--portkey-slow-requests", type=int, default=12)
    parser.add_argument("--replica-a-requests", type=int, default=5)
    parser.add_argument("--replica-b-requests", type=int, default=50)
    parser.add_argument("--no-replicas", action="store_true")
    args = parser.parse_args(argv)

    print(
        f"failover bench: {args.requests} sequential requests per generated-config run, naive outage "
        f"{args.naive_requests}; {machine_note()}"
    )
    results = Results()
    with Stack("failover") as stack:
        mock, control = stack.mock()
        if args.engine in ("both", "litellm"):
            litellm_failover(stack, mock.url, control, args, results)
            litellm_slow_primary(stack, mock.url, control, args, results)
            if not args.no_replicas:
                litellm_replicas(stack, mock.url, control, args, results)
        if args.engine in ("both", "portkey"):
            portkey_phases(stack, mock.url, control, args, results)
    return report(results)


if __name__ == "__main__":
    sys.exit(main())
