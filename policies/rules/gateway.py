"""Workload policies: the gateway's availability and the hardening every pod of the stack keeps.

Each validator is a pure function of one resource (or the stack's resources) and the policy's
config; it yields what is wrong, naming the object and the fix.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from policies.model import (
    HPA,
    NETWORK_POLICY,
    PDB,
    SERVICE_ACCOUNT,
    Resource,
    Violation,
    containers,
    get,
    is_gateway_workload,
    is_workload,
    items,
    of_type,
    plain,
    pod_labels,
    pod_spec,
    selects,
)
from policies.rules.routing import deployed_routing
from program.egress import NON_PUBLIC_IPV4
from program.generated_tree import custom_hosts
from program.stack_settings import image_digest, image_tag
from runtime.engines import ENGINES, NO_TRUSTED_HOST, PORTKEY


def gateway_replicas_and_pdb(resources: Sequence[Resource], config: Mapping[str, Any]) -> Iterator[Violation]:
    """The gateway keeps ``minReplicas`` pods (the HPA's floor, or the Deployment's replicas) and,
    with ``requirePdb``, a PodDisruptionBudget that covers its pods."""
    minimum = int(config.get("minReplicas", 3))
    require_pdb = bool(config.get("requirePdb", True))
    gateways = [resource for resource in resources if is_gateway_workload(resource)]
    if not gateways:
        yield Violation("the stack has no gateway Deployment; fix: deploy components/gateway.py's Gateway")
    for deployment in gateways:
        hpas = [
            hpa
            for hpa in of_type(resources, HPA)
            if get(hpa.props, "spec", "scaleTargetRef", "kind") == "Deployment"
            and get(hpa.props, "spec", "scaleTargetRef", "name") == deployment.kube_name
        ]
        if hpas:
            floor = min(int(get(hpa.props, "spec", "minReplicas") or 1) for hpa in hpas)
            where = f"HorizontalPodAutoscaler {hpas[0].kube_name} minReplicas"
        else:
            floor = int(get(deployment.props, "spec", "replicas") or 1)
            where = "spec.replicas"
        if floor < minimum:
            yield Violation(
                f"{deployment.display} runs {floor} replica(s) at least ({where}), below {minimum}; "
                f"fix: set llm-gateway:replicas to {minimum} or more in the stack file",
                deployment,
            )
        labels = pod_labels(deployment)
        if require_pdb and not any(
            selects(get(pdb.props, "spec", "selector"), labels) for pdb in of_type(resources, PDB)
        ):
            yield Violation(
                f"{deployment.display} has no PodDisruptionBudget selecting its pods: a node drain may take them "
                "all at once; fix: keep the Gateway's PDB (llm-gateway:pdbMaxUnavailable below replicas)",
                deployment,
            )


def _quantity_missing(container: Mapping[str, Any]) -> list[str]:
    missing = []
    for section in ("requests", "limits"):
        for resource_name in ("cpu", "memory"):
            if not get(container, "resources", section, resource_name):
                missing.append(f"{section}.{resource_name}")
    return missing


def requests_and_limits(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    """Every container states CPU and memory requests and limits (a pod without them starves its node)."""
    if not is_workload(resource):
        return
    for container in containers(resource, init=True):
        missing = _quantity_missing(container)
        if missing:
            yield (
                f"{resource.display}: container {container.get('name')!r} has no "
                f"resources.{', resources.'.join(missing)}; "
                "fix: set both requests and limits for cpu and memory (program/kube.py Resources)"
            )


def probes(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    """Every long-running container has a readiness and a liveness probe."""
    if not is_workload(resource) or resource.type == "kubernetes:batch/v1:Job":
        return
    for container in containers(resource):
        for probe in ("readinessProbe", "livenessProbe"):
            if not isinstance(container.get(probe), Mapping):
                yield (
                    f"{resource.display}: container {container.get('name')!r} has no {probe}; "
                    f"fix: give it a {probe} (the engine registry's probes, runtime/engines.py)"
                )


def _security(resource: Resource, container: Mapping[str, Any], field: str) -> Any:
    # A container's securityContext overrides the pod's for the fields both have.
    own = get(container, "securityContext", field)
    return own if own is not None else get(pod_spec(resource), "securityContext", field)


def non_root(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    """Every container runs as a non-root user (runAsNonRoot, and no runAsUser 0)."""
    if not is_workload(resource):
        return
    for container in containers(resource, init=True):
        if (
            _security(resource, container, "runAsNonRoot") is not True
            or _security(resource, container, "runAsUser") == 0
        ):
            yield (
                f"{resource.display}: container {container.get('name')!r} may run as root; "
                "fix: set securityContext.runAsNonRoot: true and a non-zero runAsUser"
            )


def read_only_root_filesystem(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    """Every container's root filesystem is read-only (writable paths are emptyDir volumes)."""
    if not is_workload(resource):
        return
    for container in containers(resource, init=True):
        if get(container, "securityContext", "readOnlyRootFilesystem") is not True:
            yield (
                f"{resource.display}: container {container.get('name')!r} has a writable root filesystem; "
                "fix: set securityContext.readOnlyRootFilesystem: true and mount an emptyDir where it writes"
            )


