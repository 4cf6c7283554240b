"""Fleet: how many calls a dead primary still gets from the other replicas once one replica cooled it down.

    .venv/bin/python -m bench.fleet [--trials 10] [--rate 5] [--cooldown-seconds 3] [--quick]

Three LiteLLM proxies on the generated ``local`` config share one pair of Redis instances (the cache
and the router's state, as in the cluster). Each replica calls its own mock provider, so every call to
the primary is attributed to the replica that sent it (counted and time-stamped at the mocks). Every
replica receives ``--rate`` requests per second (Poisson arrivals, open loop), the whole time
(task ``code_generation``).

One trial: the primary starts answering 503 on all mocks, for two cooldown windows; then it recovers
and the bench waits for every cooldown to expire, under the same traffic, before the next trial. Per
window the calls to the primary form one burst: the replica that called first discovered (or
re-probed) the outage; the calls of the *other* replicas in that burst are what shared state should
remove, and the burst's span (first call to last) is the time until every replica skips the target.

Settings, each on fresh processes and fresh Redis:

- *generated*: the generated ``litellm/env.json`` as is (cooldown keys re-read from Redis on every
  request: ``DEFAULT_COOLDOWN_REDIS_READ_INTERVAL_SECONDS=0.001``);
- *engine default*: the same without that variable (LiteLLM re-reads a key it does not hold at most
  every 1 s: ``litellm/router_utils/cooldown_cache.py::CooldownCache.__init__``);
- *no shared state*: the router's Redis settings removed (each replica discovers on its own); fewer
  trials, the result does not vary.

The bench shortens the primary's ``model_info.cooldown_time`` (30 s in the generated config) to
``--cooldown-seconds`` in its copy, so that ten trials fit in minutes: how fast a replica learns a
cooldown does not depend on its length (the window only sets how often the fleet pays the re-probe).

Goal (issue 13): after one replica has cooled the primary down, the others together send it at most one
more call per cooldown window (max over all windows of the generated setting), or the engine's bound
(reasoned in docs/capacity.md): a median of at most one, and every call from another replica made by a
request the client sent before the cooldown was in Redis (watched there: ``CooldownWatch``). Exit 1 when
both are missed.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import contextlib
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from bench.common import (
    BENCH_TASK,
    GeneratedLocal,
    Stack,
    goal,
    litellm_destination,
    machine_note,
    print_table,
    unique_prompts,
    warm_up,
    write_yaml,
)
from bench.loadgen import LoadResult, async_client, open_loop
from gateway_config.generators.litellm import COOLDOWN_READ_INTERVAL_ENV
from local.client import chat_body, litellm_headers
from local.mock_provider import MockControl
from local.processes import LocalRedis, ServerProcess

REPLICAS = "ABC"
WARM_UP = 10
# Most requests one replica may have outstanding in the open loop (a dead primary answers at once,
# so at a few requests per second this is never reached; reaching it is reported as skipped starts).
MAX_IN_FLIGHT = 32
OTHERS_GOAL = 1  # calls from the other replicas per cooldown window
# The engine bound (docs/capacity.md): LiteLLM writes a cooldown from a *sync* failure callback that runs
# after the request's async failure callbacks, on a worker thread
# (litellm/litellm_core_utils/litellm_logging.py::Logging.dispatch_failure_handlers;
# litellm/router.py::Router.deployment_callback_on_failure is registered in litellm.failure_callback).
# Until that write lands in Redis every replica, the discovering one included, still picks the
# primary. With the read interval at 1 ms no request admitted once the cooldown is in Redis calls it: the
# bench watches the key (CooldownWatch) and counts calls of other replicas no earlier request explains.
# A request the client sent this soon after the write may still have read Redis before it.
SENT_AFTER_WRITE_MS = 2.0
POLL_SECONDS = 0.005


@dataclass
class Window:
    """One burst of calls to the primary: the first caller's replica, then everyone's calls."""

    first: str
    calls: list[tuple[float, str]]
    written: float | None = None  # when the cooldown reached Redis (CooldownWatch), if seen

    # Per replica, the (sent, answered) wall times of the requests the client sent it in this trial.
    requests: dict[str, list[tuple[float, float]]] = field(default_factory=dict)

    @property
    def others(self) -> int:
        return sum(1 for _, replica in self.calls if replica != self.first)

    @property
    def own(self) -> int:
        return len(self.calls) - self.others

    @property
    def span_ms(self) -> float:
        return (self.calls[-1][0] - self.calls[0][0]) * 1000

    @property
    def write_lag_ms(self) -> float | None:
        return None if self.written is None else (self.written - self.calls[0][0]) * 1000

    @property
    def late(self) -> int:
        """Calls of other replicas that no request sent before the cooldown was in Redis can explain: a call
        at ``t`` from replica R is explained when a request sent to R before the write was still open at ``t``
        (a starved proxy reads Redis on admission and may call the provider hundreds of ms later)."""
        if self.written is None:
            return 0
        cutoff = self.written + SENT_AFTER_WRITE_MS / 1000
        unexplained = 0
        for moment, replica in self.calls:
            if replica == self.first:
                continue
            spans = self.requests.get(replica, [])
            if not any(sent <= cutoff and answered >= moment for sent, answered in spans):
                unexplained += 1
        return unexplained


@dataclass
class Setting:
    name: str
    trials: int
    shared: bool
    keep_read_interval: bool
    first_windows: list[Window] = field(default_factory=list)
    later_windows: list[Window] = field(default_factory=list)
    requests: int = 0
    errors: int = 0
    skipped: int = 0
    seconds: float = 0.0


class CooldownWatch:
    """When the primary's cooldown reached the shared Redis: polls the key (the admin user, every
    ``POLL_SECONDS``) and keeps the ``timestamp`` LiteLLM writes into it (``time.time()`` just before
    the SET: ``CooldownCache._common_add_cooldown_logic``). A later write by another replica replaces it,
    so a window's earliest seen timestamp is its first write, unless replaced within one poll."""

    def __init__(self, redis: LocalRedis, key: str) -> None:
        self.redis, self.key = redis, key
        self.written: set[float] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _poll(self) -> None:
        with self.redis.client() as client:
            while not self._stop.wait(POLL_SECONDS):
                raw = client.get(self.key)
                if raw is not None:
                    self.written.add(float(ast.literal_eval(raw.decode())["timestamp"]))

    def __enter__(self) -> CooldownWatch:
        self._stop.clear()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def first_write(self, window: Window) -> float | None:
        """The window's first cooldown write: the earliest timestamp at or after its first call."""
        after = [moment for moment in self.written if moment >= window.calls[0][0] - 0.005]
        return min(after) if after else None


