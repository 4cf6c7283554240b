"""What the gateway benchmarks share: the stack of real servers, request loops, percentiles, tables.

Every server runs on 127.0.0.1 in its own process group (``local.processes``) and is stopped by
:class:`Stack` on the way out, whatever the reason (error, Ctrl-C, SIGTERM from ``timeout``). Every
request loop is bounded by a count *and* a deadline. Latencies are client-side wall time in
milliseconds, measured from one ``httpx.Client`` per destination (keep-alive), one request at a time.
"""

from __future__ import annotations

import json
import math
import os
import random
import signal
import sys
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

import httpx
import yaml

from gateway_config.runtime_env import MASTER_KEY
from local.client import (
    CHAT_PATH,
    bearer,
    chat_body,
    litellm_headers,
    mock_provider_key,
    portkey_headers,
    target_label,
)
from local.environment import (
    LocalEnvironment,
    LocalRedisPair,
    prepare_environment,
    private_work_dir,
    provider_key_envs,
)
from local.mock_provider import MockControl
from local.processes import (
    REPO_ROOT,
    RedisServers,
    ServerProcess,
    start_litellm,
    start_mock_provider,
    start_portkey,
    start_redis_pair,
)

# The committed generated tree: what `pulumi up` deploys and what `make check` keeps fresh.
GENERATED_LOCAL = REPO_ROOT / "gateway_config" / "generated" / "local"
# The committed local manifest: which provider reads its key from which variable.
LOCAL_ROUTING = json.loads((GENERATED_LOCAL / "routing.json").read_text())
# The task every gateway bench drives: tier 1, two targets in order, cache on, 5 s timeout in `local`.
BENCH_TASK = "code_generation"


class Interrupted(Exception):
    """SIGTERM (e.g. from `timeout`): raised so that :class:`Stack` stops every server."""


# --- statistics and tables ----------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100) of ``values``; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass
class Run:
    """One bounded sequential loop against one destination."""

    name: str
    latencies_ms: list[float] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # 0: transport error (no HTTP status)
    started_at: list[float] = field(default_factory=list)  # monotonic seconds, per request
    headers: list[Mapping[str, str]] = field(default_factory=list)
    stopped_by_deadline: bool = False

    @property
    def count(self) -> int:
        return len(self.latencies_ms)

    @property
    def failures(self) -> int:
        return sum(1 for status in self.statuses if status != 200)

    @property
    def p50(self) -> float:
        return percentile(self.latencies_ms, 50)

    @property
    def p99(self) -> float:
        return percentile(self.latencies_ms, 99)

    @property
    def max(self) -> float:
        return max(self.latencies_ms, default=math.nan)

    def note(self) -> str:
        return " (stopped by its time bound)" if self.stopped_by_deadline else ""


def ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:,.1f}"


def goal(met: bool) -> str:
    return "MET" if met else "NOT MET"


