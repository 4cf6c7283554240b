"""Real servers for the end-to-end tests: mock provider, Redis, LiteLLM engines, Portkey.

Every engine runs the generated ``local`` config, changed only in its endpoints (``local.environment``).
The mock provider is one per session and is reset before every test that uses the ``mock`` fixture.
Under ``CI=true`` a missing runtime fails the run; locally the tests that need it are skipped with the
command that installs it.

**Router state.** The Portkey gateway keeps no state between requests, so one process serves every
test. LiteLLM does: a failed deployment is cooled down for ``cooldown_time`` (30 s in the generated
config), per process and in the Redis the router shares. A fault test therefore *claims* the tasks it
faults from :class:`LiteLLMPool`, which hands out an engine (with its own Redis) on which no earlier
test has claimed them, starting a new one only when every running engine has. Tests that inject no
fault take an engine on which no task has been faulted, without claiming anything: a cooled-down
deployment can change a healthy request's outcome too (a group whose deployments are all cooled down
answers 429). They live in ``test_answers.py``, which runs first, so they share the first engine. A test
that kills Redis gets an engine of its own (``dedicated_litellm``).
LiteLLM needs ~10 s of CPU to boot on this 2-core machine, so the pool keeps the count at what the
claims need (two pool engines and the dedicated one for the current suite) instead of one per test.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_engines import LiteLLMEngine, LiteLLMPool, require_tool
from e2e_support import ERROR_BODIES

from local.client import gateway_tasks
from local.environment import LocalEnvironment, build_local_tree, load_local_spec, prepare_environment
from local.mock_provider import MockControl
from local.processes import ServerProcess, engine_environment, portkey_available, start_mock_provider, start_portkey
from runtime.engines import PORTKEY


@pytest.fixture(autouse=True)
def no_error_body_leaks_internals() -> Iterator[None]:
    """After every test: none of the error responses its clients received carries a traceback or a
    local path (docs/client-api.md: "never a traceback or a local path")."""
    first = len(ERROR_BODIES.seen)
    yield
    leaks = [entry for entry in ERROR_BODIES.seen[first:] if ERROR_BODIES.leaks(entry[2])]
    assert not leaks, f"error bodies with internals: {leaks}"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if ERROR_BODIES.seen:
        statuses = sorted({status for _, status, _ in ERROR_BODIES.seen})
        terminalreporter.write_line(
            f"e2e: scanned {len(ERROR_BODIES.seen)} error responses (statuses {statuses}) for internals"
        )


@pytest.fixture(scope="session")
def e2e_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="session")
def generated_local(e2e_dir: Path) -> Path:
    """The ``local`` environment built from the committed spec by the real generator."""
    return build_local_tree(e2e_dir / "generated", load_local_spec())


@pytest.fixture(scope="session")
def routing(generated_local: Path) -> dict[str, Any]:
    """The generated client manifest (``routing.json``): tasks, targets, traffic branches, experiments."""
    return json.loads((generated_local / "routing.json").read_text())


@pytest.fixture(scope="session")
def mock_server(e2e_dir: Path, generated_local: Path) -> Iterator[ServerProcess]:
    """The mock provider; each provider lists the models the generated routing sends it."""
    server = start_mock_provider(e2e_dir / "logs", routing=generated_local / "routing.json")
    yield server
    server.stop()


@pytest.fixture
def mock(mock_server: ServerProcess) -> MockControl:
    """The session's mock provider, with no faults and no recorded calls."""
    control = MockControl(mock_server.url)
    control.reset()
    return control


@pytest.fixture(scope="session")
def litellm_pool(generated_local: Path, e2e_dir: Path, mock_server: ServerProcess) -> Iterator[LiteLLMPool]:
    pool = LiteLLMPool(generated_local, e2e_dir, mock_server.url)
    yield pool
    pool.stop_all()


@pytest.fixture
def litellm(litellm_pool: LiteLLMPool, routing: dict[str, Any], mock: MockControl) -> LiteLLMEngine:
    """A LiteLLM engine on which no routed task has been faulted (for tests that inject no fault).

    Depends on ``mock`` so the mock is reset before a new engine's warm-up goes through it."""
    return litellm_pool.clean(gateway_tasks(routing))


@pytest.fixture
def dedicated_litellm(
    litellm_pool: LiteLLMPool, request: pytest.FixtureRequest, mock: MockControl
) -> Iterator[LiteLLMEngine]:
    """A LiteLLM engine (and Redis) of the test's own, stopped after it: for tests that break Redis.

    Indirect parametrization passes extra engine environment (``{"NAME": "value"}``). Depends on
    ``mock`` so the mock is reset (no fault left by an earlier test) before the engine's warm-up."""
    engine = litellm_pool.start_engine("dedicated", getattr(request, "param", None))
    yield engine
    engine.stop()


@pytest.fixture(scope="session")
def portkey_env(generated_local: Path, e2e_dir: Path, mock_server: ServerProcess) -> LocalEnvironment:
    return prepare_environment(generated_local, e2e_dir / "portkey-config", mock_server.url, None)


@pytest.fixture(scope="session")
def portkey_gateway(e2e_dir: Path, portkey_env: LocalEnvironment) -> Iterator[ServerProcess]:
    """The Portkey gateway (configs travel per request in ``x-portkey-config``), with the deployment's
    environment: only the hosts the generated configs name are exempt from its SSRF blocklist."""
    require_tool("portkey", portkey_available())
    server = start_portkey(e2e_dir / "logs", env=engine_environment(PORTKEY, portkey_env.root, e2e_dir))
    yield server
    server.stop()