def bursts(calls: list[tuple[float, str]], cooldown_s: float) -> list[Window]:
    """Group time-sorted calls into windows: a window opens at a call and holds what follows within half a
    cooldown (bursts last milliseconds; the next one cannot start before the cooldown ends)."""
    windows: list[Window] = []
    for moment, replica in sorted(calls):
        if windows and moment - windows[-1].calls[0][0] < cooldown_s / 2:
            windows[-1].calls.append((moment, replica))
        else:
            windows.append(Window(replica, [(moment, replica)]))
    return windows


def failed_calls(controls: dict[str, MockControl], primary: str) -> list[tuple[float, str]]:
    """Every call the mocks failed for ``primary`` (time.time() of arrival), with the replica that sent it."""
    calls = []
    for replica, control in controls.items():
        entry = control.calls(detail=True).get(primary, {})
        calls += [(call["timestamp"], replica) for call in entry.get("calls", []) if call["status"] >= 400]
    return calls


def fleet_config(generated: GeneratedLocal, cooldown_s: float) -> Any:
    """The prepared config with the task's cooldowns shortened, written next to the original."""
    config = generated.litellm_yaml()
    for deployment in config["model_list"]:
        info = deployment.get("model_info") or {}
        if deployment["model_name"] == BENCH_TASK and "cooldown_time" in info:
            info["cooldown_time"] = cooldown_s
    return write_yaml(generated.litellm_config.with_name("fleet-config.yaml"), config)


