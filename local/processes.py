"""Start and stop the local servers (mock provider, Redis, LiteLLM proxy, Portkey gateway) on loopback.

Every server runs in its own process group (``start_new_session=True``) and is stopped by that group's
id, so children it spawned (LiteLLM's workers, node's helpers) go with it. Ports come from the OS.
Readiness is polled with a deadline; a server that does not come up raises :class:`ServerStartError`
with the tail of its log.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
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

from gateway_config.runtime_env import REDIS_USERNAME, redis_acl_rules
from program.generated_tree import custom_hosts
from runtime.engines import (
    ENGINES,
    LITELLM,
    NO_BROWSER_ORIGIN,
    NO_TRUSTED_HOST,
    POD_TMP,
    PROMETHEUS_MULTIPROC_DIR,
    Engine,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
LITELLM_VENV = REPO_ROOT / "runtime" / "litellm" / ".venv"
# moto's S3 server (requirements-dev.txt), installed next to the interpreter running this module.
MOTO_SERVER = Path(sys.executable).parent / "moto_server"
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
    "moto": "make venv  (moto[server] is in requirements-dev.txt)",
    "prometheus": "make runtime-prometheus  (apt-get install -y --no-install-recommends prometheus)",
    "alertmanager": "make runtime-prometheus  (apt-get install -y --no-install-recommends prometheus-alertmanager)",
}


# What a local server may see of the caller's environment: enough to run, nothing else (no cloud
# credentials, no REDIS_URL that LiteLLM would pick up, no keys the caller happens to have exported).
_INHERITED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR")
# The local stand-in for Redis' `probe` user and the admin user the tests inspect Redis with.
ADMIN_USERNAME = "admin"


def minimal_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The few variables a server needs from the caller's environment, plus ``extra``."""
    return {**{name: os.environ[name] for name in _INHERITED_ENV if name in os.environ}, **(extra or {})}


@dataclass(frozen=True)
class LocalRedis:
    """A Redis server this run started on loopback (not the cluster's: see components/redis.py).

    ``username``/``password`` are the gateway's ACL user; ``admin_password`` is the local-only admin
    user the tests inspect keys and the ACL LOG with.
    """

    host: str
    port: int
    password: str
    admin_password: str
    username: str = REDIS_USERNAME

    @property
    def url(self) -> str:
        """``redis://user:password@host:port``, as the semantic cache takes it."""
        return f"redis://{self.username}:{self.password}@{self.host}:{self.port}"

    def client(self, admin: bool = True) -> redis.Redis:
        """A redis-py client as the admin (inspection) or as the gateway user."""
        username, password = (ADMIN_USERNAME, self.admin_password) if admin else (self.username, self.password)
        return redis.Redis(host=self.host, port=self.port, username=username, password=password, socket_timeout=2)


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
    env = minimal_environment({"PYTHONPATH": str(REPO_ROOT), "PYTHONUNBUFFERED": "1"})
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


def redis_ping(host: str, port: int, username: str | None = None, password: str | None = None) -> bool:
    """PING with the official client; a server still loading or refusing the user is not ready."""
    client = redis.Redis(
        host=host, port=port, username=username, password=password, socket_timeout=1, socket_connect_timeout=1
    )
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def _hashed(password: str) -> str:
    return "#" + hashlib.sha256(password.encode()).hexdigest()


def start_redis(
    log_dir: Path,
    port: int | None = None,
    password: str | None = None,
    eviction_policy: str = "allkeys-lru",
    maxmemory_mb: int | None = None,
    timeout: float = 15.0,
) -> tuple[ServerProcess, LocalRedis]:
    """A throwaway redis-server on loopback with the cluster's ACL shape: no persistence, its own port.

    The gateway user gets the commands LiteLLM sends (``gateway_config.runtime_env``) and a random
    password (unless given); the ``default`` user is off. The ACL file (0600, in ``log_dir``) holds
    only password hashes, and nothing secret is on the command line.
    """
    binary = redis_server_path()
    if binary is None:
        raise ServerStartError(f"redis-server not found; install with: {INSTALL_HINTS['redis-server']}")
    port = port or free_port()
    password = password or secrets.token_hex(20)
    admin_password = secrets.token_hex(20)
    data_dir = log_dir / f"redis-{port}"
    data_dir.mkdir(parents=True, exist_ok=True)
    acl = data_dir / "users.acl"
    fd = os.open(acl, os.O_WRONLY | os.O_TRUNC | os.O_CREAT, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(
            "user default off\n"
            f"user {REDIS_USERNAME} on {_hashed(password)} {redis_acl_rules(semantic_cache=False)}\n"
            f"user {ADMIN_USERNAME} on {_hashed(admin_password)} ~* &* +@all\n"
        )
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
        "--aclfile",
        str(acl),
        "--maxmemory-policy",
        eviction_policy,
    ]
    if maxmemory_mb is not None:
        argv += ["--maxmemory", f"{maxmemory_mb}mb"]
    server = start_process("redis", argv, log_dir / f"redis-{port}.log", env=minimal_environment(), port=port)
    endpoint = LocalRedis(LOOPBACK, port, password, admin_password)
    _started(server, lambda: redis_ping(LOOPBACK, port, REDIS_USERNAME, password), timeout, "PING")
    return server, endpoint


