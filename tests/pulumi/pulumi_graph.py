"""Helpers to query a recorded Pulumi graph (see tests/conftest.py and tools/offline.py)."""

from __future__ import annotations

from typing import Any

from tools.offline import render_manifests

KUBERNETES_VERSION = "1.33.0"
# Custom resources kubernetes-validate has no schema for; each entry is checked by hand instead.
CRD_ALLOW_LIST = {("monitoring.coreos.com/v1", "ServiceMonitor")}


def manifests(graph: dict[str, Any]) -> list[dict[str, Any]]:
    """Kubernetes objects with secret values kept (tests look for canaries in them)."""
    return render_manifests(graph, redact=False)


def objects(graph: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [obj for obj in manifests(graph) if obj["kind"] == kind]


def one(graph: dict[str, Any], kind: str, name: str) -> dict[str, Any]:
    found = [obj for obj in objects(graph, kind) if obj["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name!r}, found {len(found)}"
    return found[0]


def container(graph: dict[str, Any], kind: str, name: str) -> dict[str, Any]:
    (only,) = one(graph, kind, name)["spec"]["template"]["spec"]["containers"]
    return only


def env_by_name(container_spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in container_spec.get("env", [])}
