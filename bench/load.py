"""Load and capacity: a bounded concurrency sweep through the real engines, generated config vs minimal.

    .venv/bin/python -m bench.load [--levels 1,8,32,128,160] [--seconds 6] [--quick]

The mock provider waits ``--upstream-ms`` (200) before its first byte on every call, like a provider's
time to first token. Task ``code_generation``; every request a prompt never sent before (the
generated config caches). For each mode (non-streamed, streamed) and each concurrency level, every
destination gets ``level`` closed-loop clients (wrk, keep-alive connections, one second discarded to
open them) for ``--seconds`` plus ``level / 20`` s (latencies reach seconds at high levels), each run
started once the engine has drained what the previous one left in flight:

- *direct to mock*: the upstream alone (the latency every gateway adds to);
- *LiteLLM minimal* (one deployment, no cache, callbacks or Redis) and *LiteLLM generated* (the
  committed ``local`` config with Redis: cache, prometheus and request hooks, shared router state);
- *LiteLLM generated x2*: two replicas on the same Redis, the clients split evenly between them (from
  8 clients up);
- *Portkey minimal* (one provider) and *Portkey generated* (``portkey/code_generation.json``), one process.

Measured per cell: requests, errors, throughput (answered requests per wall second), p50/p99 latency
(wrk's, until the last byte; for two replicas the worse of the two wrk processes, one per replica), and
the engine processes' own CPU seconds, less what they burn idle (measured for a second before each
cell: timers, health checks, flushes; without it a slow cell would look expensive per request;
``/proc/<pid>/stat`` utime + stime of each process group) per 1,000 requests. Minimal and generated
run back to back at each level, in alternating order. The level above the spec's connection pool
(100, ``defaults.connection_pool``) checks the pool: requests beyond it wait for a connection, they
must not fail.

Goals (issue 13), per engine and mode: generated throughput >= 0.85x minimal at every level; generated
CPU per 1,000 requests <= 1.2x minimal (over the whole sweep: a level of a few dozen requests measures
the process's idle work more than the requests); zero errors below saturation (a level is below
saturation while the minimal config's p50 stays within twice its p50 at one client). Exit 1 naming
each missed goal.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import (
    BENCH_TASK,
    GENERATED_LOCAL,
    Stack,
    goal,
    litellm_destination,
    litellm_env_without_redis,
    machine_note,
    portkey_destination,
    print_table,
    warm_up,
    write_yaml,
)
from bench.loadgen import WrkResult, group_cpu_seconds, run_wrk, wrk_script
from bench.overhead import minimal_litellm_config, minimal_portkey_config
from gateway_config.generators.litellm import COOLDOWN_READ_INTERVAL_ENV
from local.client import CHAT_PATH, bearer, chat_body, litellm_headers, mock_provider_key, portkey_headers
from local.processes import ServerProcess

LEVELS = (1, 8, 32, 128, 160)
QUICK_LEVELS = (1, 8)
THROUGHPUT_GOAL = 0.85
CPU_GOAL = 1.2
SATURATION_P50_FACTOR = 2.0
WARM_UP = 20
WARM_SECONDS = 1.0  # per cell, discarded: opens the connections at that level
IDLE_SECONDS = 1.0  # per cell, before it: the engine's idle CPU, subtracted from the cell's
IDLE_CORES = 0.1  # below this the engine is taken as drained of earlier requests
DRAIN_MAX_SECONDS = 30.0
# From the spec (slos.gateway_overhead_ms): what a gateway may add to the provider's latency.
OVERHEAD_SLO_MS = 100.0
POOL_ENV = "AIOHTTP_CONNECTOR_LIMIT"


@dataclass(frozen=True)
class Target:
    """A destination of the sweep: base URLs (one per replica), headers, the process groups to meter."""

    engine: str
    config: str
    urls: tuple[str, ...]
    headers: dict[str, str]
    pgids: tuple[int, ...]
    min_level: int = 1

    @property
    def name(self) -> str:
        return f"{self.engine} {self.config}" if self.engine != "direct" else "direct to mock"


@dataclass
class Cell:
    target: Target
    stream: bool
    level: int
    result: WrkResult
    cpu_seconds: float  # during the measured seconds, less what the processes burn idle
    idle_cores: float

    @property
    def cpu_per_1k(self) -> float:
        return self.cpu_seconds / self.result.requests * 1000 if self.result.requests else math.nan

    @property
    def cores(self) -> float:
        """CPU the engine processes got during the cell, in cores (CPU seconds per wall second)."""
        return self.cpu_seconds / self.result.seconds if self.result.seconds else math.nan


def wait_until_idle(pgids: tuple[int, ...], max_seconds: float = DRAIN_MAX_SECONDS) -> None:
    """Until the engine processes are idle (below ``IDLE_CORES``): requests a closed wrk connection left
    behind keep them busy for a while, and would land on the next measurement."""
    deadline = time.monotonic() + max_seconds
    while time.monotonic() < deadline:
        before = sum(group_cpu_seconds(pgid) for pgid in pgids)
        time.sleep(0.25)
        if (sum(group_cpu_seconds(pgid) for pgid in pgids) - before) / 0.25 < IDLE_CORES:
            return


def cell_seconds(level: int, args: argparse.Namespace) -> float:
    """Longer at high concurrency: a request's latency there is seconds, and wrk counts only the answers
    that complete within the run."""
    return args.seconds + level // 20


def run_cell(target: Target, stream: bool, level: int, args: argparse.Namespace, work: Path) -> Cell:
    """One level against one destination: a discarded second to open every connection (client to
    gateway, gateway to mock), then the measured run, with the engine processes' CPU around it; before
    each, the processes are let drain to idle."""
    nonce = os.urandom(4).hex()
    urls = tuple(url + CHAT_PATH for url in target.urls)
    script = work / f"wrk-{nonce}.lua"
    wait_until_idle(target.pgids)
    # What the processes burn with no request at all (timers, health checks, flushes), per second.
    idle_before = sum(group_cpu_seconds(pgid) for pgid in target.pgids)
    time.sleep(IDLE_SECONDS)
    idle_cores = (sum(group_cpu_seconds(pgid) for pgid in target.pgids) - idle_before) / IDLE_SECONDS
    for phase, seconds in (("warm", WARM_SECONDS), ("measured", cell_seconds(level, args))):
        if phase == "measured":
            wait_until_idle(target.pgids)
        body = chat_body(BENCH_TASK, "@@PROMPT@@", stream=stream)
        script.write_text(wrk_script(body, f"load {nonce} {phase} {level}", target.headers))
        before = sum(group_cpu_seconds(pgid) for pgid in target.pgids)
        result = run_wrk(urls, script, level, seconds)
        cpu = sum(group_cpu_seconds(pgid) for pgid in target.pgids) - before
    return Cell(target, stream, level, result, max(0.0, cpu - idle_cores * result.seconds), idle_cores)


def direct_target(mock_url: str, mock: ServerProcess) -> Target:
    # The mock's OpenAI API is under /openai/v1: chat completions at <url>/openai/v1/chat/completions,
    # which is CHAT_PATH (/v1/chat/completions) under <url>/openai.
    return Target("direct", "", (f"{mock_url}/openai",), bearer(mock_provider_key("openai")), (mock.popen.pid,))


def sweep(targets: list[Target], args: argparse.Namespace, work: Path) -> list[Cell]:
    cells: list[Cell] = []
    pairs: dict[str, list[Target]] = {}
    for target in targets:
        pairs.setdefault(target.engine, []).append(target)
    deadline = time.monotonic() + args.max_total_seconds
    for stream in args.modes:
        for index, level in enumerate(args.levels):
            for group in pairs.values():
                # Minimal and generated back to back, the order alternating from level to level.
                ordered = group if index % 2 == 0 else list(reversed(group))
                for target in ordered:
                    if level < target.min_level:
                        continue
                    if time.monotonic() > deadline:
                        print(f"  sweep stopped by --max-total-seconds {args.max_total_seconds:g}", flush=True)
                        args.incomplete = True
                        return cells
                    cell = run_cell(target, stream, level, args, work)
                    cells.append(cell)
                    print(
                        f"  {'stream' if stream else 'plain':<6} c={level:<4} {target.name:<22} "
                        f"{cell.result.requests:>6} req {cell.result.throughput:7.1f}/s p50 "
                        f"{cell.result.p50_ms:7.1f} p99 {cell.result.p99_ms:7.1f} "
                        f"err {cell.result.errors} cpu/1k {cell.cpu_per_1k:6.2f} s",
                        flush=True,
                    )
    return cells


def _ratio(value: float, base: float) -> str:
    return "-" if not base or math.isnan(value) or math.isnan(base) else f"{value / base:.2f}x"


def report(cells: list[Cell], args: argparse.Namespace) -> int:
    verdicts: list[tuple[str, bool]] = []
    by_key = {(c.target.name, c.stream, c.level): c for c in cells}
    for stream in args.modes:
        mode = "streamed" if stream else "non-streamed"
        rows = []
        for cell in (c for c in cells if c.stream == stream):
            engine = cell.target.engine
            minimal = by_key.get((f"{engine} minimal", stream, cell.level))
            one_replica = by_key.get((f"{engine} generated", stream, cell.level))
            direct = by_key.get(("direct to mock", stream, cell.level))
            if cell.target.config == "generated x2":
                baseline_note = "vs 1 replica"
                base = one_replica
            else:
                baseline_note = "vs minimal"
                base = minimal
            overhead = cell.result.p99_ms - direct.result.p99_ms if direct and engine != "direct" else math.nan
            rows.append(
                [
                    cell.level,
                    cell.target.name,
                    cell.result.requests,
                    cell.result.errors,
                    f"{cell.result.throughput:,.1f}",
                    f"{cell.result.p50_ms:,.1f}",
                    f"{cell.result.p99_ms:,.1f}",
                    "-" if math.isnan(overhead) else f"{overhead:,.1f}",
                    "-" if engine == "direct" else f"{cell.cpu_per_1k:.2f}",
                    "-" if engine == "direct" else f"{cell.cores:.2f}",
                    "-"
                    if base is None or base is cell
                    else f"{_ratio(cell.result.throughput, base.result.throughput)} ({baseline_note})",
                    "-" if base is None or base is cell else _ratio(cell.cpu_per_1k, base.cpu_per_1k),
                ]
            )
        print_table(
            f"Load, {mode}, upstream {args.upstream_ms:g} ms to first byte ({args.seconds:g} s + clients / 20 s "
            "per cell; latency ms until the last byte; CPU = engine processes' own CPU seconds per 1,000 requests, "
            "idle subtracted)",
            [
                "clients",
                "destination",
                "requests",
                "errors",
                "req/s",
                "p50",
                "p99",
                "p99 - direct p99",
                "CPU s / 1k req",
                "cores used",
                "throughput ratio",
                "CPU ratio",
            ],
            rows,
        )
        verdicts += judge(cells, stream, args)
        for name in ("LiteLLM generated", "Portkey generated"):
            print(sustained(cells, name, stream))
    if args.incomplete:
        verdicts.append(("the sweep measured every level (stopped by --max-total-seconds)", False))
    print()
    for text, met in verdicts:
        print(f"  {goal(met):<8} {text}")
    return 0 if all(met for _, met in verdicts) else 1


def sustained(cells: list[Cell], name: str, stream: bool) -> str:
    """The most requests per second ``name`` answered at a level within the overhead SLO, without errors."""
    direct = {c.level: c for c in cells if c.stream == stream and c.target.engine == "direct"}
    within = [
        c
        for c in cells
        if c.stream == stream
        and c.target.name == name
        and c.level in direct
        and not c.result.errors
        and c.result.p99_ms - direct[c.level].result.p99_ms <= OVERHEAD_SLO_MS
    ]
    mode = "streamed" if stream else "non-streamed"
    if not within:
        return f"  {name}, {mode}: no level within the SLO (p99 - direct p99 <= {OVERHEAD_SLO_MS:.0f} ms)"
    best = max(within, key=lambda c: c.result.throughput)
    return (
        f"  {name}, {mode}: sustains {best.result.throughput:.1f} req/s within the SLO (p99 - direct p99 <= "
        f"{OVERHEAD_SLO_MS:.0f} ms) at {best.level} clients, on {best.cores:.2f} cores "
        f"({best.cpu_per_1k:.1f} CPU s per 1,000 requests)"
    )


def sweep_cpu_per_1k(cells: Iterable[Cell]) -> float:
    """CPU seconds per 1,000 requests over several cells (their CPU and requests summed)."""
    listed = list(cells)
    return sum(c.cpu_seconds for c in listed) / max(1, sum(c.result.requests for c in listed)) * 1000


def judge(cells: list[Cell], stream: bool, args: argparse.Namespace) -> list[tuple[str, bool]]:
    mode = "streamed" if stream else "non-streamed"
    verdicts: list[tuple[str, bool]] = []
    for engine in ("LiteLLM", "Portkey"):
        minimal = {c.level: c for c in cells if c.stream == stream and c.target.name == f"{engine} minimal"}
        generated = {c.level: c for c in cells if c.stream == stream and c.target.name == f"{engine} generated"}
        if not minimal or not generated:
            continue
        ratios = {
            level: generated[level].result.throughput / minimal[level].result.throughput
            for level in minimal
            if level in generated and minimal[level].result.throughput
        }
        worst = min(ratios, key=lambda level: ratios[level])
        verdicts.append(
            (
                f"{engine} {mode}: generated throughput >= {THROUGHPUT_GOAL}x minimal at every level "
                f"(lowest {ratios[worst]:.2f}x at {worst} clients)",
                all(ratio >= THROUGHPUT_GOAL for ratio in ratios.values()),
            )
        )
        cpu_min, cpu_gen = sweep_cpu_per_1k(minimal.values()), sweep_cpu_per_1k(generated.values())
        verdicts.append(
            (
                f"{engine} {mode}: generated CPU per 1,000 requests <= {CPU_GOAL}x minimal over the sweep "
                f"({cpu_gen:.2f} vs {cpu_min:.2f} s: {cpu_gen / cpu_min:.2f}x)",
                cpu_gen <= CPU_GOAL * cpu_min,
            )
        )
        base_p50 = minimal[min(minimal)].result.p50_ms
        below = [level for level, cell in minimal.items() if cell.result.p50_ms <= SATURATION_P50_FACTOR * base_p50]
        errors = {
            f"{cell.target.name} at {level}": cell.result.errors
            for level in below
            for cell in (minimal[level], generated.get(level))
            if cell is not None and cell.result.errors
        }
        verdicts.append(
            (
                f"{engine} {mode}: zero errors below saturation (levels {below}: {errors or 'none'})",
                not errors,
            )
        )
    return verdicts


# --- breakdown: what each feature of the generated config costs -------------------------------------

# name → how the generated config (and its environment) is changed to leave one feature out.
BREAKDOWN_VARIANTS = (
    "generated",
    "without prometheus callback",
    "without response cache",
    "without shared router state (Redis)",
    "without client-contract hooks",
    "with the engine's 1 s cooldown read interval",
)


def variant(config: dict[str, Any], env: dict[str, str], name: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The generated config and environment with one feature left out (``name`` of BREAKDOWN_VARIANTS)."""
    config = json.loads(json.dumps(config))
    env = dict(env)
    settings, general, router = config["litellm_settings"], config["general_settings"], config["router_settings"]
    if name == "without prometheus callback":
        settings["callbacks"] = [c for c in settings["callbacks"] if c != "prometheus"]
    elif name == "without response cache":
        settings["cache"] = False
        settings.pop("cache_params", None)
    elif name == "without shared router state (Redis)":
        for key in ("redis_host", "redis_port", "redis_password", "cache_kwargs"):
            router.pop(key, None)
        general.pop("coordination_redis", None)
    elif name == "without client-contract hooks":
        settings["callbacks"] = [c for c in settings["callbacks"] if not str(c).startswith("gateway_hooks")]
        general.pop("custom_auth", None)
    elif name == "with the engine's 1 s cooldown read interval":
        env.pop(COOLDOWN_READ_INTERVAL_ENV, None)
    return config, env


