"""The namespace the gateway, its cache and its Secrets share.

Kept apart from the gateway component because Redis and the Secrets must exist in it before the
gateway Deployment can start. The namespace enforces the ``restricted`` Pod Security Standard, so
the cluster itself rejects a pod that loses its hardening, and it carries a default-deny
NetworkPolicy: traffic flows only where a component's own policy admits it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from program.kube import object_labels, object_name

# The Pod Security Standards version the namespace is checked against, pinned: `latest` would let
# a cluster upgrade tighten or loosen the rules under a running stack. Kept equal to the Kubernetes
# version the tests validate manifests at (tests/pulumi/pulumi_graph.py).
POD_SECURITY_VERSION = "v1.33"


@dataclass(frozen=True)
class GatewayNamespaceArgs:
    """Arguments of :class:`GatewayNamespace`."""

    name: str


class GatewayNamespace(pulumi.ComponentResource):
    """A namespace with Pod Security ``restricted`` enforced and all traffic denied by default."""

    namespace_name: pulumi.Output[str]

    def __init__(self, name: str, args: GatewayNamespaceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llm-gateway:index:GatewayNamespace", name, None, opts)
        pss = {}
        for mode in ("enforce", "audit", "warn"):
            pss[f"pod-security.kubernetes.io/{mode}"] = "restricted"
            pss[f"pod-security.kubernetes.io/{mode}-version"] = POD_SECURITY_VERSION
        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=args.name, labels={**object_labels("namespace"), **pss}),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.namespace_name = object_name(namespace)

        k8s.networking.v1.NetworkPolicy(
            f"{name}-default-deny",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name="default-deny-all", namespace=self.namespace_name, labels=object_labels("namespace")
            ),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(), policy_types=["Ingress", "Egress"]
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"namespace_name": self.namespace_name})
