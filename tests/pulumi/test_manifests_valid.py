"""Every rendered Kubernetes object passes kubernetes-validate strict at a pinned version."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest
from pulumi_graph import CRD_ALLOW_LIST, KUBERNETES_VERSION, manifests


def _validate_all(graph: dict[str, Any]) -> list[str]:
    checked = []
    for obj in manifests(graph):
        key = (obj["apiVersion"], obj["kind"])
        if key in CRD_ALLOW_LIST:
            # No schema is bundled for CRDs: prove that is the only reason it is skipped.
            with pytest.raises(kubernetes_validate.utils.SchemaNotFoundError):
                kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
            assert set(obj) == {"apiVersion", "kind", "metadata", "spec"}
            continue
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        checked.append(obj["kind"])
    return checked


@pytest.mark.parametrize("run", ["staging", "prod", "staging-portkey"])
def test_rendered_manifests_validate_strict(offline_runs: Any, run: str) -> None:
    checked = _validate_all(offline_runs.graph(run))
    assert {"Deployment", "StatefulSet", "HorizontalPodAutoscaler", "NetworkPolicy", "Secret"} <= set(checked)


def test_strict_validation_catches_a_misspelled_field(offline_runs: Any) -> None:
    deployment = next(obj for obj in manifests(offline_runs.graph("prod")) if obj["kind"] == "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)
