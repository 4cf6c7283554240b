"""Redis policies: authentication on, never exposed outside the cluster, the cache persisted in prod."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from policies.model import (
    COMPONENT_LABEL,
    SECRET,
    SERVICE,
    STATEFUL_SET,
    Resource,
    Violation,
    containers,
    get,
    is_workload,
    items,
    of_type,
    pod_labels,
    pod_spec,
    secret_entries,
)

REDIS_PORT = 6379


def _redis_container(resource: Resource) -> Mapping[str, Any] | None:
    for container in containers(resource):
        command = [str(part) for part in items(container.get("command"))]
        image = str(container.get("image") or "")
        if "redis-server" in command or image.startswith(("redis:", "redis@", "docker.io/library/redis")):
            return container
    return None


def _flag(args: Sequence[str], flag: str) -> str | None:
    """The value after ``flag`` in an argument list (``--aclfile /etc/redis/acl/users.acl``)."""
    for index, arg in enumerate(args):
        if arg == flag and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith(f"{flag}="):
            return arg.split("=", 1)[1]
    return None


def acl_problems(acl: str) -> list[str]:
    """What makes an ACL file let a client in without a password: the default user on without a
    password, or a ``nopass`` user that may do more than PING (a readiness probe's user)."""
    problems = []
    default_seen = False
    for line in acl.splitlines():
        words = line.split()
        if len(words) < 2 or words[0] != "user":
            continue
        user, rules = words[1], words[2:]
        enabled = "on" in rules and "off" not in rules[rules.index("on") :]
        has_password = any(rule.startswith((">", "#")) for rule in rules)
        if user == "default":
            default_seen = True
            if enabled and ("nopass" in rules or not has_password):
                problems.append("the default user is on without a password")
        elif enabled and "nopass" in rules:
            granted = [rule for rule in rules if rule.startswith(("+", "~", "%", "&", "allkeys", "allcommands"))]
            if any(rule != "+ping" for rule in granted):
                problems.append(f"user {user!r} has no password and may run {' '.join(granted)} (only +ping is safe)")
    if not default_seen:
        # Redis creates the default user on, without a password, when the ACL file does not mention it.
        problems.append("the ACL file does not switch the default user off (Redis then lets anyone in)")
    return problems


def redis_auth(resources: Sequence[Resource], config: Mapping[str, Any]) -> Iterator[Violation]:
    """Every Redis requires authentication: an ACL file (``--aclfile``, from a Secret volume) that turns
    the default user off and gives every other user a password. ``--requirepass`` counts as off:
    it puts the password on the command line (visible in /proc and the pod spec)."""
    secrets = {secret.kube_name: secret for secret in of_type(resources, SECRET)}
    for workload in resources:
        if not is_workload(workload):
            continue
        container = _redis_container(workload)
        if container is None:
            continue
        args = [str(arg) for arg in items(container.get("args"))]
        fix = "fix: start redis-server with --aclfile from a Secret volume (components/redis.py)"
        if _flag(args, "--requirepass") is not None:
            yield Violation(f"{workload.display}: the Redis password is on the command line; {fix}", workload)
            continue
        acl_path = _flag(args, "--aclfile")
        if acl_path is None:
            yield Violation(f"{workload.display}: Redis accepts clients without authentication; {fix}", workload)
            continue
        secret_name, key = _acl_source(workload, container, acl_path)
        secret = secrets.get(secret_name or "")
        acl = secret_entries(secret).get(key) if secret is not None and key is not None else None
        if acl is None:
            yield Violation(
                f"{workload.display}: the ACL file {acl_path} does not come from a Secret of this stack; {fix}",
                workload,
            )
            continue
        for problem in acl_problems(acl):
            yield Violation(
                f"{workload.display}: {problem} (Secret {secret_name}, {key}); fix: 'user default off' and a "
                "password (>… or #sha256) for every user that can read or write keys",
                workload,
            )


def _acl_source(workload: Resource, container: Mapping[str, Any], acl_path: str) -> tuple[str | None, str | None]:
    """(Secret name, key) whose content is mounted at ``acl_path``."""
    volumes = {str(get(volume, "name")): volume for volume in items(get(pod_spec(workload), "volumes"))}
    for mount in items(container.get("volumeMounts")):
        mount_path = str(get(mount, "mountPath") or "").rstrip("/")
        if not acl_path.startswith(f"{mount_path}/"):
            continue
        relative = acl_path[len(mount_path) + 1 :]
        volume = volumes.get(str(get(mount, "name")))
        secret_name = get(volume, "secret", "secretName")
        if secret_name is None:
            return None, None
        for item in items(get(volume, "secret", "items")):
            if get(item, "path") == relative:
                return str(secret_name), str(get(item, "key"))
        return str(secret_name), relative
    return None, None


def redis_not_exposed(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    """No Service in front of Redis is a LoadBalancer or NodePort (Redis stays inside the cluster)."""
    if resource.type != SERVICE:
        return
    selector = get(resource.props, "spec", "selector") or {}
    component = str(selector.get(COMPONENT_LABEL, "")) if isinstance(selector, Mapping) else ""
    redis_port = any(get(port, "port") == REDIS_PORT for port in items(get(resource.props, "spec", "ports")))
    service_type = get(resource.props, "spec", "type") or "ClusterIP"
    if (component.startswith("redis") or redis_port) and service_type in ("LoadBalancer", "NodePort"):
        yield (
            f"{resource.display} exposes Redis as a {service_type}; "
            "fix: keep spec.type ClusterIP (the gateway's NetworkPolicy is its only way in)"
        )


def redis_persistence(resources: Sequence[Resource], config: Mapping[str, Any]) -> Iterator[Violation]:
    """The Redis components listed in ``persistentComponents`` (the response cache) keep their data on a
    PersistentVolumeClaim with the append-only file on, so a restart does not empty the cache."""
    wanted = [str(component) for component in config.get("persistentComponents") or ["redis-cache"]]
    by_component = {
        str(pod_labels(workload).get(COMPONENT_LABEL)): workload for workload in of_type(resources, STATEFUL_SET)
    }
    for component in wanted:
        workload = by_component.get(component)
        if workload is None:
            yield Violation(f"the stack has no Redis StatefulSet of component {component!r}; fix: deploy it")
            continue
        container = _redis_container(workload) or {}
        args = [str(arg) for arg in items(container.get("args"))]
        claims = items(get(workload.props, "spec", "volumeClaimTemplates"))
        if not claims or _flag(args, "--appendonly") != "yes":
            yield Violation(
                f"{workload.display} keeps its data only in memory or an emptyDir; "
                "fix: set llm-gateway:redisPersistence: true (a PersistentVolumeClaim and --appendonly yes)",
                workload,
            )