def merged(cells: list[Cell]) -> Cell:
    """Rounds of one destination as one cell: requests, seconds and CPU summed; latencies of the median round."""
    ordered = sorted(cells, key=lambda c: c.result.p50_ms)
    middle = ordered[len(ordered) // 2].result
    total = WrkResult(
        requests=sum(c.result.requests for c in cells),
        seconds=sum(c.result.seconds for c in cells),
        errors=sum(c.result.errors for c in cells),
        p50_ms=middle.p50_ms,
        p99_ms=middle.p99_ms,
    )
    idle = sum(c.idle_cores for c in cells) / len(cells)
    return Cell(cells[0].target, cells[0].stream, cells[0].level, total, sum(c.cpu_seconds for c in cells), idle)


def breakdown(args: argparse.Namespace) -> int:
    """Every variant on its own process, all running, measured in ``--rounds`` rounds of ``--seconds`` each in a
    fresh random order per round (drift on the shared machine then hits all alike), at one level."""
    level, stream = args.breakdown_level, False
    print(
        f"load breakdown: {level} clients, non-streamed, {args.rounds} rounds of {args.seconds:g} s per variant, "
        f"interleaved; upstream {args.upstream_ms:g} ms; {machine_note()}"
    )
    with Stack("load-breakdown") as stack:
        mock, control = stack.mock()
        _, redis = stack.redis()
        generated = stack.generated("breakdown", mock.url, redis)
        key = litellm_headers(generated.master_key)
        plan: list[tuple[str, Any, dict[str, str]]] = [
            (
                "minimal",
                minimal_litellm_config(stack.work / "minimal.yaml", mock.url),
                litellm_env_without_redis(generated.master_key),
            )
        ]
        for name in BREAKDOWN_VARIANTS:
            config, env = variant(generated.litellm_yaml(), generated.litellm_env(), name)
            # Next to the generated config: the hooks it names load from that folder with what they read there.
            path = write_yaml(generated.litellm_config.with_name(f"variant-{len(plan)}.yaml"), config)
            plan.append((name, path, env))
        targets = []
        for index, (name, path, env) in enumerate(plan):
            server = stack.litellm(path, env, name=f"litellm-variant-{index}")
            warm_up([litellm_destination(stack, name, server, generated.master_key)], WARM_UP)
            targets.append(Target("LiteLLM", name, (server.url,), key, (server.popen.pid,)))
        control.sleep("*", args.upstream_ms / 1000)
        rounds: dict[str, list[Cell]] = {target.config: [] for target in targets}
        rng = random.Random(13)
        for round_index in range(args.rounds):
            order = list(targets)
            rng.shuffle(order)
            for target in order:
                cell = run_cell(target, stream, level, args, stack.work)
                rounds[target.config].append(cell)
                print(
                    f"  round {round_index + 1} {target.config:<46} {cell.result.requests:>5} req "
                    f"{cell.result.throughput:6.1f}/s p50 {cell.result.p50_ms:7.1f} err {cell.result.errors} "
                    f"cpu/1k {cell.cpu_per_1k:6.2f} s",
                    flush=True,
                )
        control.recover("*")
    cells = [merged(rounds[target.config]) for target in targets]
    minimal_cpu, minimal_rate = cells[0].cpu_per_1k, cells[0].result.throughput
    generated_cell = cells[1]
    rows = [
        [
            cell.target.config,
            cell.result.requests,
            cell.result.errors,
            f"{cell.result.throughput:,.1f}",
            f"{cell.result.p50_ms:,.1f}",
            f"{cell.result.p99_ms:,.1f}",
            f"{cell.cpu_per_1k:.2f}",
            _ratio(cell.cpu_per_1k, minimal_cpu),
            "-"
            if cell is generated_cell or cell is cells[0]
            else f"{(generated_cell.cpu_per_1k - cell.cpu_per_1k):+.2f}",
            _ratio(cell.result.throughput, minimal_rate),
        ]
        for cell in cells
    ]
    print_table(
        f"Load breakdown: LiteLLM, {level} clients, non-streamed, {args.rounds} x {args.seconds:g} s per config, "
        "interleaved (CPU = the process's own CPU seconds per 1,000 requests, idle CPU subtracted; latencies of "
        "the median round)",
        [
            "config",
            "requests",
            "errors",
            "req/s",
            "p50",
            "p99",
            "CPU s / 1k req",
            "CPU vs minimal",
            "feature's CPU s / 1k (generated - variant)",
            "throughput vs minimal",
        ],
        rows,
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", default=",".join(map(str, LEVELS)), help="concurrent clients per level")
    parser.add_argument("--seconds", type=float, default=5.0, help="per destination and level (plus clients / 20)")
    parser.add_argument("--upstream-ms", type=float, default=200.0, help="the mock's delay before its first byte")
    parser.add_argument("--modes", default="plain,stream", help="plain, stream or both (comma-separated)")
    parser.add_argument("--no-replicas", action="store_true", help="skip the two-replica destination")
    parser.add_argument("--no-portkey", action="store_true")
    parser.add_argument("--max-total-seconds", type=float, default=780.0, help="bound on the whole sweep")
    parser.add_argument("--quick", action="store_true", help="smoke: 1 and 8 clients, 2 s, non-streamed, no x2")
    parser.add_argument("--breakdown", action="store_true", help="price each feature of the generated config")
    parser.add_argument("--breakdown-level", type=int, default=32, help="clients for --breakdown")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per variant for --breakdown")
    args = parser.parse_args(argv)
    if args.breakdown:
        return breakdown(args)
    args.incomplete = False
    if args.quick:
        args.levels, args.seconds, args.modes, args.no_replicas = ",".join(map(str, QUICK_LEVELS)), 2.0, "plain", True
    try:
        args.levels = [int(level) for level in args.levels.split(",")]
        args.modes = [{"plain": False, "stream": True}[mode] for mode in args.modes.split(",")]
    except (ValueError, KeyError):
        print("--levels takes integers, --modes plain and/or stream (comma-separated)", file=sys.stderr)
        return 2

    pool = json.loads((GENERATED_LOCAL / "litellm" / "env.json").read_text())[POOL_ENV]
    print(
        f"load bench: levels {args.levels}, {args.seconds:g} s per cell, upstream {args.upstream_ms:g} ms to first "
        f"byte; LiteLLM connection pool {pool} (generated); {machine_note()}"
    )
    with Stack("load") as stack:
        mock, control = stack.mock()
        _, redis = stack.redis()
        generated = stack.generated("load-generated", mock.url, redis)
        minimal = stack.litellm(
            minimal_litellm_config(stack.work / "minimal.yaml", mock.url),
            litellm_env_without_redis(generated.master_key),
            name="litellm-minimal",
        )
        replicas = [
            stack.litellm(generated.litellm_config, generated.litellm_env(), name=f"litellm-generated-{name}")
            for name in ("a", "b")[: 1 if args.no_replicas else 2]
        ]
        key = litellm_headers(generated.master_key)
        targets = [
            direct_target(mock.url, mock),
            Target("LiteLLM", "minimal", (minimal.url,), key, (minimal.popen.pid,)),
            Target("LiteLLM", "generated", (replicas[0].url,), key, (replicas[0].popen.pid,)),
        ]
        if not args.no_replicas:
            targets.append(
                Target(
                    "LiteLLM",
                    "generated x2",
                    tuple(r.url for r in replicas),
                    key,
                    tuple(r.popen.pid for r in replicas),
                    8,
                )
            )
        warm = [
            litellm_destination(stack, name, server, generated.master_key)
            for name, server in [("minimal", minimal), *((f"generated {i}", r) for i, r in enumerate(replicas))]
        ]
        if not args.no_portkey:
            portkey = stack.portkey()
            pk_minimal = json.dumps(minimal_portkey_config(mock.url), separators=(",", ":"))
            pk_generated = generated.portkey_config()
            targets += [
                Target("Portkey", "minimal", (portkey.url,), portkey_headers(pk_minimal), (portkey.popen.pid,)),
                Target("Portkey", "generated", (portkey.url,), portkey_headers(pk_generated), (portkey.popen.pid,)),
            ]
            warm += [
                portkey_destination(stack, "Portkey minimal", portkey, pk_minimal),
                portkey_destination(stack, "Portkey generated", portkey, pk_generated),
            ]
        warm_up(warm, WARM_UP)
        control.sleep("*", args.upstream_ms / 1000)
        started = time.monotonic()
        cells = sweep(targets, args, stack.work)
        control.recover("*")
        print(f"\n  sweep: {time.monotonic() - started:.0f} s")
    return report(cells, args)


if __name__ == "__main__":
    sys.exit(main())
