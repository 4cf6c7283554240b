"""What every validator works on: a resource as the policy engine shows it, and what a violation says.

The validators are pure functions of these values, so the same code runs under ``pulumi preview
--policy-pack policies`` (``policies/registry.py`` adapts the engine's arguments) and in
``python -m policies.report`` / the tests (which build them from the mocked graph).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

STACK_TYPE = "pulumi:pulumi:Stack"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
STATEFUL_SET = "kubernetes:apps/v1:StatefulSet"
WORKLOAD_TYPES = (DEPLOYMENT, STATEFUL_SET, "kubernetes:apps/v1:DaemonSet", "kubernetes:batch/v1:Job")
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
SECRET = "kubernetes:core/v1:Secret"
SERVICE = "kubernetes:core/v1:Service"
SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"
HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
PROMETHEUS_RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
# The component label the program gives each part's pods (program/kube.py: selector_labels).
COMPONENT_LABEL = "app.kubernetes.io/component"
GATEWAY_COMPONENT = "gateway"


@dataclass(frozen=True)
class Resource:
    """One resource: its Pulumi type, logical name, URN and properties (secrets already unwrapped,
    as the policy SDK hands them to a validator)."""

    type: str
    name: str
    props: Mapping[str, Any]
    urn: str = ""

    @property
    def label(self) -> str:
        """How the report names the resource: ``<type> <logical name>``."""
        return f"{self.type} {self.name}"

    @property
    def kube_name(self) -> str:
        """The Kubernetes object name (the generated one for an auto-named object), else the logical name."""
        metadata = self.props.get("metadata")
        name = metadata.get("name") if isinstance(metadata, Mapping) else None
        return str(name) if name else self.name

    @property
    def kind(self) -> str:
        return self.type.rsplit(":", 1)[-1]

    @property
    def display(self) -> str:
        """The resource as a message names it: ``Deployment llm-gateway``."""
        return f"{self.kind} {self.kube_name}"


@dataclass(frozen=True)
class Violation:
    """A broken rule: what is wrong and how to fix it, and the resource (None: the stack as a whole)."""

    message: str
    resource: Resource | None = None


def get(value: Any, *path: str | int) -> Any:
    """``value[path[0]][path[1]]…``, or None where any step is missing (props are sparse)."""
    node = value
    for step in path:
        if isinstance(step, int):
            if not isinstance(node, Sequence) or isinstance(node, str) or step >= len(node):
                return None
            node = node[step]
        else:
            if not isinstance(node, Mapping) or step not in node:
                return None
            node = node[step]
    return node


def is_list(value: Any) -> bool:
    """A list property (the policy SDK hands lists over as read-only sequences, not ``list``)."""
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


def plain(value: Any) -> Any:
    """A property as plain dicts and lists (reading every value: an unknown one raises the SDK's
    UnknownValueError, which the engine reports as "can't run during preview")."""
    if isinstance(value, Mapping):
        return {key: plain(value[key]) for key in value}
    if is_list(value):
        return [plain(item) for item in value]
    return value


def items(value: Any) -> list[Any]:
    """A list property, or [] where it is absent."""
    return list(value) if is_list(value) else []


def text_of(value: Any) -> str | None:
    """A string property, or the text of a string asset (how the ESC environment carries its YAML)."""
    if isinstance(value, str):
        return value
    if isinstance(value, pulumi.StringAsset):
        return str(value.text)
    return None


def pod_spec(resource: Resource) -> Mapping[str, Any] | None:
    """The pod template's spec of a workload (Deployment, StatefulSet, DaemonSet, Job)."""
    spec = get(resource.props, "spec", "template", "spec")
    return spec if isinstance(spec, Mapping) else None


def containers(resource: Resource, init: bool = False) -> Iterator[Mapping[str, Any]]:
    """The containers of a workload's pod template (and its init containers with ``init``)."""
    spec = pod_spec(resource)
    if spec is None:
        return
    keys = ("containers", "initContainers") if init else ("containers",)
    for key in keys:
        for container in items(spec.get(key)):
            if isinstance(container, Mapping):
                yield container


def is_workload(resource: Resource) -> bool:
    return resource.type in WORKLOAD_TYPES


def pod_labels(resource: Resource) -> Mapping[str, Any]:
    labels = get(resource.props, "spec", "template", "metadata", "labels")
    return labels if isinstance(labels, Mapping) else {}


def is_gateway_workload(resource: Resource) -> bool:
    return resource.type == DEPLOYMENT and pod_labels(resource).get(COMPONENT_LABEL) == GATEWAY_COMPONENT


def of_type(resources: Sequence[Resource], resource_type: str) -> list[Resource]:
    return [resource for resource in resources if resource.type == resource_type]


def selects(selector: Any, labels: Mapping[str, Any]) -> bool:
    """Whether a label selector's ``matchLabels`` all hold on ``labels`` (an empty selector selects all)."""
    match_labels = get(selector, "matchLabels") or {}
    return isinstance(match_labels, Mapping) and all(labels.get(key) == value for key, value in match_labels.items())


def secret_entries(secret: Resource) -> dict[str, str]:
    """A Secret's entries as text: ``stringData`` as written, ``data`` decoded from base64."""
    entries: dict[str, str] = {}
    data = secret.props.get("data")
    if isinstance(data, Mapping):
        for key, value in data.items():
            try:
                entries[str(key)] = base64.b64decode(str(value), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                continue
    string_data = secret.props.get("stringData")
    if isinstance(string_data, Mapping):
        entries.update({str(key): str(value) for key, value in string_data.items()})
    return entries


def stack_outputs(resources: Sequence[Resource]) -> Mapping[str, Any]:
    """The stack's outputs: the root ``pulumi:pulumi:Stack`` resource's properties."""
    for resource in resources:
        if resource.type == STACK_TYPE:
            return resource.props
    return {}