def start_replicas(
    stack: Stack, mocks: dict[str, tuple[ServerProcess, MockControl]], setting: Setting, cooldown_s: float
) -> tuple[dict[str, ServerProcess], dict[str, str], str, CooldownWatch | None]:
    redis = stack.redis()[1] if setting.shared else None
    watch = None
    servers: dict[str, ServerProcess] = {}
    keys: dict[str, str] = {}
    primary = ""
    for replica in REPLICAS:
        mock = mocks[replica][0]
        generated = stack.generated(f"fleet-{setting.name.replace(' ', '-')}-{replica}", mock.url, redis)
        primary = generated.targets()[0]
        if redis is not None:
            deployment_id = generated.litellm_deployment(BENCH_TASK, 1)["model_info"]["id"]
            watch = CooldownWatch(redis.state, f"deployment:{deployment_id}:cooldown")
        # Without Redis, prepare_environment already left the router's Redis settings and variables out.
        env = generated.litellm_env()
        if not setting.keep_read_interval:
            env.pop(COOLDOWN_READ_INTERVAL_ENV)
        config = fleet_config(generated, cooldown_s)
        servers[replica] = stack.litellm(config, env, name=f"litellm-fleet-{replica}")
        keys[replica] = generated.master_key
    return servers, keys, primary, watch


def bodies(tag: str) -> Iterator[dict[str, Any]]:
    return (chat_body(BENCH_TASK, prompt) for prompt in unique_prompts(tag))


async def traffic(
    servers: dict[str, ServerProcess], keys: dict[str, str], rate: float, seconds: float, tag: str, seed: int
) -> list[LoadResult]:
    clients = [async_client(servers[r].url, litellm_headers(keys[r]), MAX_IN_FLIGHT) for r in REPLICAS]
    try:
        return list(
            await asyncio.gather(
                *(
                    open_loop(client, bodies(f"{tag}-{replica}"), rate, seconds, MAX_IN_FLIGHT, seed * 10 + index)
                    for index, (client, replica) in enumerate(zip(clients, REPLICAS, strict=True))
                )
            )
        )
    finally:
        for client in clients:
            await client.aclose()


async def run_trials(
    setting: Setting,
    servers: dict[str, ServerProcess],
    keys: dict[str, str],
    controls: dict[str, MockControl],
    primary: str,
    watch: CooldownWatch | None,
    args: argparse.Namespace,
) -> None:
    cooldown_s = args.cooldown_seconds
    outage_s = 2 * cooldown_s + 0.5  # the discovery window and one re-probe
    recovery_s = cooldown_s + 1.5  # every cooldown (the last written at the outage's end) expires
    for trial in range(setting.trials):
        load = asyncio.create_task(
            traffic(servers, keys, args.rate, outage_s + recovery_s, f"{setting.name}-{trial}", trial)
        )
        await asyncio.sleep(0.5)  # healthy traffic first: the replicas read the (absent) cooldown keys
        for control in controls.values():
            control.fail(primary, 503)
        with watch if watch is not None else contextlib.nullcontext():
            await asyncio.sleep(outage_s)
            for control in controls.values():
                control.recover(primary)
            results = await load
        failing = bursts(failed_calls(controls, primary), cooldown_s)
        sent = {
            replica: [(o.started, o.started + o.seconds) for o in result.outcomes]
            for replica, result in zip(REPLICAS, results, strict=True)
        }
        for window in failing:
            window.written = watch.first_write(window) if watch is not None else None
            window.requests = sent
        if failing:
            setting.first_windows.append(failing[0])
            setting.later_windows += failing[1:]
        setting.requests += sum(r.count for r in results)
        setting.errors += sum(r.errors for r in results)
        setting.skipped += sum(r.skipped for r in results)
        for control in controls.values():
            control.reset()


def distribution(values: list[int]) -> str:
    if not values:
        return "-"
    return f"{min(values)} / {statistics.median(values):g} / {max(values)}"


def lags(windows: list[Window]) -> str:
    values = [lag for lag in (w.write_lag_ms for w in windows) if lag is not None]
    if not values:
        return "-"
    return f"{statistics.median(values):,.1f} / {max(values):,.1f}"


