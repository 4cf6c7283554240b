"""Concurrent load for the fleet and capacity benches: ``httpx.AsyncClient`` driven by asyncio, and the
engine processes' own CPU time from ``/proc``.

Two shapes, both bounded in count and time:

- :func:`closed_loop`: ``concurrency`` clients, each sending its next request when the previous one
  answered (the capacity sweep: throughput at a fixed number of clients);
- :func:`open_loop`: requests started at Poisson arrivals of a fixed rate whatever the answers (the fleet bench: traffic
  that does not slow down when a replica does), with a cap on requests in flight.

Every request carries a prompt never sent before unless the caller says otherwise (the generated config
caches). A streamed request counts as answered when its last byte arrived; time to first byte is kept too.
"""

from __future__ import annotations

import asyncio
import os
import random
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


async def closed_loop(
    clients: Sequence[httpx.AsyncClient],
    bodies: Iterator[dict[str, Any]],
    concurrency: int,
    max_requests: int,
    max_seconds: float,
) -> LoadResult:
    """``concurrency`` workers share ``max_requests`` requests; none starts after ``max_seconds``.

    Worker ``i`` sends through ``clients[i % len(clients)]``: several replicas share the clients evenly."""
    result = LoadResult()
    remaining = max_requests
    deadline = time.monotonic() + max_seconds

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal remaining
        while remaining > 0 and time.monotonic() < deadline:
            remaining -= 1
            result.outcomes.append(await send(client, next(bodies)))

    started = time.perf_counter()
    await asyncio.gather(*(worker(clients[index % len(clients)]) for index in range(concurrency)))
    result.wall_seconds = time.perf_counter() - started
    return result


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