def no_latest_image(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    """No image is unpinned or tagged ``latest`` (either moves under a running stack)."""
    if not is_workload(resource):
        return
    for container in containers(resource, init=True):
        image = str(container.get("image") or "")
        if image_tag(image) == "latest" or (image_tag(image) is None and image_digest(image) is None):
            yield (
                f"{resource.display}: container {container.get('name')!r} runs {image!r}, which is not pinned; "
                "fix: pin a version tag (and a digest in prod), never latest"
            )


def images_pinned_by_digest(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    """Every image is pinned by its sha256 digest (a tag can be pushed again)."""
    if not is_workload(resource):
        return
    for container in containers(resource, init=True):
        image = str(container.get("image") or "")
        if image_digest(image) is None:
            yield (
                f"{resource.display}: container {container.get('name')!r} runs {image!r} without a digest; "
                "fix: pin it as name:tag@sha256:<digest> (the gateway image comes from the stack's ESC "
                "environment, images.*; Redis from llm-gateway:redisImage)"
            )


def gateway_tested_version(
    resource: Resource, config: Mapping[str, Any], tested_tags: Mapping[str, str]
) -> Iterator[str]:
    """The gateway container runs the version the end-to-end tests ran (the pins of
    runtime/litellm/requirements.txt and runtime/portkey/package.json)."""
    if not is_gateway_workload(resource):
        return
    for container in containers(resource):
        engine = str(container.get("name"))
        tested = tested_tags.get(engine)
        if tested is None:
            continue
        image = str(container.get("image") or "")
        if image_tag(image) != tested:
            setting = ENGINES[engine].image_setting if engine in ENGINES else "the engine's image setting"
            yield (
                f"{resource.display}: container {engine!r} runs {image!r}, not the tested version {tested}; "
                f"fix: set {setting} to {ENGINES[engine].default_image.rsplit(':', 1)[0]}:{tested}@sha256:<digest> "
                "or test the new version first (runtime pins)"
            )


def portkey_headless(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    """A Portkey gateway container runs headless: without ``--headless`` / ``NODE_ENV=production`` it
    serves a console and /log/stream that print every request, API keys included."""
    if not is_workload(resource):
        return
    for container in _portkey_containers(resource):
        args = [str(arg) for arg in items(container.get("args")) + items(container.get("command"))]
        env = {str(entry.get("name")): entry.get("value") for entry in items(container.get("env"))}
        if "--headless" not in args or env.get("NODE_ENV") != "production":
            yield (
                f"{resource.display}: Portkey container {container.get('name')!r} is not headless; fix: run it "
                "with --headless and NODE_ENV=production (runtime/engines.py PORTKEY)"
            )


# The variable that lists the hosts Portkey exempts from its SSRF blocklist (runtime/engines.py).
TRUSTED_HOSTS_ENV = PORTKEY.trusted_hosts_env or "TRUSTED_CUSTOM_HOSTS"


def _portkey_containers(resource: Resource) -> Iterator[Mapping[str, Any]]:
    repository = PORTKEY.default_image.rsplit(":", 1)[0]
    for container in containers(resource):
        if container.get("name") == PORTKEY.name or str(container.get("image") or "").startswith(repository):
            yield container


def portkey_trusted_hosts(resources: Sequence[Resource], config: Mapping[str, Any]) -> Iterator[Violation]:
    """A Portkey gateway exempts from its SSRF blocklist (``TRUSTED_CUSTOM_HOSTS``) only the hosts its
    served configs' ``custom_host`` targets name: the in-cluster engine relays for anyone who reaches
    it, so every extra trusted host is one more place it can be pointed at."""
    routing = deployed_routing(resources)
    served = (
        [body for source, _task, body in routing.portkey_configs if source is routing.config_map] if routing else []
    )
    named = set(custom_hosts(plain(body) for body in served))
    for deployment in (resource for resource in resources if is_gateway_workload(resource)):
        for container in _portkey_containers(deployment):
            env = {str(get(entry, "name")): get(entry, "value") for entry in items(container.get("env"))}
            listed = str(env.get(TRUSTED_HOSTS_ENV) or "").split(",")
            trusted = {host.strip() for host in listed if host.strip()}
            extra = sorted(trusted - named - {NO_TRUSTED_HOST})
            if extra:
                yield Violation(
                    f"{deployment.display}: Portkey trusts {', '.join(extra)}, which no served config names as a "
                    f"custom_host; fix: leave {TRUSTED_HOSTS_ENV} to the program (components/gateway.py "
                    "sets it from the generated configs)",
                    deployment,
                )


def service_account_token_off(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    """No ServiceAccount or pod mounts an API token unless the pack config lists it in ``needsToken``
    (none of this stack's pods talks to the Kubernetes API)."""
    allowed = set(config.get("needsToken") or [])
    if resource.kube_name in allowed:
        return
    if resource.type == SERVICE_ACCOUNT and resource.props.get("automountServiceAccountToken") is not False:
        yield (
            f"{resource.display} mounts an API token into every pod that uses it; "
            "fix: set automountServiceAccountToken: false"
        )
    if is_workload(resource) and get(pod_spec(resource), "automountServiceAccountToken") is not False:
        yield (
            f"{resource.display}: its pods get a Kubernetes API token they do not need; "
            "fix: set spec.template.spec.automountServiceAccountToken: false"
        )


def _uncovered_non_public(cidr: str, excepted: Sequence[str]) -> list[str]:
    """The non-public IPv4 blocks inside ``cidr`` that its ``except`` list does not cover."""
    try:
        block = ipaddress.ip_network(cidr, strict=False)
        excepts = [ipaddress.ip_network(entry, strict=False) for entry in excepted]
    except ValueError:
        return [cidr]
    if block.version != 4:
        return [] if block.prefixlen > 0 else [f"{cidr} (IPv6 anywhere)"]
    uncovered = []
    for private, _purpose in NON_PUBLIC_IPV4:
        network = ipaddress.ip_network(private)
        if network.subnet_of(block) and not any(  # type: ignore[arg-type]
            network.version == entry.version and network.subnet_of(entry)  # type: ignore[arg-type]
            for entry in excepts
        ):
            uncovered.append(private)
    return uncovered


def egress_bounded(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    """A NetworkPolicy's egress exceptions are bounded: every rule names its ports and its peers, and an
    IP block opens only ``publicPorts`` (443) and excludes every private, shared, link-local and
    loopback range (the cluster and the cloud metadata endpoint stay out of reach)."""
    if resource.type != NETWORK_POLICY:
        return
    public_ports = {int(port) for port in config.get("publicPorts") or [443]}
    for index, rule in enumerate(items(get(resource.props, "spec", "egress"))):
        where = f"{resource.display}: spec.egress[{index}]"
        ports = items(get(rule, "ports"))
        peers = items(get(rule, "to"))
        if not ports:
            yield f"{where} allows every port; fix: list the ports this peer serves"
        if not peers:
            yield f"{where} allows every destination; fix: name the pods, namespaces or IP blocks it may reach"
        for peer in peers:
            cidr = get(peer, "ipBlock", "cidr")
            if cidr is None:
                continue
            uncovered = _uncovered_non_public(
                str(cidr), [str(entry) for entry in items(get(peer, "ipBlock", "except"))]
            )
            if uncovered:
                yield (
                    f"{where} opens {cidr} including non-public ranges {', '.join(uncovered)}; "
                    "fix: except them (program/egress.py NON_PUBLIC_IPV4) or name an egress proxy"
                )
            opened = {get(port, "port") for port in ports}
            if not opened <= public_ports:
                extra = sorted(str(port) for port in opened - public_ports)
                yield (
                    f"{where} opens port(s) {', '.join(extra)} to {cidr}; fix: public destinations get only "
                    f"{', '.join(str(port) for port in sorted(public_ports))}"
                )
