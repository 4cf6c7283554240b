"""Which cluster a stack deploys to: its explicit Kubernetes provider, and the check that refuses a
kubeconfig pointing anywhere else.

Every Kubernetes object is created through the provider built here (never the ambient default
provider, which follows whatever ``KUBECONFIG`` or ``kubectl`` context the person running ``pulumi
up`` happens to have). Its kubeconfig comes from the stack's ESC environment (secret); the API
server it must point at is a stack setting (``llm-gateway:clusterServer``, in the reviewed stack
file). The check reads the kubeconfig statically (context → cluster → server), so it runs before
anything is registered, in the offline plan too, and never contacts a cluster. Messages name
contexts and servers, never credentials.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import yaml


def _named(entries: Any, name: str) -> dict[str, Any] | None:
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and entry.get("name") == name:
            return entry
    return None


def _names(entries: Any) -> str:
    names = sorted(str(e.get("name")) for e in (entries if isinstance(entries, list) else []) if isinstance(e, dict))
    return ", ".join(names) or "none"


def kubeconfig_server(kubeconfig: str, context: str | None) -> tuple[str | None, str]:
    """(API server URL, or None, and a description of what was found) for ``context`` (None: the
    kubeconfig's current-context)."""
    try:
        document = yaml.safe_load(kubeconfig)
    except yaml.YAMLError:
        return None, "is not a kubeconfig (not YAML)"
    if not isinstance(document, dict):
        return None, "is not a kubeconfig (not a mapping)"
    chosen = context or document.get("current-context")
    if not chosen:
        return None, "names no current-context, and llm-gateway:kubeContext is not set"
    entry = _named(document.get("contexts"), str(chosen))
    if entry is None:
        return None, f"has no context {chosen!r} (contexts: {_names(document.get('contexts'))})"
    cluster_name = (entry.get("context") or {}).get("cluster")
    cluster = _named(document.get("clusters"), str(cluster_name))
    server = ((cluster or {}).get("cluster") or {}).get("server")
    if not isinstance(server, str) or not server:
        return None, f"context {chosen!r} names cluster {cluster_name!r}, which has no server"
    return server.rstrip("/"), f"context {chosen!r} points at cluster {cluster_name!r} ({server.rstrip('/')})"


def kubeconfig_problem(kubeconfig: str, context: str | None, expected_server: str) -> str | None:
    """Why ``kubeconfig`` must not be used for this stack, or None when it points at ``expected_server``."""
    server, found = kubeconfig_server(kubeconfig, context)
    if server == expected_server.rstrip("/"):
        return None
    if server is None:
        return found
    return f"{found}, not this stack's llm-gateway:clusterServer ({expected_server}): refusing to deploy there"


def cluster_provider(name: str, kubeconfig: pulumi.Output[str], context: str | None, server: str) -> k8s.Provider:
    """The stack's Kubernetes provider (checked by :func:`kubeconfig_problem` before it is built).

    ``cluster_identifier`` is the API server: rotating the kubeconfig's credentials must not replace
    every object, moving to another cluster must.
    """
    return k8s.Provider(
        name,
        kubeconfig=kubeconfig,
        context=context,
        cluster_identifier=server,
        opts=pulumi.ResourceOptions(additional_secret_outputs=["kubeconfig"]),
    )
