"""``make run`` / ``make smoke``: the real gateway with the generated ``local`` config, on loopback.

Builds the ``local`` environment, starts the mock provider, Redis (when ``redis-server`` exists), a local
S3 server for LiteLLM's request log (moto, from the dev environment) and the gateway (LiteLLM by default,
``ENGINE=portkey`` for the Portkey gateway), then either waits for Ctrl-C (``run``) or sends one request
per routed task and exits (``--smoke``). Every process it started is
stopped on the way out, whatever the reason, and then its work folder (mode 0700: configs, which may
hold a real provider's key, and this run's application keys) is deleted. The logs are kept in a folder
of their own, whose path is printed, unless ``--discard-logs`` (``make run DISCARD_LOGS=1``).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import FrameType

import httpx

from gateway_config.errors import InputError
from gateway_config.runtime_env import MASTER_KEY
from gateway_config.spec import RoutingSpec
from local.client import (
    CHAT_PATH,
    MOCK_KEY,
    bearer,
    chat_body,
    portkey_headers,
    post_chat,
    target_label,
)
from local.environment import (
    ADMIN_KEY_FILE,
    LocalEnvironment,
    build_local_tree,
    load_local_spec,
    prepare_environment,
    private_work_dir,
)
from local.processes import (
    MOTO_SERVER,
    ServerProcess,
    redis_server_path,
    start_engine,
    start_mock_provider,
    start_redis_pair,
    start_s3,
)
from local.request_log import LocalRequestLog
from runtime.engines import DEFAULT_ENGINE, ENGINES, Engine


class Stop(Exception):
    """Raised from the SIGTERM handler so that cleanup runs as for Ctrl-C."""


@contextmanager
def _stop_on_exit(server: ServerProcess) -> Iterator[ServerProcess]:
    try:
        yield server
    finally:
        server.stop()


def application_for(env: LocalEnvironment, task: str) -> str | None:
    """The first application whose key may use ``task``, if any."""
    return next((name for name in sorted(env.application_keys) if task in env.application_tasks(name)), None)


def _headers(engine: Engine, env: LocalEnvironment, task: str) -> dict[str, str]:
    if engine.route_selector == "model_group":
        # What a client sends: an application's key; the administrators' key where none may use the task.
        application = application_for(env, task)
        return bearer(env.application_keys[application] if application else env.env[MASTER_KEY])
    return portkey_headers(env.portkey_config(task))


def curl_command(engine: Engine, gateway_url: str, env: LocalEnvironment, task: str, keys: Path) -> str:
    """A request to paste. Keys stay in their files (``curl -H @file``), off the command line; the Portkey
    config is read from its file too (a real provider's key stays there)."""
    body = json.dumps(chat_body(task, "Say hello", max_tokens=64))
    if engine.route_selector == "model_group":
        application = application_for(env, task)
        auth = f"-H @{shlex.quote(str(keys / f'{application or ADMIN_KEY_FILE}.header'))}"
    else:
        config = shlex.quote(str(env.portkey_config_path(task)))
        auth = f"-H 'Authorization: Bearer {MOCK_KEY}' -H \"x-portkey-config: $(tr -d '\\n ' < {config})\""
    return f"curl -sS {gateway_url}{CHAT_PATH} -H 'Content-Type: application/json' {auth} -d {shlex.quote(body)}"


def client_notes(engine: Engine, env: LocalEnvironment, gateway_url: str, keys: Path) -> list[str]:
    """How a client calls this gateway, and what the engine does not check (docs/client-api.md)."""
    if not engine.authenticates_clients:
        return [
            f"{engine.name} (open-source build) checks no keys: any caller is accepted, whatever it sends.",
            "A client names its task with the task's config (x-portkey-config, portkey/<task>.json); GET /v1/models",
            "is forwarded to the config's first target and lists that provider's models, not the tasks.",
            "Embeddings run in Snowflake Cortex (routing.json), never through this gateway.",
        ]
    tasks = env.gateway_tasks()
    example_key = keys / f"{(application_for(env, tasks[0]) if tasks else None) or ADMIN_KEY_FILE}.key"
    lines = [f"Application keys for this run (files readable by you only, deleted on exit): {keys}/"]
    for name in sorted(env.application_keys):
        lines.append(f"  {name + '.key':<28} tasks: {', '.join(env.application_tasks(name))}")
    lines += [
        f"  {ADMIN_KEY_FILE + '.key':<28} the administrators' (master) key: every route; not for applications",
        "For the SDKs (docs/client-api.md), in your shell; the key goes from its file to the environment:",
        f'  export LLM_GATEWAY_URL={gateway_url} LLM_GATEWAY_KEY="$(cat {shlex.quote(str(example_key))})"',
    ]
    return lines


def _logs_folder(discard: bool) -> Path:
    # Kept after the run unless discarded: outside the work folder, which is deleted on exit.
    return Path(tempfile.mkdtemp(prefix="llm-gateway-logs-" if not discard else "llm-gateway-logs-discarded-"))


def _targets_table(env: LocalEnvironment) -> str:
    rows = [("task", "route", "targets (in order)")]
    for name, task in env.routing["tasks"].items():
        targets = ", ".join(
            target_label(t) + (" (real)" if t["provider"] in env.real_providers else "")
            for t in task.get("targets", [])
        )
        rows.append((name, str(task.get("route")), targets or "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(2)]
    return "\n".join(f"  {r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]}" for r in rows)


def _served_by(target: str | None, text: str) -> str:
    if target:
        return f"mock {target}"
    try:
        return f"{json.loads(text).get('model', '?')} (real provider)"
    except ValueError:
        return "?"


def smoke(engine: Engine, gateway_url: str, env: LocalEnvironment, timeout: float) -> bool:
    """One request per routed task; print who served it; True if every task answered 200."""
    ok = True
    with httpx.Client(base_url=gateway_url, timeout=timeout) as client:
        for task in env.gateway_tasks():
            body = chat_body(task, f"smoke test for {task}", max_tokens=32)
            try:
                answer = post_chat(client, body, _headers(engine, env, task))
            except httpx.HTTPError as error:
                print(f"  FAIL {task:<24} {type(error).__name__}: {error}")
                ok = False
                continue
            if answer.status == 200:
                print(
                    f"  ok   {task:<24} served by {_served_by(answer.target, answer.text):<48} "
                    f"{answer.seconds * 1000:7.0f} ms"
                )
            else:
                print(f"  FAIL {task:<24} HTTP {answer.status}: {answer.text[:200]}")
                ok = False
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--engine", choices=sorted(ENGINES), default=os.environ.get("ENGINE", DEFAULT_ENGINE) or DEFAULT_ENGINE
    )
    parser.add_argument("--smoke", action="store_true", help="one request per routed task, then stop")
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("PORT", "0")), help="gateway port (default: a free one)"
    )
    parser.add_argument("--request-timeout", type=float, default=30.0)
    parser.add_argument(
        "--discard-logs",
        action="store_true",
        default=os.environ.get("DISCARD_LOGS", "") not in ("", "0"),
        help="delete the servers' logs on exit (default: keep them and print where)",
    )
    args = parser.parse_args(argv)
    engine = ENGINES[args.engine]
    try:
        spec = load_local_spec()  # validated once for the whole run
    except InputError as error:
        print("\n".join(error.lines()), file=sys.stderr)
        return 2

    def on_term(signum: int, frame: FrameType | None) -> None:
        raise Stop

    # Installed explicitly: a process started in the background inherits SIGINT ignored.
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    logs = _logs_folder(args.discard_logs)
    try:
        return _run(args, engine, spec, logs)
    finally:
        if args.discard_logs:
            shutil.rmtree(logs, ignore_errors=True)
        else:
            print(f"logs kept in {logs} (DISCARD_LOGS=1 deletes them on exit)")


