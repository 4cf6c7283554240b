"""Run the real Pulumi program offline, under Pulumi's mocks, and record the resource graph.

No Pulumi CLI or provider plugin is needed: every resource registration passes through
:class:`RecordingMocks`, which keeps the inputs exactly as a provider would receive them
(camelCase, with secret values still wrapped). The tests and ``tools/plan.py`` share this
runner. Pulumi's runtime state is process-global, so each stack runs in its own process:

    python -m tools.offline --stack prod --generated-dir DIR --secret llm-gateway:openaiApiKey=...

prints the graph as JSON (``--json-out`` writes it to a file). A settings error exits 2 exactly as
the program does under ``pulumi up``. ``--batch FILE`` runs many stacks from one process by forking
(see :func:`batch_main`); the tests use it to keep the suite fast.
"""

from __future__ import annotations

import argparse
import json
import os
import runpy
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "llm-gateway"
SECRET_MARKER = "__secret__"
REDACTED = "[secret]"

# What `make plan` feeds the program in place of the ESC secrets it cannot reach.
OFFLINE_SECRET_PLACEHOLDER = "offline-placeholder-not-a-key"
# RecordingMocks' RandomPassword.result is this prefix + the resource name.
MOCK_PASSWORD_PREFIX = "mock-password-"


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


def _plain(value: Any) -> Any:
    """Replace Pulumi's secret wrappers by ``{"__secret__": value}`` so JSON keeps the mark."""
    from pulumi.runtime import rpc

    if rpc.is_rpc_secret(value):
        return {SECRET_MARKER: _plain(rpc.unwrap_rpc_secret(value))}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    # Values travel as protobuf Struct numbers (doubles): 4000 arrives as 4000.0.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _redact(value: Any) -> Any:
    """Keep a secret's shape (the keys of a Secret's stringData) but none of its values."""
    if isinstance(value, dict):
        return {k: _redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v) for v in value]
    return REDACTED


@dataclass
class RecordedResource:
    """One registration: Pulumi type, logical name, URN, parent URN and raw inputs."""

    type: str
    name: str
    urn: str
    parent: str
    custom: bool
    inputs: dict[str, Any] = field(default_factory=dict)


def _make_mocks() -> Any:
    import pulumi

    class RecordingMocks(pulumi.runtime.Mocks):
        """Returns inputs as outputs (plus fixed values for random passwords), records nothing itself."""

        def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
            state = dict(args.inputs)
            if args.typ == "random:index/randomPassword:RandomPassword":
                # Deterministic and recognisable, so the tests can prove it never leaks.
                state["result"] = f"{MOCK_PASSWORD_PREFIX}{args.name}"
            return f"{args.name}-id", state

        def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list | None]:
            return {}, None

    class RecordingMonitor(pulumi.runtime.mocks.MockMonitor):
        """A MockMonitor that also keeps each registration's parent and secret-marked inputs."""

        def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
            super().__init__(mocks)
            self.recorded: list[RecordedResource] = []

        def RegisterResource(self, request: Any) -> Any:
            from pulumi.runtime import rpc

            response = super().RegisterResource(request)
            if request.type != "pulumi:pulumi:Stack":
                inputs = _plain(rpc.deserialize_properties(request.object, keep_unknowns=True))
                self.recorded.append(
                    RecordedResource(
                        type=request.type,
                        name=request.name,
                        urn=response.urn,
                        parent=request.parent,
                        custom=bool(request.custom),
                        inputs=inputs,
                    )
                )
            return response

    mocks = RecordingMocks()
    return mocks, RecordingMonitor(mocks)


