"""Load for the fleet and capacity benches, and the engine processes' own CPU time from ``/proc``.

- :func:`open_loop` (``httpx.AsyncClient`` on asyncio): requests started at Poisson arrivals of a fixed
  rate whatever the answers, with a cap on requests in flight: the fleet bench's few requests per
  second per replica, each with its send time (matched against the mock's call times).
- :func:`run_wrk` (wrk, a C load generator): ``connections`` closed-loop clients for a duration, the
  capacity sweep. httpx's async pool is itself the bottleneck above a few dozen clients (measured here:
  38 requests/s at 128 clients against a mock that wrk drives at 605/s), so the sweep does not use it.

Every request carries a prompt never sent before (the generated config caches).
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import random
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.common import percentile
from local.client import CHAT_PATH

# Clock ticks per second of /proc/<pid>/stat's utime and stime.
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Outcome:
    """One request as the client saw it."""

    started: float  # time.time() when sent (the mock records calls in the same clock)
    seconds: float  # until the last byte
    first_byte_seconds: float
    status: int  # 0: transport error or timeout


@dataclass
class LoadResult:
    """The outcomes of one load run and how long it took."""

    outcomes: list[Outcome] = field(default_factory=list)
    wall_seconds: float = 0.0
    skipped: int = 0  # open loop: starts dropped because ``max_in_flight`` requests were outstanding

    @property
    def count(self) -> int:
        return len(self.outcomes)

    @property
    def errors(self) -> int:
        return sum(1 for outcome in self.outcomes if outcome.status != 200)

    @property
    def throughput(self) -> float:
        return self.count / self.wall_seconds if self.wall_seconds > 0 else 0.0

    def latency_ms(self, q: float) -> float:
        return percentile([o.seconds * 1000 for o in self.outcomes if o.status == 200], q)


def async_client(
    base_url: str, headers: Mapping[str, str], connections: int, timeout: float = 60.0
) -> httpx.AsyncClient:
    """One keep-alive pool per destination, as large as the concurrency it serves."""
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(base_url=base_url, headers=dict(headers), timeout=timeout, limits=limits)


async def send(client: httpx.AsyncClient, body: Mapping[str, Any], path: str = CHAT_PATH) -> Outcome:
    """POST one chat request; read a stream to its end."""
    started_wall, started = time.time(), time.perf_counter()
    first_byte = 0.0
    try:
        async with client.stream("POST", path, json=dict(body)) as response:
            async for _ in response.aiter_raw():
                if not first_byte:
                    first_byte = time.perf_counter() - started
            status = response.status_code
    except httpx.HTTPError:
        status = 0
    elapsed = time.perf_counter() - started
    return Outcome(started_wall, elapsed, first_byte or elapsed, status)


async def open_loop(
    client: httpx.AsyncClient,
    bodies: Iterator[dict[str, Any]],
    rate: float,
    seconds: float,
    max_in_flight: int,
    seed: int,
) -> LoadResult:
    """Start requests at Poisson arrivals of ``rate`` per second for ``seconds``, whatever the answers.

    Poisson, not evenly spaced: several clients on one schedule would send in lockstep, and the fleet
    bench would then measure their collisions rather than the gateway. Seeded, so a run repeats."""
    result = LoadResult()
    in_flight: set[asyncio.Task[None]] = set()
    rng = random.Random(seed)

    async def one(body: dict[str, Any]) -> None:
        result.outcomes.append(await send(client, body))

    started = time.perf_counter()
    offset = rng.expovariate(rate)
    while offset < seconds:
        delay = started + offset - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        offset += rng.expovariate(rate)
        if len(in_flight) >= max_in_flight:
            result.skipped += 1
            continue
        task = asyncio.create_task(one(next(bodies)))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
    if in_flight:
        await asyncio.wait(in_flight)
    result.wall_seconds = time.perf_counter() - started
    return result


# --- CPU of the engine processes ------------------------------------------------------------------------


def _stat_fields(stat_path: Path) -> list[str] | None:
    try:
        text = stat_path.read_text()
    except OSError:  # the process exited between listing and reading
        return None
    # The command name (field 2) is in parentheses and may hold spaces: split after its closing one.
    return text[text.rindex(")") + 2 :].split()


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU seconds of every live process in process group ``pgid`` (the engine and any
    worker it forked), from ``/proc/<pid>/stat``: the processes' own CPU time, not wall-clock."""
    total = 0
    for stat_path in Path("/proc").glob("[0-9]*/stat"):
        fields = _stat_fields(stat_path)
        # After the name: state(3) ppid(4) pgrp(5) ... utime(14) stime(15), i.e. indexes 0, 1, 2, 11, 12.
        if fields is not None and int(fields[2]) == pgid:
            total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


