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

from program.stack_settings import ESC_PLACEHOLDER, KUBECONFIG_SETTING, OFFLINE_IMAGE_DIGEST
from runtime.engines import ENGINES
from tools.pulumi_mocks import SECRET_MARKER, ParentRecordingMonitor, RecordingMocks

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "llm-gateway"
REDACTED = "[secret]"
# What `make plan` feeds the program in place of the ESC secrets it cannot reach.
OFFLINE_SECRET_PLACEHOLDER = "offline-placeholder-not-a-key"
# The kubeconfig context of the stand-in kubeconfig (no credentials: it cannot reach any cluster).
OFFLINE_CONTEXT = "offline-plan"
# The Pulumi organization offline runs are in (what the CLI reports on a self-managed backend).
OFFLINE_ORGANIZATION = "organization"

Graph = dict[str, Any]


class StackConfigError(Exception):
    """The stack's config is malformed or breaks a rule the Pulumi CLI enforces (one line)."""


def _scalar_to_config(value: Any) -> str:
    """Pulumi hands config to programs as strings: JSON for lists/objects and booleans."""
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _read_yaml(path: Path, root: Path) -> dict[str, Any]:
    name = path.relative_to(root).as_posix()
    try:
        document = yaml.safe_load(path.read_text())
    except OSError as error:
        raise StackConfigError(f"{name}: cannot be read ({error.strerror})") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise StackConfigError(f"{name}: not valid YAML{where}: {getattr(error, 'problem', error)}") from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise StackConfigError(f"{name}: must be a mapping of keys to values")
    return document


def _type_ok(declared: str, value: Any) -> bool:
    # The CLI's validateStackConfigValue: values arrive as YAML scalars or strings ("3", "true").
    if declared == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, str) and value.strip().lstrip("-").isdigit()
        )
    if declared == "boolean":
        return isinstance(value, bool) or (isinstance(value, str) and value in ("true", "false"))
    if declared == "array":
        return isinstance(value, list)
    return not isinstance(value, dict | list)


def _esc_values(name: str, root: Path, seen: tuple[str, ...] = ()) -> dict[str, Any]:
    """The merged `values` of ESC environment `llm-gateway/<x>` (esc/<x>.yaml), its imports first."""
    if name in seen or not name.startswith(f"{PROJECT}/"):
        raise StackConfigError(f"ESC environment {name!r}: not one of esc/*.yaml (or an import cycle)")
    document = _read_yaml(root / "esc" / f"{name.removeprefix(PROJECT + '/')}.yaml", root)
    merged: dict[str, Any] = {}
    for imported in document.get("imports") or []:
        _merge(merged, _esc_values(str(imported), root, (*seen, name)))
    _merge(merged, document.get("values") or {})
    return merged


def _merge(into: dict[str, Any], other: dict[str, Any]) -> None:
    # ESC merges imported values as a JSON merge patch: mappings key by key, anything else replaced.
    for key, value in other.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict) and "fn::secret" not in value:
            _merge(into[key], value)
        else:
            into[key] = value


def _esc_reference(values: dict[str, Any], value: Any) -> tuple[Any, bool]:
    """(value, secret) of a pulumiConfig entry: `${path}` into the values, `fn::secret` marks it secret."""
    if isinstance(value, str) and value.startswith("${") and value.endswith("}"):
        node: Any = values
        for part in value[2:-1].split("."):
            node = node[part] if isinstance(node, dict) and part in node else None
        value = node
    if isinstance(value, dict) and set(value) == {"fn::secret"}:
        return value["fn::secret"], True
    return value, False


def offline_kubeconfig(server: str) -> str:
    """A kubeconfig without credentials whose context points at ``server`` (the stack's cluster)."""
    entry = {"name": OFFLINE_CONTEXT}
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{**entry, "cluster": {"server": server}}],
            "contexts": [{**entry, "context": {"cluster": OFFLINE_CONTEXT, "user": OFFLINE_CONTEXT}}],
            "users": [{**entry, "user": {}}],
            "current-context": OFFLINE_CONTEXT,
        }
    )


def _offline_stand_in(key: str, secret: bool, config: Mapping[str, str]) -> str:
    """What the plan feeds the program for a value only the real ESC environment holds."""
    if key == KUBECONFIG_SETTING:
        return offline_kubeconfig(config.get(f"{PROJECT}:clusterServer", ""))
    if key == "kubeContext":
        return OFFLINE_CONTEXT
    for engine in ENGINES.values():
        if key == engine.image_setting:
            # The tested tag with a digest no registry serves; the program accepts it only under mocks.
            return f"{engine.default_image}@{OFFLINE_IMAGE_DIGEST}"
    return OFFLINE_SECRET_PLACEHOLDER if secret else ESC_PLACEHOLDER


