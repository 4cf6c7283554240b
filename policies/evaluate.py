"""Run the pack's policies on a recorded graph, the way the policy engine runs them on a preview.

The graph is the one ``tools.offline`` records (the real program under Pulumi's mocks). Each
resource becomes the SDK's ``ResourceValidationArgs`` / ``PolicyResource`` with its properties
unwrapped of secret markers (as the SDK hands them to a policy) and its string assets as
``pulumi.StringAsset``; the stack's outputs become the ``pulumi:pulumi:Stack`` resource's properties.
Enforcement follows the pack config the way the SDK resolves it: the policy's entry, then ``all``,
then the pack's default (mandatory).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from policies.model import STACK_TYPE
from policies.registry import PACK_NAME, PolicySpec, policy_specs, to_policy
from tools.offline import PROJECT, unwrap_secrets
from tools.pulumi_mocks import ASSET_MARKER

CONFIG_DIR = Path(__file__).resolve().parent / "config"
ENFORCEMENT_LEVELS = ("advisory", "mandatory", "disabled", "remediate")
DEFAULT_ENFORCEMENT = "mandatory"


class PackConfigError(Exception):
    """The pack config file is missing or malformed (one line naming the file and key)."""


@dataclass(frozen=True)
class PolicyConfig:
    enforcement: str
    properties: dict[str, Any] = field(default_factory=dict)


def load_pack_config(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text())
    except OSError as error:
        raise PackConfigError(f"{path}: cannot be read ({error.strerror})") from None
    except json.JSONDecodeError as error:
        raise PackConfigError(f"{path}: not valid JSON (line {error.lineno}): {error.msg}") from None
    if not isinstance(document, dict):
        raise PackConfigError(f"{path}: must be an object of policy name → enforcement level or settings")
    known = {spec.name for spec in policy_specs()} | {"all"}
    for name, entry in document.items():
        if name not in known:
            raise PackConfigError(f"{path}: {name}: no such policy in the pack")
        level = entry if isinstance(entry, str) else entry.get("enforcementLevel") if isinstance(entry, dict) else None
        if not isinstance(entry, str | dict) or (level is not None and level not in ENFORCEMENT_LEVELS):
            raise PackConfigError(f"{path}: {name}: enforcementLevel must be one of {', '.join(ENFORCEMENT_LEVELS)}")
    return document


def policy_config(pack_config: dict[str, Any], name: str) -> PolicyConfig:
    """A policy's enforcement and properties under ``pack_config`` (as the SDK resolves them)."""
    entry = pack_config.get(name)
    default = pack_config.get("all", DEFAULT_ENFORCEMENT)
    default_level = default if isinstance(default, str) else default.get("enforcementLevel", DEFAULT_ENFORCEMENT)
    if isinstance(entry, str):
        return PolicyConfig(entry)
    if isinstance(entry, dict):
        properties = {key: value for key, value in entry.items() if key != "enforcementLevel"}
        return PolicyConfig(str(entry.get("enforcementLevel", default_level)), properties)
    return PolicyConfig(str(default_level))


def _engine_value(value: Any) -> Any:
    """A recorded value as the policy engine delivers it: secrets unwrapped, assets as StringAsset."""
    if isinstance(value, dict):
        if set(value) == {ASSET_MARKER}:
            return pulumi.StringAsset(value[ASSET_MARKER])
        return {key: _engine_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_engine_value(item) for item in value]
    return value


def policy_resources(graph: dict[str, Any]) -> list[PolicyResource]:
    """The graph's resources, the root stack (its outputs as properties) first, as ``AnalyzeStack`` sees them."""
    stack = graph["stack"]
    options = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])
    root = PolicyResource(
        STACK_TYPE,
        {name: output["value"] for name, output in graph["outputs"].items()},
        f"urn:pulumi:{stack}::{PROJECT}::{STACK_TYPE}::{PROJECT}-{stack}",
        f"{PROJECT}-{stack}",
        options,
        None,
        None,
        [],
        {},
    )
    resources = [root]
    for recorded in graph["resources"]:
        props = _engine_value(unwrap_secrets(recorded["state"], redact=False))
        resources.append(
            PolicyResource(recorded["type"], props, recorded["urn"], recorded["name"], options, None, None, [], {})
        )
    return resources


def _label(resources: list[PolicyResource], urn: str | None) -> str | None:
    for resource in resources:
        if urn is not None and resource.urn == urn:
            return f"{resource.resource_type} {resource.name}"
    return None


def run_policy(spec: PolicySpec, resources: list[PolicyResource], config: PolicyConfig) -> list[dict[str, Any]]:
    """The violations of one policy: ``[{"resource": "<type> <name>" | None, "message": …}]``."""
    policy = to_policy(spec)
    violations: list[dict[str, Any]] = []
    if isinstance(policy, StackValidationPolicy):

        def report_stack(message: str, urn: str | None = None) -> None:
            violations.append({"resource": _label(resources, urn), "message": message})

        policy.validate(StackValidationArgs(resources, config.properties), report_stack)
    elif isinstance(policy, ResourceValidationPolicy):
        for resource in resources:

            def report(message: str, urn: str | None = None, resource: PolicyResource = resource) -> None:
                violations.append({"resource": f"{resource.resource_type} {resource.name}", "message": message})

            args = ResourceValidationArgs(
                resource.resource_type, resource.props, resource.urn, resource.name, resource.opts, None,
                config.properties,
            )  # fmt: skip
            policy.validate(args, report)
    return violations


def evaluate(graph: dict[str, Any], pack_config: dict[str, Any], only: set[str] | None = None) -> dict[str, Any]:
    """The report of every policy (or those named in ``only``) on ``graph`` under ``pack_config``
    (the shape ``policies.report`` prints)."""
    resources = policy_resources(graph)
    results = []
    for spec in policy_specs():
        if only is not None and spec.name not in only:
            continue
        config = policy_config(pack_config, spec.name)
        enforcement = "mandatory" if config.enforcement == "remediate" else config.enforcement
        violations = [] if enforcement == "disabled" else run_policy(spec, resources, config)
        results.append(
            {"policy": spec.name, "description": spec.description, "enforcement": enforcement, "violations": violations}
        )
    return {"stack": graph["stack"], "pack": PACK_NAME, "results": results}


def blocking(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The results that fail the check: mandatory policies with violations."""
    return [result for result in report["results"] if result["enforcement"] == "mandatory" and result["violations"]]