@dataclass(frozen=True)
class LocalRedisPair:
    """The two Redis instances of a local gateway, as in the cluster (components/redis.py)."""

    cache: LocalRedis
    state: LocalRedis


@dataclass
class RedisServers:
    """The running servers behind a :class:`LocalRedisPair`."""

    cache: ServerProcess
    state: ServerProcess
    endpoints: LocalRedisPair

    def stop(self) -> None:
        self.cache.stop()
        self.state.stop()


def start_redis_pair(log_dir: Path, cache_maxmemory_mb: int | None = None) -> RedisServers:
    """The response cache (``allkeys-lru``, capped at ``cache_maxmemory_mb`` if given) and the router's
    state (``noeviction``), each its own redis-server. Stops the first if the second fails to start."""
    cache, cache_endpoint = start_redis(log_dir, eviction_policy="allkeys-lru", maxmemory_mb=cache_maxmemory_mb)
    try:
        state, state_endpoint = start_redis(log_dir, eviction_policy="noeviction")
    except BaseException:
        cache.stop()
        raise
    return RedisServers(cache, state, LocalRedisPair(cache_endpoint, state_endpoint))


def start_s3(log_dir: Path, port: int | None = None, timeout: float = 30.0) -> ServerProcess:
    """An S3-compatible server on loopback (moto's server mode): where the request log lands locally."""
    if not MOTO_SERVER.exists():
        raise ServerStartError(f"{MOTO_SERVER} missing; install with: {INSTALL_HINTS['moto']}")
    port = port or free_port()
    server = start_process(
        "s3",
        [MOTO_SERVER, "-H", LOOPBACK, "-p", str(port)],
        log_dir / f"s3-{port}.log",
        env=minimal_environment(),
        cwd=log_dir,
        port=port,
    )
    return _started(server, lambda: http_ok(f"{server.url}/moto-api/data.json"), timeout, "/moto-api/data.json")


def litellm_available() -> bool:
    return LITELLM_BIN.exists()


def start_litellm(
    config_path: Path,
    log_dir: Path,
    env: Mapping[str, str] | None = None,
    port: int | None = None,
    timeout: float = 60.0,
    name: str = "litellm",
    metrics_port: int | None = None,
) -> ServerProcess:
    """The LiteLLM proxy from runtime/litellm/.venv; ready when ``/health/liveliness`` answers.

    ``metrics_port``: also serve the Prometheus registry there, as the pods do (runtime/engines.py);
    its URL is ``extra["metrics_url"]``. The proxy answers only once that port serves."""
    if not litellm_available():
        raise ServerStartError(f"{LITELLM_BIN} missing; install with: {INSTALL_HINTS['litellm']}")
    port = port or free_port()
    process_env = minimal_environment(env)
    # The generated litellm/env.json sets this (prepare_environment merges it into ``env``); the benches'
    # minimal and naive configs start the proxy without it. Without it LiteLLM downloads its price map
    # from GitHub at every start (slow, and fails offline).
    process_env.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    # Keep the proxy's own state out of the repo and its telemetry off.
    process_env.setdefault("LITELLM_TELEMETRY", "False")
    # The pod's PYTHONPATH (runtime/engines.py ``hooks_import_dir``): the hooks beside the config
    # import their sibling module from there.
    process_env.setdefault("PYTHONPATH", str(config_path.parent))
    argv: list[str | os.PathLike[str]] = [LITELLM_BIN, "--config", config_path, "--host", LOOPBACK, "--port", str(port)]
    if metrics_port is not None:
        argv += ["--prometheus_metrics_port", str(metrics_port)]
        # Each proxy its own samples folder: LiteLLM's default is one shared /tmp folder it wipes at start.
        process_env.setdefault(PROMETHEUS_MULTIPROC_DIR, str(log_dir / f"{name}-{port}-prometheus"))
    if PROMETHEUS_MULTIPROC_DIR in process_env:
        # prometheus_client writes its first sample there (and fails if it is missing).
        Path(process_env[PROMETHEUS_MULTIPROC_DIR]).mkdir(parents=True, exist_ok=True)
    server = start_process(name, argv, log_dir / f"{name}-{port}.log", env=process_env, cwd=log_dir, port=port)
    if metrics_port is not None:
        server.extra["metrics_url"] = metrics_url(LITELLM, LOOPBACK, metrics_port)
    return _started(server, lambda: http_ok(f"{server.url}/health/liveliness"), timeout, "/health/liveliness")


