"""Helpers to query a recorded Pulumi graph (see tests/pulumi/conftest.py and tools/offline.py)."""

from __future__ import annotations

import json
import re
from typing import Any

from program.generated_tree import DEFAULT_GENERATED_DIR
from tools.offline import render_manifests

KUBERNETES_VERSION = "1.33.0"
# Custom resources kubernetes-validate has no schema for; each entry is checked by hand instead.
CRD_ALLOW_LIST = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
    ("monitoring.coreos.com/v1alpha1", "AlertmanagerConfig"),
}
# The objects Pulumi names (a data change replaces them: create, roll the pods, delete the old one),
# by kind and logical name.
# The applications of the committed spec (the same in staging and prod): one key Secret each.
APPLICATIONS = sorted(json.loads((DEFAULT_GENERATED_DIR / "prod" / "routing.json").read_text())["applications"])
APPLICATION_SECRETS = {f"llm-gateway-app-{name}-secret" for name in APPLICATIONS}
AUTO_NAMED = {
    ("ConfigMap", "llm-gateway-config"),
    ("Secret", "llm-gateway-provider-keys"),
    ("Secret", "llm-gateway-master-key-secret"),
    ("Secret", "llm-gateway-redis-cache-auth"),
    ("Secret", "llm-gateway-redis-state-auth"),
    ("Secret", "llm-gateway-request-log-keys"),
    ("Secret", "llm-gateway-observability-alert-receivers"),
    *(("Secret", name) for name in APPLICATION_SECRETS),
}


def manifests(graph: dict[str, Any]) -> list[dict[str, Any]]:
    """Kubernetes objects with secret values kept (tests look for canaries in them)."""
    return render_manifests(graph, redact=False)


def objects(graph: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [obj for obj in manifests(graph) if obj["kind"] == kind]


def one(graph: dict[str, Any], kind: str, name: str) -> dict[str, Any]:
    """The object of ``kind`` whose Kubernetes name is ``name`` (fixed names)."""
    found = [obj for obj in objects(graph, kind) if obj["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name!r}, found {len(found)}"
    return found[0]


def _resource(graph: dict[str, Any], kind: str, logical_name: str) -> dict[str, Any]:
    found = [
        r
        for r in graph["resources"]
        if r["name"] == logical_name and r["type"].startswith("kubernetes:") and r["type"].endswith(f":{kind}")
    ]
    assert len(found) == 1, f"expected one {kind} resource {logical_name!r}, found {len(found)}"
    return found[0]


def auto_named(graph: dict[str, Any], kind: str, logical_name: str) -> dict[str, Any]:
    """An auto-named object by its Pulumi logical name; asserts the program left the name to Pulumi."""
    resource = _resource(graph, kind, logical_name)
    assert "name" not in (resource["inputs"].get("metadata") or {}), f"{logical_name} has a fixed name"
    name = resource["state"]["metadata"]["name"]
    assert re.fullmatch(rf"{re.escape(logical_name)}-[0-9a-f]{{8}}", name), name
    return one(graph, kind, name)


def generated_name(graph: dict[str, Any], kind: str, logical_name: str) -> str:
    name: str = auto_named(graph, kind, logical_name)["metadata"]["name"]
    return name


def container(graph: dict[str, Any], kind: str, name: str) -> dict[str, Any]:
    (only,) = one(graph, kind, name)["spec"]["template"]["spec"]["containers"]
    return only


def env_by_name(container_spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in container_spec.get("env", [])}