def spans(windows: list[Window]) -> str:
    if not windows:
        return "-"
    values = [w.span_ms for w in windows]
    return f"{statistics.median(values):,.1f} / {max(values):,.1f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10, help="trials per shared-Redis setting")
    parser.add_argument("--isolated-trials", type=int, default=3, help="trials without shared state")
    parser.add_argument("--rate", type=float, default=5.0, help="requests per second to each replica")
    parser.add_argument("--cooldown-seconds", type=float, default=3.0, help="the primary's cooldown in the bench copy")
    parser.add_argument("--quick", action="store_true", help="smoke: 2 trials, generated setting only")
    parser.add_argument("--verbose", action="store_true", help="print every window's calls")
    args = parser.parse_args(argv)
    settings = [Setting("generated", args.trials, shared=True, keep_read_interval=True)]
    if args.quick:
        settings[0].trials = 2
    else:
        settings += [
            Setting("engine default (1 s)", args.trials, shared=True, keep_read_interval=False),
            Setting("no shared state", args.isolated_trials, shared=False, keep_read_interval=True),
        ]

    print(
        f"fleet bench: {len(REPLICAS)} LiteLLM replicas, {args.rate:g} req/s each (open loop), primary cooldown "
        f"{args.cooldown_seconds:g} s in the bench copy; {machine_note()}"
    )
    started = time.monotonic()
    with Stack("fleet") as stack:
        mocks = {replica: stack.mock() for replica in REPLICAS}
        controls = {replica: control for replica, (_, control) in mocks.items()}
        for setting in settings:
            setting_started = time.monotonic()
            servers, keys, primary, watch = start_replicas(stack, mocks, setting, args.cooldown_seconds)
            warm_up([litellm_destination(stack, f"replica {r}", servers[r], keys[r]) for r in REPLICAS], WARM_UP)
            for control in controls.values():
                control.reset()
            asyncio.run(run_trials(setting, servers, keys, controls, primary, watch, args))
            for server in servers.values():
                stack.stop(server)
            setting.seconds = time.monotonic() - setting_started

    rows = []
    for setting in settings:
        if args.verbose:
            for window in setting.first_windows + setting.later_windows:
                start = window.calls[0][0]
                calls = ", ".join(f"{replica} +{(moment - start) * 1000:.1f} ms" for moment, replica in window.calls)
                lag = window.write_lag_ms
                written = "" if lag is None else f"  [cooldown in Redis at +{lag:.1f} ms]"
                print(f"  {setting.name}: {calls}{written}")
        first_others = [w.others for w in setting.first_windows]
        later_others = [w.others for w in setting.later_windows]
        rows.append(
            [
                setting.name,
                f"{len(setting.first_windows)} + {len(setting.later_windows)}",
                distribution(first_others),
                distribution(later_others),
                distribution([w.own for w in setting.first_windows + setting.later_windows]),
                spans(setting.first_windows + setting.later_windows),
                lags(setting.first_windows + setting.later_windows),
                sum(w.late for w in setting.first_windows + setting.later_windows) if setting.shared else "-",
                setting.requests,
                setting.errors,
                setting.skipped,
            ]
        )
    print_table(
        f"Fleet: 3 replicas, dead primary, calls to it per cooldown window ({args.rate:g} req/s per replica; "
        "min / median / max over windows)",
        [
            "router state",
            "windows (first + re-probe)",
            "others' calls, discovery window",
            "others' calls, re-probe window",
            "first caller's own calls per window",
            "until all skip it, ms (median / max)",
            "cooldown in Redis after the first call, ms (median / max)",
            "others' calls from requests sent after that",
            "requests",
            "failed",
            "skipped starts",
        ],
        rows,
    )
    generated = settings[0]
    windows = generated.first_windows + generated.later_windows
    all_others = [w.others for w in windows]
    late = sum(w.late for w in windows)
    unseen = sum(1 for w in windows if w.written is None)
    strict = bool(windows) and max(all_others) <= OTHERS_GOAL
    bound = bool(windows) and statistics.median(all_others) <= OTHERS_GOAL and late == 0 and unseen == 0
    verdicts = [
        (
            f"generated: the other replicas sent at most {OTHERS_GOAL} call per cooldown window to the primary "
            f"one replica had cooled down (max {max(all_others, default=-1)} over {len(windows)} windows)",
            strict,
        ),
        (
            f"generated, engine bound: median {statistics.median(all_others) if windows else '-'} <= {OTHERS_GOAL} "
            f"and every call of another replica from a request sent before the cooldown was in Redis "
            f"({late} calls not; {unseen} windows whose write was not seen)",
            bound,
        ),
        (
            f"generated: zero failed requests ({generated.errors} of {generated.requests})",
            generated.errors == 0 and generated.requests > 0,
        ),
    ]
    print()
    for text, met in verdicts:
        print(f"  {goal(met):<8} {text}")
    print(f"\n  {time.monotonic() - started:.0f} s in all")
    # The goal is the strict count or, where the engine cannot do better, its documented bound.
    met_goal = verdicts[0][1] or verdicts[1][1]
    return 0 if met_goal and verdicts[2][1] else 1


if __name__ == "__main__":
    sys.exit(main())