def print_table(title: str, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """A Markdown table (pastes into docs/benchmarks.md as is)."""
    cells = [[str(cell) for cell in header], *[[str(cell) for cell in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    print(f"\n{title}\n")
    for index, row in enumerate(cells):
        print("| " + " | ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)) + " |")
        if index == 0:
            print("|" + "|".join("-" * (width + 2) for width in widths) + "|")
    sys.stdout.flush()


def machine_note() -> str:
    return f"{os.cpu_count()} CPU cores, Python {sys.version.split()[0]}, {time.strftime('%Y-%m-%d %H:%M %Z')}"


# --- requests -----------------------------------------------------------------------------------------


def unique_prompts(tag: str) -> Iterator[str]:
    """Endless distinct prompts of equal length: a cache in the path never hits."""
    nonce = os.urandom(4).hex()
    index = 0
    while True:
        yield f"bench {tag} {nonce} request {index:07d}: write a haiku about connection pools"
        index += 1


@dataclass
class Destination:
    """Where a bench sends chat completions: the mock directly, or a gateway with its headers."""

    name: str
    client: httpx.Client
    path: str

    def send(self, body: Mapping[str, Any]) -> tuple[int, float, httpx.Headers | None]:
        started = time.perf_counter()
        try:
            response = self.client.post(self.path, json=body)
            response.read()
            status, headers = response.status_code, response.headers
        except httpx.HTTPError:
            status, headers = 0, None
        return status, (time.perf_counter() - started) * 1000, headers


def direct_destination(stack: Stack, mock_url: str, provider: str = "openai") -> Destination:
    client = stack.client(f"{mock_url}/{provider}/v1", bearer(mock_provider_key(provider)))
    return Destination("direct to mock", client, "/chat/completions")


def litellm_destination(stack: Stack, name: str, server: ServerProcess, master_key: str) -> Destination:
    return Destination(name, stack.client(server.url, litellm_headers(master_key)), CHAT_PATH)


def portkey_destination(stack: Stack, name: str, server: ServerProcess, config: Mapping[str, Any] | str) -> Destination:
    header = config if isinstance(config, str) else json.dumps(config, separators=(",", ":"))
    return Destination(name, stack.client(server.url, portkey_headers(header)), CHAT_PATH)


def run_sequential(
    destination: Destination,
    prompts: Iterator[str],
    max_requests: int,
    max_seconds: float,
    keep_headers: bool = False,
    name: str | None = None,
) -> Run:
    """Send up to ``max_requests`` requests one after another, stopping early at ``max_seconds``."""
    run = Run(name or destination.name)
    deadline = time.monotonic() + max_seconds
    for _ in range(max_requests):
        if time.monotonic() >= deadline:
            run.stopped_by_deadline = True
            break
        run.started_at.append(time.monotonic())
        status, latency, headers = destination.send(chat_body(BENCH_TASK, next(prompts)))
        run.latencies_ms.append(latency)
        run.statuses.append(status)
        if keep_headers:
            run.headers.append(dict(headers or {}))
    return run


def run_interleaved(
    destinations: Sequence[Destination], prompts: Iterator[str], rounds: int, max_seconds: float, seed: int = 4
) -> dict[str, Run]:
    """Each round sends the same body to every destination, in a fresh random order (seeded).

    Interleaving makes drift on the machine hit all destinations alike; shuffling each round spreads the
    work a gateway does *after* answering (cache writes, callbacks) evenly over whoever comes next.
    """
    runs = {destination.name: Run(destination.name) for destination in destinations}
    order = list(destinations)
    rng = random.Random(seed)
    deadline = time.monotonic() + max_seconds
    for _ in range(rounds):
        if time.monotonic() >= deadline:
            for run in runs.values():
                run.stopped_by_deadline = True
            break
        body = chat_body(BENCH_TASK, next(prompts))
        rng.shuffle(order)
        for destination in order:
            status, latency, _ = destination.send(body)
            runs[destination.name].latencies_ms.append(latency)
            runs[destination.name].statuses.append(status)
    return runs


def warm_up(destinations: Iterable[Destination], requests: int, max_seconds: float = 60.0) -> None:
    """The first requests after a start are slow (imports, pools, JIT): send some and discard them."""
    prompts = unique_prompts("warm-up")
    for destination in destinations:
        run = run_sequential(destination, prompts, requests, max_seconds)
        if run.failures:
            bad = next(status for status in run.statuses if status != 200)
            raise RuntimeError(f"warm-up of {destination.name}: {run.failures}/{run.count} failed (HTTP {bad})")


# --- the stack of servers -----------------------------------------------------------------------------


def _raise_interrupted(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(f"signal {signum}")


class Stack:
    """Starts servers and HTTP clients, and stops all of them on exit (reverse order, by process group)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._exit = ExitStack()
        self._previous_sigterm: Any = None

    def __enter__(self) -> Stack:
        self._previous_sigterm = signal.signal(signal.SIGTERM, _raise_interrupted)
        try:
            # Entered first, so it is deleted last, after every server writing into it has stopped.
            self.work = self._exit.enter_context(private_work_dir(f"llm-gateway-bench-{self.name}-"))
        except BaseException:
            signal.signal(signal.SIGTERM, self._previous_sigterm)
            raise
        self.logs = self.work / "logs"
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        try:
            self._exit.close()
        finally:
            signal.signal(signal.SIGTERM, self._previous_sigterm)

    def _owned(self, server: ServerProcess) -> ServerProcess:
        self._exit.callback(server.stop)
        return server

    def stop(self, server: ServerProcess) -> None:
        """Stop a server early (it stays registered; stopping twice is harmless)."""
        server.stop()

    def client(self, base_url: str, headers: Mapping[str, str], timeout: float = 60.0) -> httpx.Client:
        return self._exit.enter_context(httpx.Client(base_url=base_url, headers=dict(headers), timeout=timeout))

    def mock(self) -> tuple[ServerProcess, MockControl]:
        server = self._owned(start_mock_provider(self.logs))
        control = MockControl(server.url)
        control.reset()
        return server, control

    def redis(self) -> tuple[RedisServers, LocalRedisPair]:
        """The cache and router-state Redis instances, as the cluster runs them."""
        servers = start_redis_pair(self.logs)
        self._exit.callback(servers.stop)
        return servers, servers.endpoints

    def litellm(self, config: Path, env: Mapping[str, str], name: str = "litellm") -> ServerProcess:
        return self._owned(start_litellm(config, self.logs, env=env, name=name))

    def portkey(self) -> ServerProcess:
        return self._owned(start_portkey(self.logs))

    def generated(self, name: str, mock_url: str, redis: LocalRedisPair | None) -> GeneratedLocal:
        """The committed generated ``local`` tree, endpoints rewritten to this run's mock (and Redis)."""
        env = prepare_environment(GENERATED_LOCAL, self.work / name, mock_url, redis)
        return GeneratedLocal(env)


@dataclass
class GeneratedLocal:
    """A prepared copy of the generated ``local`` tree and what a LiteLLM process on it needs."""

    environment: LocalEnvironment

    @property
    def master_key(self) -> str:
        return self.environment.env[MASTER_KEY]

    @property
    def litellm_config(self) -> Path:
        return self.environment.litellm_config

    def litellm_env(self) -> dict[str, str]:
        """Secrets, Redis and the generated ``litellm/env.json``, as ``prepare_environment`` sets them."""
        return dict(self.environment.env)

    def litellm_yaml(self) -> dict[str, Any]:
        return yaml.safe_load(self.litellm_config.read_text())

    def portkey_config(self, task: str = BENCH_TASK) -> str:
        return self.environment.portkey_config(task)

    def targets(self, task: str = BENCH_TASK) -> list[str]:
        """The task's targets in order, as the mock names them (``provider/provider_model``)."""
        return [target_label(t) for t in self.environment.routing["tasks"][task]["targets"]]

    def litellm_deployment(self, task: str, order: int) -> dict[str, Any]:
        for deployment in self.litellm_yaml()["model_list"]:
            if deployment["model_name"] == task and deployment["litellm_params"].get("order") == order:
                return deployment
        raise KeyError(f"no deployment of {task} with order {order}")


def write_yaml(path: Path, data: Mapping[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(dict(data), sort_keys=False))
    return path


def litellm_env_without_redis(master_key: str) -> dict[str, str]:
    """Environment for a LiteLLM process that must keep its state to itself."""
    return {
        MASTER_KEY: master_key,
        **{var: mock_provider_key(provider) for provider, var in provider_key_envs(LOCAL_ROUTING).items()},
    }