def run_program(stack: str, config: dict[str, str], secret_keys: list[str]) -> dict[str, Any]:
    """Run ``__main__.py`` for ``stack`` under mocks; return ``{"resources": [...], "outputs": {...}}``.

    Call once per process: Pulumi's runtime settings are global.
    """
    import pulumi
    from pulumi.runtime.stack import run_pulumi_func
    from pulumi.runtime.sync_await import _sync_await

    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    mocks, monitor = _make_mocks()
    pulumi.runtime.set_all_config(config, secret_keys)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=False, monitor=monitor)

    _sync_await(run_pulumi_func(lambda: runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")))

    async def resolve_outputs() -> dict[str, Any]:
        root = pulumi.runtime.settings.get_root_resource()
        resolved = {}
        for key, value in sorted(root.outputs.items()):
            output = pulumi.Output.from_input(value)
            resolved[key] = {"value": await output.future(), "secret": await output.is_secret()}
        return resolved

    outputs = _sync_await(resolve_outputs())
    return {
        "stack": stack,
        "resources": [vars(resource) for resource in monitor.recorded],
        "outputs": outputs,
    }


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


def _drop_empty(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_empty(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_empty(v) for v in value]
    return value


def render_manifests(graph: dict[str, Any], redact: bool = True) -> list[dict[str, Any]]:
    """The Kubernetes objects of a recorded graph, as the provider would send them to the API."""
    manifests = []
    for resource in graph["resources"]:
        if not resource["type"].startswith("kubernetes:") or not resource["custom"]:
            continue
        obj = _drop_empty(unwrap_secrets(resource["inputs"], redact))
        head = {"apiVersion": obj.pop("apiVersion"), "kind": obj.pop("kind"), "metadata": obj.pop("metadata")}
        manifests.append({**head, **obj})
    return manifests


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", required=True)
    parser.add_argument("--generated-dir", type=Path, help="generated tree to read instead of the committed one")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="plain config override")
    parser.add_argument("--secret", action="append", default=[], metavar="KEY=VALUE", help="secret config")
    parser.add_argument("--unset", action="append", default=[], metavar="KEY", help="drop a config key")
    parser.add_argument("--json-out", type=Path, help="write the graph here instead of stdout")
    args = parser.parse_args(argv)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))

    config, secret_keys = stack_config(args.stack)
    for item, secret in [(s, False) for s in args.set] + [(s, True) for s in args.secret]:
        key, _, value = item.partition("=")
        key = key if ":" in key else f"{PROJECT}:{key}"
        config[key] = value
        if secret:
            secret_keys.append(key)
        elif key in secret_keys:
            secret_keys.remove(key)
    for key in args.unset:
        config.pop(key if ":" in key else f"{PROJECT}:{key}", None)
    if args.generated_dir:
        from components.generated_config import GENERATED_DIR_ENV

        os.environ[GENERATED_DIR_ENV] = str(args.generated_dir.resolve())

    graph = run_program(args.stack, config, secret_keys)
    text = json.dumps(graph, indent=1, sort_keys=True, default=str)
    if args.json_out:
        args.json_out.write_text(text)
    else:
        print(text)
    return 0


def _run_forked(argv: list[str], stdout_path: Path, stderr_path: Path) -> int:
    """Fork, point the child's stdout/stderr at files, run ``main(argv)`` there; return the child's pid."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        with stdout_path.open("w") as out, stderr_path.open("w") as err:
            os.dup2(out.fileno(), 1)
            os.dup2(err.fileno(), 2)
            try:
                code = main(argv)
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else 1
            except BaseException:
                traceback.print_exc()
            sys.stdout.flush()
            sys.stderr.flush()
    finally:
        os._exit(code)


def batch_main(batch_file: Path) -> int:
    """Run many stacks at once: import Pulumi and the components once, then fork one child per run.

    Each child starts from a runtime that has run nothing, which is exactly what a fresh process
    gives, minus ~1.5 s of imports. ``batch_file`` is JSON: ``{"name": [argv...], ...}``; each run
    writes ``<name>.json``, ``<name>.stdout``, ``<name>.stderr`` and ``<name>.rc`` next to it.
    """
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import pulumi_kubernetes  # noqa: F401  (imported for the children)
    import pulumi_random  # noqa: F401

    import components.gateway
    import components.namespace
    import components.redis
    import components.secrets  # noqa: F401

    runs: dict[str, list[str]] = json.loads(batch_file.read_text())
    workdir = batch_file.parent
    children = {}
    for name, argv in runs.items():
        full_argv = [*argv, "--json-out", str(workdir / f"{name}.json")]
        children[_run_forked(full_argv, workdir / f"{name}.stdout", workdir / f"{name}.stderr")] = name
    while children:
        pid, status = os.wait()
        name = children.pop(pid)
        (workdir / f"{name}.rc").write_text(str(os.waitstatus_to_exitcode(status)))
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--batch"]:
        sys.exit(batch_main(Path(sys.argv[2])))
    sys.exit(main())
