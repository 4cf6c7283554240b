"""Kubernetes labels shared by the components, so selectors on one side match pods on the other."""

from __future__ import annotations

APP = "llm-gateway"


def selector_labels(component: str) -> dict[str, str]:
    """Labels that identify one component's pods; used in selectors and NetworkPolicy peers."""
    return {"app.kubernetes.io/name": APP, "app.kubernetes.io/component": component}


def object_labels(component: str) -> dict[str, str]:
    """Selector labels plus the bookkeeping labels every object carries."""
    return {**selector_labels(component), "app.kubernetes.io/part-of": APP, "app.kubernetes.io/managed-by": "pulumi"}