def metrics_url(engine: Engine, host: str, port: int) -> str:
    """Where ``engine`` serves its Prometheus registry on ``host:port`` (its metrics port)."""
    if engine.metrics_path is None:
        raise ValueError(f"{engine.name} exports no metrics")
    return f"http://{host}:{port}{engine.metrics_path}"


def prometheus_path() -> str | None:
    return shutil.which("prometheus")


def alertmanager_path() -> str | None:
    # Debian's package names the binary prometheus-alertmanager; upstream's is alertmanager.
    return shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")


def start_prometheus(config_path: Path, log_dir: Path, port: int | None = None, timeout: float = 30.0) -> ServerProcess:
    """A Prometheus server on loopback with ``config_path`` and a throwaway TSDB in ``log_dir``."""
    binary = prometheus_path()
    if binary is None:
        raise ServerStartError(f"prometheus not found; install with: {INSTALL_HINTS['prometheus']}")
    port = port or free_port()
    data = log_dir / f"prometheus-{port}"
    server = start_process(
        "prometheus",
        [
            binary,
            f"--config.file={config_path}",
            f"--storage.tsdb.path={data}",
            "--storage.tsdb.retention.time=1d",
            f"--web.listen-address={LOOPBACK}:{port}",
        ],
        log_dir / f"prometheus-{port}.log",
        env=minimal_environment(),
        cwd=log_dir,
        port=port,
    )
    return _started(server, lambda: http_ok(f"{server.url}/-/ready"), timeout, "/-/ready")


def start_alertmanager(
    config_path: Path, log_dir: Path, port: int | None = None, timeout: float = 30.0
) -> ServerProcess:
    """An Alertmanager on loopback with ``config_path``, alone (no cluster port) and with throwaway storage."""
    binary = alertmanager_path()
    if binary is None:
        raise ServerStartError(f"alertmanager not found; install with: {INSTALL_HINTS['alertmanager']}")
    port = port or free_port()
    server = start_process(
        "alertmanager",
        [
            binary,
            f"--config.file={config_path}",
            f"--storage.path={log_dir / f'alertmanager-{port}'}",
            f"--web.listen-address={LOOPBACK}:{port}",
            # Empty: no gossip listener (it would bind every interface).
            "--cluster.listen-address=",
        ],
        log_dir / f"alertmanager-{port}.log",
        env=minimal_environment(),
        cwd=log_dir,
        port=port,
    )
    return _started(server, lambda: http_ok(f"{server.url}/-/ready"), timeout, "/-/ready")


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
    process_env = minimal_environment({**(env or {}), "NODE_ENV": "production", "LOOPBACK_HOST": LOOPBACK})
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


def engine_environment(engine: Engine, config_root: Path, work_dir: Path) -> dict[str, str]:
    """The engine's deployment environment (runtime/engines.py) as a local run applies it: closed
    switches, no browser origin, only the configs' own hosts trusted; paths moved into ``work_dir``."""
    # The pod's writable emptyDir is /tmp; locally the run's own work folder takes its place.
    env = {
        name: str(work_dir) + value.removeprefix(POD_TMP)
        if value == POD_TMP or value.startswith(POD_TMP + "/")
        else value
        for name, value in engine.plain_env
    }
    if engine.cors_origins_env is not None:
        env[engine.cors_origins_env] = NO_BROWSER_ORIGIN
    if engine.trusted_hosts_env is not None:
        configs = [json.loads(path.read_text()) for path in sorted((config_root / "portkey").glob("*.json"))]
        env[engine.trusted_hosts_env] = ",".join(custom_hosts(configs)) or NO_TRUSTED_HOST
    return env


def _start_litellm_engine(config_root: Path, log_dir: Path, env: Mapping[str, str], port: int | None) -> ServerProcess:
    plain = engine_environment(LITELLM, config_root, log_dir)
    # As in the pods: the scrape on a port of its own (runtime/engines.py), printed by `make run`.
    return start_litellm(
        config_root / "litellm" / "config.yaml", log_dir, env={**plain, **env}, port=port, metrics_port=free_port()
    )


def _start_portkey_engine(config_root: Path, log_dir: Path, env: Mapping[str, str], port: int | None) -> ServerProcess:
    # Configs travel per request (x-portkey-config): nothing to read at start.
    plain = engine_environment(ENGINES["portkey"], config_root, log_dir)
    return start_portkey(log_dir, env={**plain, **env}, port=port)


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
