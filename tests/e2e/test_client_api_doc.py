"""The snippets of docs/client-api.md run as written, against the real engines on loopback.

A snippet is a fenced block marked ``<!-- snippet: <engine>-<name> -->``; every Python block of the page
must be one (so none goes untested). Each runs in its own process with only the environment the page
tells an application to set: ``LLM_GATEWAY_URL`` and ``LLM_GATEWAY_KEY`` (an application's key) for
LiteLLM; ``PORTKEY_GATEWAY_URL``, ``LLM_GATEWAY_PORTKEY_CONFIGS`` and ``PROVIDER_KEY`` for Portkey.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from e2e_engines import LiteLLMEngine

from local.environment import LocalEnvironment
from local.mock_provider import MockControl
from local.processes import REPO_ROOT, ServerProcess

pytestmark = pytest.mark.e2e

DOC = REPO_ROOT / "docs" / "client-api.md"
SNIPPET = re.compile(r"<!-- snippet: (?P<name>[a-z0-9-]+) -->\n```(?P<language>python|bash)\n(?P<code>.*?)\n```", re.S)
SNIPPETS = {match["name"]: (match["language"], match["code"]) for match in SNIPPET.finditer(DOC.read_text())}
# What each snippet must print when it works (beyond exiting 0).
EXPECTED_OUTPUT = {
    "litellm-openai": ["served-by ", "served by chat/", "tasks this key may use: ["],
    "litellm-openai-errors": ["404 ", "'no-such-task'", "400 messages"],
    "litellm-anthropic": ["served-by "],
    "litellm-portkey": ["served-by ", "404"],
    "portkey-portkey": ["served-by ", "trace-id"],
    "litellm-curl": ['"served-by '],
}


def test_every_python_block_is_a_snippet_and_every_snippet_is_checked() -> None:
    python_blocks = re.findall(r"```python\n", DOC.read_text())
    assert len(python_blocks) == sum(1 for language, _ in SNIPPETS.values() if language == "python")
    assert set(SNIPPETS) == set(EXPECTED_OUTPUT)


def _run(name: str, env: dict[str, str]) -> str:
    language, code = SNIPPETS[name]
    argv = [sys.executable, "-c", code] if language == "python" else ["bash", "-c", code]
    base = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
    result = subprocess.run(argv, env={**base, **env}, capture_output=True, text=True, timeout=120, cwd=Path.cwd())
    assert result.returncode == 0, f"{name} failed:\n{result.stdout}\n{result.stderr}"
    for fragment in EXPECTED_OUTPUT[name]:
        assert fragment in result.stdout, (name, fragment, result.stdout)
    return result.stdout


def _key_for(engine: LiteLLMEngine, tasks: set[str]) -> str:
    return next(
        key for name, key in engine.env.application_keys.items() if tasks <= set(engine.env.application_tasks(name))
    )


@pytest.mark.parametrize("name", sorted(name for name in SNIPPETS if name.startswith("litellm-")))
def test_litellm_snippet_runs_as_written(name: str, litellm: LiteLLMEngine, mock: MockControl) -> None:
    key = _key_for(litellm, {"chat", "code_generation"})
    out = _run(name, {"LLM_GATEWAY_URL": litellm.url, "LLM_GATEWAY_KEY": key})
    assert key not in out


@pytest.mark.parametrize("name", sorted(name for name in SNIPPETS if name.startswith("portkey-")))
def test_portkey_snippet_runs_as_written(
    name: str, portkey_gateway: ServerProcess, portkey_env: LocalEnvironment, mock: MockControl, routing: dict[str, Any]
) -> None:
    _run(
        name,
        {
            "PORTKEY_GATEWAY_URL": portkey_gateway.url,
            "LLM_GATEWAY_PORTKEY_CONFIGS": str(portkey_env.root / "portkey"),
            "PROVIDER_KEY": "mock-key",
        },
    )
