"""Kubernetes building blocks the components share: labels, sizing groups, Secrets and references.

Labels come from one place so that a selector on one side matches the pods on the other. Secrets
are written only from secret Outputs and handed on as :class:`SecretKeyRef` (the Secret's generated
name and a key), never as values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

APP = "llm-gateway"


def selector_labels(component: str) -> dict[str, str]:
    """Labels that identify one component's pods; used in selectors and NetworkPolicy peers."""
    return {"app.kubernetes.io/name": APP, "app.kubernetes.io/component": component}


def object_labels(component: str) -> dict[str, str]:
    """Selector labels plus the bookkeeping labels every object carries."""
    return {**selector_labels(component), "app.kubernetes.io/part-of": APP, "app.kubernetes.io/managed-by": "pulumi"}


class KubernetesObject(Protocol):
    @property
    def metadata(self) -> pulumi.Output[k8s.meta.v1.outputs.ObjectMeta]: ...


def object_name(obj: KubernetesObject) -> pulumi.Output[str]:
    """The name the API server holds for an object: its generated name when Pulumi named it."""

    def name_of(meta: k8s.meta.v1.outputs.ObjectMeta) -> str:
        if meta.name is None:
            raise ValueError("a Kubernetes object without a name")
        return meta.name

    return obj.metadata.apply(name_of)


@dataclass(frozen=True)
class Resources:
    """Container CPU and memory, as Kubernetes quantities."""

    cpu_request: str
    cpu_limit: str
    memory_request: str
    memory_limit: str

    def args(self) -> k8s.core.v1.ResourceRequirementsArgs:
        return k8s.core.v1.ResourceRequirementsArgs(
            requests={"cpu": self.cpu_request, "memory": self.memory_request},
            limits={"cpu": self.cpu_limit, "memory": self.memory_limit},
        )


@dataclass(frozen=True)
class Autoscaling:
    """The HPA's floor, ceiling and CPU target (percent of the request)."""

    min_replicas: int
    max_replicas: int
    target_cpu_utilization: int


@dataclass(frozen=True)
class Disruption:
    """How many pods a voluntary disruption (a node drain) may take down at once."""

    max_unavailable: int


@dataclass(frozen=True)
class SecretKeyRef:
    """One key of a Kubernetes Secret, by the Secret's (generated) name: how a pod reads a secret."""

    secret_name: pulumi.Output[str]
    key: str

    def env(self, env_name: str) -> k8s.core.v1.EnvVarArgs:
        """An environment variable read from this key (the pod spec holds only the reference)."""
        return k8s.core.v1.EnvVarArgs(
            name=env_name,
            value_from=k8s.core.v1.EnvVarSourceArgs(
                secret_key_ref=k8s.core.v1.SecretKeySelectorArgs(name=self.secret_name, key=self.key)
            ),
        )


def generated_password(
    resource_name: str, length: int, parent: pulumi.Resource, prefix: str = ""
) -> pulumi.Output[str]:
    """A random password as a secret Output (`RandomPassword.result` is not secret under mocks)."""
    password = random.RandomPassword(
        resource_name,
        random.RandomPasswordArgs(length=length, special=False),
        opts=pulumi.ResourceOptions(parent=parent, additional_secret_outputs=["result"]),
    )
    return pulumi.Output.secret(pulumi.Output.concat(prefix, password.result))


def opaque_secret(
    resource_name: str,
    namespace: pulumi.Input[str],
    labels: dict[str, str],
    data: Mapping[str, pulumi.Input[str]],
    parent: pulumi.Resource,
) -> dict[str, SecretKeyRef]:
    """A Kubernetes Secret written from secret Outputs only; returns a reference to each of its keys.

    The Secret has no fixed name: Pulumi names it, so a changed value creates a new Secret, the pods
    that reference it roll onto it, and the old one is deleted last (no window without the key).
    Each value is wrapped even if it arrives secret: a plain value handed in by mistake must still
    never be stored unencrypted.
    """
    secret = k8s.core.v1.Secret(
        resource_name,
        metadata=k8s.meta.v1.ObjectMetaArgs(namespace=namespace, labels=labels),
        type="Opaque",
        string_data={key: pulumi.Output.secret(value) for key, value in sorted(data.items())},
        opts=pulumi.ResourceOptions(parent=parent, additional_secret_outputs=["data", "stringData"]),
    )
    name = object_name(secret)
    return {key: SecretKeyRef(name, key) for key in sorted(data)}