def stack_config(stack: str, root: Path = ROOT) -> tuple[dict[str, str], list[str]]:
    """Config the CLI would pass for ``stack``: Pulumi.yaml defaults, then the stack's ESC
    environment (esc/*.yaml), then the stack file, validated as the CLI validates it.

    ESC's real values cannot be fetched offline: a value the ESC definition leaves as its
    placeholder gets an offline stand-in (secrets stay marked secret, as ``fn::secret`` marks them).
    Raises :class:`StackConfigError` with the CLI's message where the CLI would refuse.
    """
    project = _read_yaml(root / "Pulumi.yaml", root)
    stack_file = _read_yaml(root / f"Pulumi.{stack}.yaml", root)
    declared: dict[str, Any] = project.get("config") or {}
    config: dict[str, str] = {}
    secret_keys: set[str] = set()
    for key, decl in declared.items():
        if "default" in decl:
            config[f"{PROJECT}:{key}"] = _scalar_to_config(decl["default"])

    environments = stack_file.get("environment") or []
    if not isinstance(environments, list):
        raise StackConfigError(f"Pulumi.{stack}.yaml: environment: must be a list of ESC environment names")
    stack_values = stack_file.get("config") or {}
    if not isinstance(stack_values, dict):
        raise StackConfigError(f"Pulumi.{stack}.yaml: config: must be a mapping of keys to values")
    for key, value in stack_values.items():
        if not isinstance(key, str) or not key or key.startswith(":"):
            raise StackConfigError(f"Pulumi.{stack}.yaml: config: {key!r} is not a configuration key")
        if isinstance(value, dict) and "secure" not in value:
            raise StackConfigError(f"Pulumi.{stack}.yaml: config: {key}: an object where a value belongs")
        if value is None:
            raise StackConfigError(f"Pulumi.{stack}.yaml: config: {key}: has no value")

    pending: list[tuple[str, str]] = []
    for name in environments:
        values = _esc_values(str(name), root)
        for key, reference in (values.get("pulumiConfig") or {}).items():
            value, secret = _esc_reference(values, reference)
            full = key if ":" in key else f"{PROJECT}:{key}"
            if secret:
                secret_keys.add(full)
            if value == ESC_PLACEHOLDER:
                pending.append((full, "secret" if secret else "plain"))
            else:
                config[full] = _scalar_to_config(value)
    # Stack-file values take precedence over ESC values (the CLI merges them that way).
    for key, value in stack_values.items():
        full = key if ":" in key else f"{PROJECT}:{key}"
        if isinstance(value, dict):
            secret_keys.add(full)
            config[full] = OFFLINE_SECRET_PLACEHOLDER
        else:
            config[full] = _scalar_to_config(value)
            secret_keys.discard(full)
            pending = [(k, kind) for k, kind in pending if k != full]
    for full, kind in pending:
        config[full] = _offline_stand_in(full.removeprefix(f"{PROJECT}:"), kind == "secret", config)

    for key, decl in declared.items():
        full = f"{PROJECT}:{key}"
        in_stack = stack_values.get(full, stack_values.get(key))
        # The CLI's own checks (sdk/go/common/workspace/config.go, validateStackConfigValue), same words.
        plain = in_stack is not None and not isinstance(in_stack, dict)
        prefix = f"validating stack config: Stack {stack!r} with configuration key {key!r}"
        if decl.get("secret") and plain:
            raise StackConfigError(f"{prefix} must be encrypted as it's secret")
        declared_type = decl.get("type", "string")
        if plain and not _type_ok(declared_type, in_stack):
            raise StackConfigError(f"{prefix} must be of type {declared_type!r}")
        if decl.get("secret"):
            secret_keys.add(full)
            config.setdefault(full, OFFLINE_SECRET_PLACEHOLDER)
    return config, sorted(secret_keys)


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
    pulumi.runtime.test(lambda: runpy.run_path(str(entry), run_name="__main__"))()  # type: ignore[no-untyped-call]

    outputs: dict[str, Any] = {}

    def collect() -> Any:
        async def gather() -> None:
            outputs.update(await _resolved_outputs())

        return asyncio.ensure_future(gather())

    pulumi.runtime.test(collect)()  # type: ignore[no-untyped-call]
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