def cpu_of(pgids: Sequence[int], action: Callable[[], Any]) -> tuple[Any, float]:
    """Run ``action`` and return its result with the CPU seconds the process groups spent meanwhile."""
    before = sum(group_cpu_seconds(pgid) for pgid in pgids)
    value = action()
    return value, sum(group_cpu_seconds(pgid) for pgid in pgids) - before


# --- wrk ---------------------------------------------------------------------------------------------

WRK_SCRIPT = """
local prefix = [==[{prefix}]==]
local suffix = [==[{suffix}]==]
wrk.method = "POST"
{headers}
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end
local sent = 0
function request()
  sent = sent + 1
  return wrk.format(nil, nil, nil, prefix .. id .. "-" .. sent .. suffix)
end
function done(summary, latency, requests)
  io.write(string.format(
    '\\n{{"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, "status": %d, ' ..
    '"timeout": %d, "p50_us": %d, "p99_us": %d}}\\n',
    summary.requests, summary.duration, summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.status, summary.errors.timeout, latency:percentile(50), latency:percentile(99)))
end
"""
PROMPT_SLOT = "@@PROMPT@@"


@dataclass(frozen=True)
class WrkResult:
    """One wrk run (or several at once, one per replica, summed; latency percentiles the worst of them)."""

    requests: int
    seconds: float
    errors: int  # non-2xx answers, connect/read/write errors and timeouts
    p50_ms: float
    p99_ms: float

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def wrk_script(body: Mapping[str, Any], prompt_prefix: str, headers: Mapping[str, str]) -> str:
    """A wrk Lua script posting ``body`` with a prompt unique per thread and request."""
    text = json.dumps({**body, "messages": [{"role": "user", "content": PROMPT_SLOT}]})
    before, after = text.split(PROMPT_SLOT)
    lines = [
        f'wrk.headers["{name}"] = [==[{value}]==]'
        for name, value in {"Content-Type": "application/json", **headers}.items()
    ]
    return WRK_SCRIPT.format(prefix=before + prompt_prefix + " ", suffix=after, headers="\n".join(lines))


def run_wrk(urls: Sequence[str], script: Path, connections: int, seconds: float, timeout_s: float = 30.0) -> WrkResult:
    """``connections`` clients for ``seconds``, split evenly over ``urls`` (one wrk process each, at once)."""
    per_url = max(1, math.ceil(connections / len(urls)))
    processes = [
        subprocess.Popen(
            [
                "wrk",
                "-t",
                str(min(2, per_url)),
                "-c",
                str(per_url),
                "-d",
                f"{math.ceil(seconds)}s",  # wrk takes whole seconds
                "--timeout",
                f"{timeout_s:g}s",
                "-s",
                str(script),
                url,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for url in urls
    ]
    outputs = []
    for process in processes:
        out, _ = process.communicate(timeout=seconds + timeout_s + 30)
        if process.returncode != 0:
            raise RuntimeError(f"wrk exited {process.returncode}: {out[-500:]}")
        outputs.append(json.loads(out.strip().splitlines()[-1]))
    errors = sum(o["connect"] + o["read"] + o["write"] + o["status"] + o["timeout"] for o in outputs)
    return WrkResult(
        requests=sum(o["requests"] for o in outputs),
        seconds=max(o["duration_us"] for o in outputs) / 1e6,
        errors=errors,
        p50_ms=max(o["p50_us"] for o in outputs) / 1000,
        p99_ms=max(o["p99_us"] for o in outputs) / 1000,
    )
