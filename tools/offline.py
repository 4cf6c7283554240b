"""Run the real Pulumi program offline, under Pulumi's mocks, and record the resource graph.

No Pulumi CLI or provider plugin is needed. The program gets its config the way the CLI hands it
over (the ``PULUMI_CONFIG`` and ``PULUMI_CONFIG_SECRET_KEYS`` environment variables of the language
host), runs under ``pulumi.runtime.set_mocks`` inside ``pulumi.runtime.test`` (the public testing
API), and every registration is recorded by ``tools.pulumi_mocks``. ``make plan`` (``tools.plan``)
and the tests share this runner. Pulumi's runtime state is process-global: one run per process.
"""

from __future__ import annotations

import asyncio
import json
import os
import runpy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from tools.pulumi_mocks import SECRET_MARKER, ParentRecordingMonitor, RecordingMocks

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "llm-gateway"
REDACTED = "[secret]"
# What `make plan` feeds the program in place of the ESC secrets it cannot reach.
OFFLINE_SECRET_PLACEHOLDER = "offline-placeholder-not-a-key"
# The Pulumi organization offline runs are in (what the CLI reports on a self-managed backend).
OFFLINE_ORGANIZATION = "organization"

Graph = dict[str, Any]


def _scalar_to_config(value: Any) -> str:
    """Pulumi hands config to programs as strings: JSON for lists/objects and booleans."""
    if isinstance(value, str):
        return value
    return json.dumps(value)


def stack_config(stack: str, root: Path = ROOT) -> tuple[dict[str, str], list[str]]:
    """Config the CLI would pass for ``stack``: Pulumi.yaml defaults, then the stack file.

    ESC values cannot be fetched offline; every ``secret: true`` setting without a value gets a
    placeholder, marked secret as ESC's ``fn::secret`` would mark it.
    """
    project = yaml.safe_load((root / "Pulumi.yaml").read_text())
    stack_file = yaml.safe_load((root / f"Pulumi.{stack}.yaml").read_text()) or {}
    config: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, decl in (project.get("config") or {}).items():
        full = key if ":" in key else f"{PROJECT}:{key}"
        if "default" in decl:
            config[full] = _scalar_to_config(decl["default"])
        if decl.get("secret"):
            secret_keys.append(full)
            config.setdefault(full, OFFLINE_SECRET_PLACEHOLDER)
    for key, value in (stack_file.get("config") or {}).items():
        full = key if ":" in key else f"{PROJECT}:{key}"
        if isinstance(value, dict) and "secure" in value:
            secret_keys.append(full)
            config[full] = OFFLINE_SECRET_PLACEHOLDER
        else:
            config[full] = _scalar_to_config(value)
    return config, sorted(set(secret_keys))


def _set_cli_config(config: Mapping[str, str], secret_keys: list[str]) -> None:
    # Exactly what the Python language host does before it starts the program.
    os.environ["PULUMI_CONFIG"] = json.dumps(dict(config))
    os.environ["PULUMI_CONFIG_SECRET_KEYS"] = json.dumps(sorted(secret_keys))


async def _resolved_outputs() -> dict[str, Any]:
    import pulumi

    root = pulumi.runtime.get_root_resource()
    outputs: dict[str, Any] = getattr(root, "outputs", {})
    resolved = {}
    for key, value in sorted(outputs.items()):
        output = pulumi.Output.from_input(value)
        resolved[key] = {"value": await output.future(), "secret": await output.is_secret()}
    return resolved


def run_program(stack: str, config: Mapping[str, str], secret_keys: list[str], program: Path | None = None) -> Graph:
    """Run ``__main__.py`` for ``stack`` under mocks; return ``{"stack", "resources", "outputs"}``.

    Call once per process: Pulumi's runtime settings are global.
    """
    import pulumi

    _set_cli_config(config, secret_keys)
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(
        mocks,
        project=PROJECT,
        stack=stack,
        preview=False,
        monitor=ParentRecordingMonitor(mocks),
        organization=OFFLINE_ORGANIZATION,
    )
    entry = program or ROOT / "__main__.py"
    pulumi.runtime.test(lambda: runpy.run_path(str(entry), run_name="__main__"))()

    outputs: dict[str, Any] = {}

    def collect() -> Any:
        async def gather() -> None:
            outputs.update(await _resolved_outputs())

        return asyncio.ensure_future(gather())

    pulumi.runtime.test(collect)()
    return {"stack": stack, "resources": [vars(resource) for resource in mocks.recorded], "outputs": outputs}


def unwrap_secrets(value: Any, redact: bool) -> Any:
    """Strip the secret markers: keep the value (tests) or replace it by ``[secret]`` (plans)."""
    if isinstance(value, dict):
        if set(value) == {SECRET_MARKER}:
            inner = unwrap_secrets(value[SECRET_MARKER], redact)
            return _redact(inner) if redact else inner
        return {k: unwrap_secrets(v, redact) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap_secrets(v, redact) for v in value]
    return value


def _redact(value: Any) -> Any:
    """Keep a secret's shape (the keys of a Secret's stringData) but none of its values."""
    if isinstance(value, dict):
        return {k: _redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v) for v in value]
    return REDACTED


def _drop_empty(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_empty(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_empty(v) for v in value]
    return value


def render_manifests(graph: Graph, redact: bool = True) -> list[dict[str, Any]]:
    """The Kubernetes objects of a recorded graph, as the API server would store them.

    Rendered from the mock's state: the inputs plus what the provider computes (the generated
    name of an auto-named object).
    """
    manifests = []
    for resource in graph["resources"]:
        if not resource["type"].startswith("kubernetes:") or not resource["custom"]:
            continue
        obj = _drop_empty(unwrap_secrets(resource["state"], redact))
        head = {"apiVersion": obj.pop("apiVersion"), "kind": obj.pop("kind"), "metadata": obj.pop("metadata")}
        manifests.append({**head, **obj})
    return manifests
