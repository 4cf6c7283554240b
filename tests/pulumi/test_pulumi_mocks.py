"""The one adapter around Pulumi's public mocks (tools/pulumi_mocks.py) still reads what it relies on.

If a Pulumi upgrade moves a registration's parent or changes how a secret input arrives, these
tests fail here, loudly, instead of the plan silently printing a flat tree or leaking a secret as
plain text.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tools.offline import ROOT
from tools.pulumi_mocks import SECRET_MARKER, auto_name

PROGRAM = Path(__file__).with_name("adapter_program.py")


@pytest.fixture(scope="module")
def graph() -> dict[str, Any]:
    # A process of its own: Pulumi's runtime state is global.
    code = (
        "import json, sys; from pathlib import Path; from tools.offline import run_program; "
        "print(json.dumps(run_program('test', {}, [], program=Path(sys.argv[1]))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(PROGRAM)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed


def _by_name(graph: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {resource["name"]: resource for resource in graph["resources"]}


def test_the_parent_of_each_registration_is_recorded(graph: dict[str, Any]) -> None:
    resources = _by_name(graph)
    box = resources["box"]
    assert box["type"] == "test:index:Box" and box["custom"] is False
    assert box["parent"].endswith("::pulumi:pulumi:Stack::llm-gateway-test")
    for child in ("box-secret", "box-config"):
        assert resources[child]["parent"] == box["urn"], child
        assert resources[child]["urn"].startswith("urn:pulumi:test::llm-gateway::test:index:Box$kubernetes:")


def test_secret_inputs_arrive_marked(graph: dict[str, Any]) -> None:
    secret = _by_name(graph)["box-secret"]
    # Pulumi marks the whole property that holds a secret value.
    assert secret["inputs"]["stringData"] == {SECRET_MARKER: {"key": "canary-value"}}
    assert "canary-value" not in json.dumps(_by_name(graph)["box-config"])


def test_auto_naming_is_played_and_read_back(graph: dict[str, Any]) -> None:
    config = _by_name(graph)["box-config"]
    assert "metadata" not in config["inputs"] or "name" not in config["inputs"]["metadata"]
    name = config["state"]["metadata"]["name"]
    assert name == auto_name("box-config", {"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "b"}})
    assert graph["outputs"]["configName"] == {"value": name, "secret": False}
    # An object the program names keeps its name.
    assert _by_name(graph)["box-secret"]["state"]["metadata"]["name"] == "fixed"


def test_stack_outputs_keep_their_secretness(graph: dict[str, Any]) -> None:
    assert graph["outputs"]["secretOutput"] == {"value": "s", "secret": True}
