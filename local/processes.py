"""Start and stop the local servers (mock provider, Redis, LiteLLM proxy, Portkey gateway) on loopback.

Every server runs in its own process group (``start_new_session=True``) and is stopped by that group's
id, so children it spawned (LiteLLM's workers, node's helpers) go with it. Ports come from the OS.
Readiness is polled with a deadline; a server that does not come up raises :class:`ServerStartError`
with the tail of its log.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis

from runtime.engines import ENGINES, Engine

REPO_ROOT = Path(__file__).resolve().parents[1]
LITELLM_VENV = REPO_ROOT / "runtime" / "litellm" / ".venv"
LITELLM_BIN = LITELLM_VENV / "bin" / "litellm"
PORTKEY_DIR = REPO_ROOT / "runtime" / "portkey"
PORTKEY_SERVER = PORTKEY_DIR / "node_modules" / "@portkey-ai" / "gateway" / "build" / "start-server.js"
PORTKEY_PRELOAD = PORTKEY_DIR / "loopback.cjs"
PORTKEY_FETCH_PRELOAD = PORTKEY_DIR / "mutable-fetch-headers.cjs"
LOOPBACK = "127.0.0.1"

# How to get each tool on a fresh machine (also the text of a local test's skip reason).
INSTALL_HINTS = {
    **{engine.name: f"make {engine.install_target}" for engine in ENGINES.values()},
    "node": "apt-get install -y --no-install-recommends nodejs npm",
    "redis-server": "make runtime-redis  (apt-get install -y --no-install-recommends redis-server)",
}


class ServerStartError(RuntimeError):
    """A server exited or did not become ready before its deadline."""


@dataclass
class ServerProcess:
    """A server started by :func:`start_process`; ``pgid`` is what :meth:`stop` signals."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    host: str = LOOPBACK
    port: int = 0
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def pgid(self) -> int:
        return self.popen.pid  # start_new_session=True: the child leads its own group

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def running(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        return log_tail(self.log_path, lines)

    def stop(self, timeout: float = 10.0) -> None:
        stop_process_group(self.popen, timeout)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (bind port 0, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def log_tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.replace("\r", "\n").splitlines()[-lines:])


def start_process(
    name: str,
    argv: Sequence[str | os.PathLike[str]],
    log_path: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    port: int = 0,
) -> ServerProcess:
    """Start ``argv`` in a new session (own process group), stdout and stderr to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        popen = subprocess.Popen(
            [str(arg) for arg in argv],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
        )
    return ServerProcess(name=name, popen=popen, log_path=log_path, port=port)


def stop_process_group(popen: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM the process group led by ``popen``, then SIGKILL whatever is left after ``timeout``."""
    pgid = popen.pid
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        popen.poll()
        if popen.returncode is not None and not _group_alive(pgid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        popen.wait(timeout=5)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def wait_until_ready(server: ServerProcess, probe: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``probe`` until it returns True; raise with the server's log if it dies or the deadline passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not server.running():
            raise ServerStartError(
                f"{server.name} exited with status {server.popen.returncode} before {what} was ready; "
                f"log {server.log_path}:\n{server.log_tail()}"
            )
        with contextlib.suppress(OSError, httpx.TransportError):
            if probe():
                return
        time.sleep(0.1)
    server.stop()
    raise ServerStartError(
        f"{server.name} not ready ({what}) within {timeout:.0f} s; log {server.log_path}:\n{server.log_tail()}"
    )


def port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def http_ok(url: str) -> bool:
    """True when ``url`` answers 2xx (a refused connection raises, which the poller treats as not yet)."""
    return httpx.get(url, timeout=2).is_success


def _started(server: ServerProcess, probe: Callable[[], bool], timeout: float, what: str) -> ServerProcess:
    try:
        wait_until_ready(server, probe, timeout, what)
    except BaseException:
        server.stop()
        raise
    return server


# --- the servers --------------------------------------------------------------------------------------


def start_mock_provider(
    log_dir: Path, port: int | None = None, timeout: float = 15.0, routing: Path | None = None
) -> ServerProcess:
    """The mock provider as its own process (``python -m local.mock_provider``); with ``routing`` (a
    ``routing.json``) each provider's ``GET /v1/models`` lists the models routed to it."""
    port = port or free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "PYTHONUNBUFFERED": "1"}
    server = start_process(
        "mock-provider",
        [
            sys.executable,
            "-m",
            "local.mock_provider",
            "--port",
            str(port),
            *(["--routing", str(routing)] if routing else []),
        ],
        log_dir / "mock-provider.log",
        env=env,
        cwd=REPO_ROOT,
        port=port,
    )
    return _started(server, lambda: http_ok(f"{server.url}/_control/health"), timeout, "/_control/health")


def redis_server_path() -> str | None:
    return shutil.which("redis-server")


def redis_ping(host: str, port: int, password: str | None = None) -> bool:
    """PING with the official client; a server still loading or refusing the password is not ready."""
    client = redis.Redis(host=host, port=port, password=password, socket_timeout=1, socket_connect_timeout=1)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def start_redis(
    log_dir: Path, port: int | None = None, password: str | None = None, timeout: float = 15.0
) -> ServerProcess:
    """A throwaway redis-server on loopback: no persistence, its own port, optional requirepass."""
    binary = redis_server_path()
    if binary is None:
        raise ServerStartError(f"redis-server not found; install with: {INSTALL_HINTS['redis-server']}")
    port = port or free_port()
    data_dir = log_dir / f"redis-{port}"
    data_dir.mkdir(parents=True, exist_ok=True)
    argv = [
        binary,
        "--bind",
        LOOPBACK,
        "--port",
        str(port),
        "--save",
        "",
        "--appendonly",
        "no",
        "--daemonize",
        "no",
        "--protected-mode",
        "yes",
        "--dir",
        str(data_dir),
        "--logfile",
        "",
    ]
    if password:
        argv += ["--requirepass", password]
    server = start_process("redis", argv, log_dir / f"redis-{port}.log", port=port)
    if password:
        server.extra["password"] = password
    return _started(server, lambda: redis_ping(LOOPBACK, port, password), timeout, "PING")


def litellm_available() -> bool:
    return LITELLM_BIN.exists()


def start_litellm(
    config_path: Path,
    log_dir: Path,
    env: Mapping[str, str] | None = None,
    port: int | None = None,
    timeout: float = 60.0,
    name: str = "litellm",
) -> ServerProcess:
    """The LiteLLM proxy from runtime/litellm/.venv; ready when ``/health/liveliness`` answers."""
    if not litellm_available():
        raise ServerStartError(f"{LITELLM_BIN} missing; install with: {INSTALL_HINTS['litellm']}")
    port = port or free_port()
    process_env = {**os.environ, **(env or {})}
    # The generated litellm/env.json sets this (prepare_environment merges it into ``env``); the benches'
    # minimal and naive configs start the proxy without it. Without it LiteLLM downloads its price map
    # from GitHub at every start (slow, and fails offline).
    process_env.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    # Keep the proxy's own state out of the repo and its telemetry off.
    process_env.setdefault("LITELLM_TELEMETRY", "False")
    process_env.pop("VIRTUAL_ENV", None)
    server = start_process(
        name,
        [LITELLM_BIN, "--config", config_path, "--host", LOOPBACK, "--port", str(port)],
        log_dir / f"{name}-{port}.log",
        env=process_env,
        cwd=log_dir,
        port=port,
    )
    return _started(server, lambda: http_ok(f"{server.url}/health/liveliness"), timeout, "/health/liveliness")


def node_path() -> str | None:
    return shutil.which("node")


def portkey_available() -> bool:
    return node_path() is not None and PORTKEY_SERVER.exists()


def start_portkey(
    log_dir: Path, env: Mapping[str, str] | None = None, port: int | None = None, timeout: float = 30.0
) -> ServerProcess:
    """The Portkey gateway under node, headless, kept on loopback by the ``loopback.cjs`` preload.

    ``mutable-fetch-headers.cjs`` makes streamed requests work (see that file)."""
    node = node_path()
    if node is None:
        raise ServerStartError(f"node not found; install with: {INSTALL_HINTS['node']}")
    if not PORTKEY_SERVER.exists():
        raise ServerStartError(f"{PORTKEY_SERVER} missing; install with: {INSTALL_HINTS['portkey']}")
    port = port or free_port()
    # NODE_ENV=production and --headless: otherwise it serves a console whose /log/stream shows API keys.
    process_env = {**os.environ, **(env or {}), "NODE_ENV": "production", "LOOPBACK_HOST": LOOPBACK}
    server = start_process(
        "portkey",
        [
            node,
            "--require",
            PORTKEY_PRELOAD,
            "--require",
            PORTKEY_FETCH_PRELOAD,
            PORTKEY_SERVER,
            f"--port={port}",
            "--headless",
        ],
        log_dir / f"portkey-{port}.log",
        env=process_env,
        cwd=PORTKEY_DIR,
        port=port,
    )
    return _started(server, lambda: http_ok(f"{server.url}/"), timeout, "GET /")


# --- the engines of runtime/engines.py, started the same way -------------------------------------


def _start_litellm_engine(config_root: Path, log_dir: Path, env: Mapping[str, str], port: int | None) -> ServerProcess:
    return start_litellm(config_root / "litellm" / "config.yaml", log_dir, env=env, port=port)


def _start_portkey_engine(config_root: Path, log_dir: Path, env: Mapping[str, str], port: int | None) -> ServerProcess:
    # Configs travel per request (x-portkey-config): nothing to read at start.
    return start_portkey(log_dir, env=env, port=port)


# How `make run` and `make smoke` start each engine (a test keeps the keys equal to the registry's).
ENGINE_STARTERS: dict[str, Callable[[Path, Path, Mapping[str, str], int | None], ServerProcess]] = {
    "litellm": _start_litellm_engine,
    "portkey": _start_portkey_engine,
}


def start_engine(
    engine: Engine, config_root: Path, log_dir: Path, env: Mapping[str, str], port: int | None = None
) -> ServerProcess:
    """Start ``engine`` on loopback serving the (rewritten) generated tree at ``config_root``."""
    return ENGINE_STARTERS[engine.name](config_root, log_dir, env, port)
