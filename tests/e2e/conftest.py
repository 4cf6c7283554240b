"""Session-scoped real servers for the end-to-end tests: mock provider, Redis, LiteLLM, Portkey.

Each engine starts once per session (LiteLLM takes seconds to boot) with the generated ``local``
config, changed only in its endpoints (``local.environment``). The mock provider is reset before every
test that uses the ``mock`` fixture. Under ``CI=true`` a missing runtime fails the run; locally the
tests that need it are skipped with the command that installs it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:  # `.venv/bin/pytest` does not put the repository root on sys.path
    sys.path.insert(0, str(REPO_ROOT))

from local.environment import LocalEnvironment, RedisEndpoint, build_local_tree, prepare_environment  # noqa: E402
from local.mock_provider import MockControl  # noqa: E402
from local.processes import (  # noqa: E402
    INSTALL_HINTS,
    LOOPBACK,
    ServerProcess,
    litellm_available,
    portkey_available,
    redis_server_path,
    start_litellm,
    start_mock_provider,
    start_portkey,
    start_redis,
)

REDIS_PASSWORD = "e2e-redis-password"


def require_tool(tool: str, available: bool) -> None:
    """Fail under CI (a green run must not hide a missing install step), skip locally with the fix."""
    if available:
        return
    message = f"{tool} is not installed; install with: {INSTALL_HINTS[tool]}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def e2e_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="session")
def generated_local(e2e_dir: Path) -> Path:
    """The ``local`` environment built from the committed spec by the real generator."""
    return build_local_tree(e2e_dir / "generated")


@pytest.fixture(scope="session")
def mock_server(e2e_dir: Path) -> Iterator[ServerProcess]:
    server = start_mock_provider(e2e_dir / "logs")
    yield server
    server.stop()


@pytest.fixture
def mock(mock_server: ServerProcess) -> MockControl:
    """The session's mock provider, with no faults and no recorded calls."""
    control = MockControl(mock_server.url)
    control.reset()
    return control


@pytest.fixture(scope="session")
def redis_server(e2e_dir: Path) -> Iterator[ServerProcess]:
    require_tool("redis-server", redis_server_path() is not None)
    server = start_redis(e2e_dir / "logs", password=REDIS_PASSWORD)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def litellm_env(
    generated_local: Path, e2e_dir: Path, mock_server: ServerProcess, redis_server: ServerProcess
) -> LocalEnvironment:
    return prepare_environment(
        generated_local, e2e_dir / "litellm-config", mock_server.url,
        RedisEndpoint(LOOPBACK, redis_server.port, REDIS_PASSWORD),
    )


@pytest.fixture(scope="session")
def litellm_gateway(litellm_env: LocalEnvironment, e2e_dir: Path) -> Iterator[ServerProcess]:
    """The LiteLLM proxy on the generated config (endpoints rewritten), Redis attached."""
    require_tool("litellm", litellm_available())
    server = start_litellm(litellm_env.litellm_config, e2e_dir / "logs", env=litellm_env.env)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def portkey_env(generated_local: Path, e2e_dir: Path, mock_server: ServerProcess) -> LocalEnvironment:
    return prepare_environment(generated_local, e2e_dir / "portkey-config", mock_server.url, None)


@pytest.fixture(scope="session")
def portkey_gateway(e2e_dir: Path) -> Iterator[ServerProcess]:
    """The Portkey gateway (configs travel per request in ``x-portkey-config``)."""
    require_tool("portkey", portkey_available())
    server = start_portkey(e2e_dir / "logs")
    yield server
    server.stop()
