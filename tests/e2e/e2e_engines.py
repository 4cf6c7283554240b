"""LiteLLM engines for the end-to-end tests, handed out by the tasks a test faults (see conftest.py)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from e2e_support import gateway_client, unique_body

from local.client import CHAT_PATH, gateway_tasks, litellm_headers
from local.environment import LocalEnvironment, prepare_environment
from local.mock_provider import MockControl
from local.processes import (
    INSTALL_HINTS,
    RedisServers,
    ServerProcess,
    engine_environment,
    litellm_available,
    redis_server_path,
    start_litellm,
    start_redis_pair,
)
from local.request_log import LocalRequestLog
from runtime.engines import LITELLM


def require_tool(tool: str, available: bool) -> None:
    """Fail under CI (a green run must not hide a missing install step), skip locally with the fix."""
    if available:
        return
    message = f"{tool} is not installed; install with: {INSTALL_HINTS[tool]}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@dataclass
class LiteLLMEngine:
    """One LiteLLM proxy on the generated config with the two Redis instances it uses: the response
    cache and the router's shared state."""

    name: str
    server: ServerProcess
    redis: RedisServers
    env: LocalEnvironment
    claimed: set[str] = field(default_factory=set)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def headers(self) -> dict[str, str]:
        return litellm_headers(self.env.env["LITELLM_MASTER_KEY"])

    def client(self, timeout: float = 30.0) -> httpx.Client:
        return gateway_client(self.url, self.headers, timeout)

    def warm_up(self, mock: MockControl) -> None:
        """Pay the proxy's first-request costs (lazy imports: seconds here) before a test times anything.

        One plain and one streamed request per task through the mock provider, whose records are then
        reset. The LiteLLM proxy drops a client's ``mock_response``, so there is no warm-up without calls.
        """
        faults = mock.faults()
        if faults:
            raise RuntimeError(f"claim the engine before injecting faults (the warm-up needs a healthy mock): {faults}")
        with self.client() as client:
            for task in gateway_tasks(self.env.routing):
                for stream in (False, True):
                    response = client.post(CHAT_PATH, json=unique_body(task, "warm-up", stream=stream))
                    if response.status_code != 200:
                        raise RuntimeError(
                            f"{self.name} warm-up of {task} answered {response.status_code}: "
                            f"{response.text[:300]}\n{self.server.log_tail()}"
                        )
        mock.reset()

    def stop(self) -> None:
        self.server.stop()
        self.redis.stop()


class LiteLLMPool:
    """LiteLLM engines handed out by the tasks a test faults (see the module docstring)."""

    def __init__(self, generated: Path, work_dir: Path, mock_url: str) -> None:
        self.generated = generated
        self.work_dir = work_dir
        self.mock_url = mock_url
        self.engines: list[LiteLLMEngine] = []
        self._started = 0

    def start_engine(
        self,
        label: str,
        extra_env: dict[str, str] | None = None,
        redis: RedisServers | None = None,
        cache_maxmemory_mb: int | None = None,
        request_log: LocalRequestLog | None = None,
        metrics_port: int | None = None,
    ) -> LiteLLMEngine:
        """A new LiteLLM proxy with two Redis instances of its own (shared cooldowns would leak between
        engines), or on ``redis`` (a second replica of another engine: the caller stops them).

        ``extra_env``: engine settings a test needs on top of the generated environment (say why).
        ``request_log``: the local S3 bucket its request log goes to (else the callback is dropped).
        ``metrics_port``: serve the Prometheus registry there, as the pods do (``server.extra["metrics_url"]``)."""
        require_tool("redis-server", redis_server_path() is not None)
        require_tool("litellm", litellm_available())
        self._started += 1
        name = f"litellm-{self._started}-{label}"
        logs = self.work_dir / "logs"
        owned = redis is None
        servers = redis or start_redis_pair(logs, cache_maxmemory_mb=cache_maxmemory_mb)
        try:
            env = prepare_environment(
                self.generated, self.work_dir / name, self.mock_url, servers.endpoints, request_log=request_log
            )
            # The deployment's closed-by-default environment (runtime/engines.py), as make run applies it.
            plain = engine_environment(LITELLM, env.root, self.work_dir / name)
            server = start_litellm(
                env.litellm_config,
                logs,
                env={**plain, **env.env, **(extra_env or {})},
                name=name,
                metrics_port=metrics_port,
            )
        except BaseException:
            if owned:
                servers.stop()
            raise
        engine = LiteLLMEngine(name, server, servers, env)
        try:
            engine.warm_up(MockControl(self.mock_url))
        except BaseException:
            engine.stop()
            raise
        return engine

    def claim(self, tasks: Iterable[str]) -> LiteLLMEngine:
        """An engine on which none of ``tasks`` has been faulted yet; the tasks are now this caller's."""
        wanted = set(tasks)
        engine = self.clean(wanted)
        engine.claimed |= wanted
        return engine

    def clean(self, tasks: Iterable[str]) -> LiteLLMEngine:
        """An engine on which no test has faulted ``tasks`` (a test that injects no fault, but whose
        outcome a cooled-down deployment would change), left unclaimed for the fault tests after it."""
        wanted = set(tasks)
        for engine in self.engines:
            if not wanted & engine.claimed:
                return engine
        engine = self.start_engine("pool")
        self.engines.append(engine)
        return engine

    def stop_all(self) -> None:
        for engine in self.engines:
            engine.stop()
        self.engines.clear()
