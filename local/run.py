"""``make run`` / ``make smoke``: the real gateway with the generated ``local`` config, on loopback.

Builds the ``local`` environment, starts the mock provider, Redis (when ``redis-server`` exists) and the
gateway (LiteLLM by default, ``ENGINE=portkey`` for the Portkey gateway), then either waits for Ctrl-C
(``run``) or sends one request per routed task and exits (``--smoke``). Every process it started is
stopped on the way out, whatever the reason.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import FrameType

import httpx

from local.environment import LocalEnvironment, RedisEndpoint, build_local_tree, prepare_environment
from local.processes import (
    LOOPBACK,
    ServerProcess,
    redis_server_path,
    start_litellm,
    start_mock_provider,
    start_portkey,
    start_redis,
)

ENGINES = ("litellm", "portkey")


class Stop(Exception):
    """Raised from the SIGTERM handler so that cleanup runs as for Ctrl-C."""


@contextmanager
def _stop_on_exit(server: ServerProcess) -> Iterator[ServerProcess]:
    try:
        yield server
    finally:
        server.stop()


def _request_for(engine: str, gateway_url: str, env: LocalEnvironment, task: str) -> dict[str, object]:
    body = {"model": task, "messages": [{"role": "user", "content": f"smoke test for {task}"}],
            "max_tokens": 32}
    if engine == "litellm":
        headers = {"Authorization": f"Bearer {env.env['LITELLM_MASTER_KEY']}"}
    else:
        headers = {"Authorization": "Bearer mock-key", "x-portkey-config": env.portkey_config(task)}
    return {"url": f"{gateway_url}/v1/chat/completions", "json": body, "headers": headers}


def _curl(engine: str, gateway_url: str, env: LocalEnvironment, task: str) -> str:
    body = json.dumps({"model": task, "messages": [{"role": "user", "content": "Say hello"}]})
    if engine == "litellm":
        auth = f"-H 'Authorization: Bearer {env.env['LITELLM_MASTER_KEY']}'"
    else:
        config = shlex.quote(str(env.portkey_config_path(task)))
        auth = f"-H 'Authorization: Bearer mock-key' -H \"x-portkey-config: $(tr -d '\\n ' < {config})\""
    return (f"curl -sS {gateway_url}/v1/chat/completions -H 'Content-Type: application/json' {auth} "
            f"-d {shlex.quote(body)}")


def _targets_table(env: LocalEnvironment) -> str:
    rows = [("task", "route", "targets (in order)")]
    for name, task in env.routing["tasks"].items():
        targets = ", ".join(
            f"{t['provider']}/{t.get('provider_model', t.get('model'))}"
            + (" (real)" if t["provider"] in env.real_providers else "")
            for t in task.get("targets", [])
        )
        rows.append((name, str(task.get("route")), targets or "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(2)]
    return "\n".join(f"  {r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]}" for r in rows)


def served_by(response: httpx.Response) -> str | None:
    """The mock target that produced a gateway's answer (LiteLLM prefixes upstream headers), or None."""
    for header in ("x-mock-target", "llm_provider-x-mock-target"):
        if header in response.headers:
            return response.headers[header]
    marker = "served-by "
    if marker in response.text:
        return response.text.split(marker, 1)[1].split('"', 1)[0].split("\\", 1)[0]
    return None


def _served_by(response: httpx.Response) -> str:
    target = served_by(response)
    if target:
        return f"mock {target}"
    try:
        return f"{response.json().get('model', '?')} (real provider)"
    except ValueError:
        return "?"


def smoke(engine: str, gateway_url: str, env: LocalEnvironment, timeout: float) -> bool:
    """One request per routed task; print who served it; True if every task answered 200."""
    ok = True
    with httpx.Client(timeout=timeout) as client:
        for task in env.gateway_tasks():
            started = time.perf_counter()
            try:
                response = client.post(**_request_for(engine, gateway_url, env, task))  # type: ignore[arg-type]
            except httpx.HTTPError as error:
                print(f"  FAIL {task:<24} {type(error).__name__}: {error}")
                ok = False
                continue
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code == 200:
                print(f"  ok   {task:<24} served by {_served_by(response):<48} {elapsed:7.0f} ms")
            else:
                print(f"  FAIL {task:<24} HTTP {response.status_code}: {response.text[:200]}")
                ok = False
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=ENGINES, default=os.environ.get("ENGINE", "litellm") or "litellm")
    parser.add_argument("--smoke", action="store_true", help="one request per routed task, then stop")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "0")),
                        help="gateway port (default: a free one)")
    parser.add_argument("--request-timeout", type=float, default=30.0)
    args = parser.parse_args(argv)

    def on_term(signum: int, frame: FrameType | None) -> None:
        raise Stop

    # Installed explicitly: a process started in the background inherits SIGINT ignored.
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    work = Path(tempfile.mkdtemp(prefix="llm-gateway-local-"))
    logs = work / "logs"
    with ExitStack() as stack:
        try:
            generated = build_local_tree(work / "generated")
            mock = stack.enter_context(_stop_on_exit(start_mock_provider(logs)))
            redis_endpoint = None
            if redis_server_path() is None:
                print("Redis: redis-server not installed, so the LiteLLM cache is off "
                      "(install: make runtime-redis)")
            else:
                redis = stack.enter_context(_stop_on_exit(start_redis(logs, password="local-redis")))
                redis_endpoint = RedisEndpoint(LOOPBACK, redis.port, "local-redis")
            env = prepare_environment(
                generated, work / "config", mock.url, redis_endpoint, environ=os.environ,
                use_real_providers=not args.smoke,
            )
            for note in env.notes:
                print(note)
            if args.engine == "litellm":
                gateway = start_litellm(env.litellm_config, logs, env=env.env, port=args.port or None)
            else:
                gateway = start_portkey(logs, env=env.env, port=args.port or None)
            stack.enter_context(_stop_on_exit(gateway))

            print(f"\n{args.engine} gateway: {gateway.url}    mock provider: {mock.url}    logs: {logs}")
            print(f"config: {env.root}\n")
            print(_targets_table(env))
            tasks = env.gateway_tasks()
            if args.smoke:
                print(f"\nsmoke: one request per routed task through {args.engine}")
                ok = smoke(args.engine, gateway.url, env, args.request_timeout)
                print("smoke " + ("passed" if ok else "FAILED"))
                return 0 if ok else 1
            if tasks:
                print(f"\nTry it:\n  {_curl(args.engine, gateway.url, env, tasks[0])}")
            print("\nCtrl-C stops everything.")
            while all(server.running() for server in (mock, gateway)):
                time.sleep(0.5)
            print("a server exited; stopping the rest", file=sys.stderr)
            return 1
        except (KeyboardInterrupt, Stop):
            print("\nstopping")
            return 0
        finally:
            # A second Ctrl-C must not interrupt the cleanup below (ExitStack stops the servers).
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            signal.signal(signal.SIGINT, signal.SIG_IGN)


if __name__ == "__main__":
    sys.exit(main())