def _run(args: argparse.Namespace, engine: Engine, spec: RoutingSpec, logs: Path) -> int:
    with ExitStack() as stack:
        try:
            # Entered first, so it is deleted last: after every server that writes into it has stopped.
            work = stack.enter_context(private_work_dir("llm-gateway-local-"))
            generated = build_local_tree(work / "generated", spec)
            mock = stack.enter_context(_stop_on_exit(start_mock_provider(logs, routing=generated / "routing.json")))
            redis_endpoints = None  # without them prepare_environment switches the cache off and notes why
            if redis_server_path() is not None:
                # As in the cluster: the response cache and the router's state, each its own Redis, each
                # with a random password the server reads (hashed) from its ACL file.
                servers = start_redis_pair(logs)
                stack.callback(servers.stop)
                redis_endpoints = servers.endpoints
            request_log = None  # without it the request-log callback is dropped from the config
            if MOTO_SERVER.exists() and engine.writes_request_log:
                s3 = stack.enter_context(_stop_on_exit(start_s3(logs)))
                request_log = LocalRequestLog(s3.url)
                request_log.create_bucket()
            env = prepare_environment(
                generated,
                work / "config",
                mock.url,
                redis_endpoints,
                environ=os.environ,
                real_providers_from=None if args.smoke else spec,
                request_log=request_log,
            )
            for note in env.notes:
                print(note)
            gateway = start_engine(engine, env.root, logs, env.env, args.port or None)
            stack.enter_context(_stop_on_exit(gateway))
            keys = work / "keys"
            env.write_key_files(keys)

            print(f"\n{args.engine} gateway: {gateway.url}    mock provider: {mock.url}    logs: {logs}")
            print(f"config: {env.root}    (work folder, deleted on exit)")
            if "metrics_url" in gateway.extra:
                # What Prometheus scrapes: no key needed there, and the API port's /metrics stays closed.
                print(
                    f"metrics: {gateway.extra['metrics_url']}    "
                    "(the Prometheus scrape, no key; the API port's /metrics needs one)"
                )
            if request_log is not None:
                print(
                    f"request log: {request_log.url} on the local S3 at {request_log.endpoint} "
                    f"(bucket {request_log.bucket}, any credentials; written every "
                    f"{env.env.get('DEFAULT_S3_FLUSH_INTERVAL_SECONDS', '?')} s)"
                )
            print()
            print(_targets_table(env))
            print("\n" + "\n".join(client_notes(engine, env, gateway.url, keys)))
            tasks = env.gateway_tasks()
            if args.smoke:
                print(f"\nsmoke: one request per routed task through {args.engine}")
                ok = smoke(engine, gateway.url, env, args.request_timeout)
                print("smoke " + ("passed" if ok else "FAILED"))
                return 0 if ok else 1
            if tasks:
                print(f"\nTry it:\n  {curl_command(engine, gateway.url, env, tasks[0], keys)}")
            print("\nCtrl-C stops everything.", flush=True)
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
