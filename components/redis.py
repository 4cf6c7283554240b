"""A Redis for LiteLLM: the program runs two, one for the response cache and one for the router's
shared state (cooldowns and usage counters across replicas), so cache pressure can never evict the
state that keeps a dead provider skipped.

A plain StatefulSet rather than a Helm chart: one primary, an ACL user, a memory cap with its
eviction policy and optional persistence, which is ~200 lines we can read, test under mocks and
validate strictly; a chart (``helm.v3.Release``) would be opaque to the offline plan and to
kubernetes-validate, and pull in replication/sentinel machinery a best-effort cache does not need.

Authentication is an ACL file mounted from a Secret: the ``default`` user is off, the gateway's
user has a sha256-hashed password and only the commands LiteLLM sends, and a ``probe`` user may
only PING (the readiness probe). Nothing secret is on Redis' command line, in its environment or
in ``CONFIG GET``. Only a headless Service exposes it, and only the pods the caller names may
connect. Consumers get one :class:`RedisEndpoint`: where it is, its user, the Secret key of its
password, and its pods' labels.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_kubernetes as k8s

from gateway_config.runtime_env import REDIS_USERNAME
from program.kube import (
    Resources,
    SecretKeyRef,
    generated_password,
    object_labels,
    object_name,
    opaque_secret,
    selector_labels,
)

REDIS_PORT = 6379
# The official image's `redis` user; the data directory must be writable by it.
_REDIS_UID = 999
PASSWORD_KEY = "password"
ACL_KEY = "users.acl"
ACL_DIR = "/etc/redis/acl"
# Builds of the official image that carry the bundled modules (docker-library/repo-info: the
# Dockerfile builds them on amd64 and arm64 only).
_MODULE_ARCHITECTURES = ["amd64", "arm64"]


def acl_file(password: str, rules: str) -> str:
    """The ACL file: the gateway user with its hashed password and ``rules``, a PING-only probe user,
    the default user off. Redis compares the sha256 of what a client sends, so the plaintext is in
    no file Redis reads."""
    digest = hashlib.sha256(password.encode()).hexdigest()
    return (
        "user default off\n"
        "user probe on nopass resetchannels -@all +ping\n"
        f"user {REDIS_USERNAME} on #{digest} {rules}\n"
    )


@dataclass(frozen=True)
class RedisEndpoint:
    """How a client reaches this Redis: address, where its password is, and the pods to allow."""

    host: pulumi.Output[str]
    port: int
    username: str
    password: SecretKeyRef
    pod_labels: dict[str, str]


@dataclass(frozen=True)
class RedisCacheArgs:
    """Arguments of :class:`RedisCache`."""

    namespace: pulumi.Input[str]
    image: str
    # What this instance holds, in its labels and pod names (`cache`, `state`).
    role: str
    # `allkeys-lru` for a cache; `noeviction` for state that must not disappear under pressure.
    eviction_policy: Literal["allkeys-lru", "noeviction"]
    # ACL rules of the gateway user (gateway_config.runtime_env.redis_acl_rules).
    acl_rules: str
    # Pods allowed to connect (the NetworkPolicy's only ingress peer).
    client_pod_labels: dict[str, str]
    resources: Resources
    # maxmemory is derived from it (three quarters: room for Redis' own overhead).
    memory_mi: int
    modules: list[str]
    persistence: bool
    storage_size: str
    storage_class: str | None = None


class RedisCache(pulumi.ComponentResource):
    """Single-primary Redis with an ACL user, a memory cap and (optionally) a persistent volume."""

    service_name: pulumi.Output[str]
    endpoint: RedisEndpoint

    def __init__(self, name: str, args: RedisCacheArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llm-gateway:index:RedisCache", name, None, opts)
        labels = object_labels(f"redis-{args.role}")
        selector = selector_labels(f"redis-{args.role}")
        child = pulumi.ResourceOptions(parent=self)

        generated = generated_password(f"{name}-password", 40, self)
        auth = opaque_secret(
            f"{name}-auth",
            args.namespace,
            labels,
            {PASSWORD_KEY: generated, ACL_KEY: generated.apply(lambda pw: acl_file(pw, args.acl_rules))},
            self,
        )
        password = auth[PASSWORD_KEY]
        account = k8s.core.v1.ServiceAccount(
            f"{name}-serviceaccount",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=args.namespace, labels=labels),
            automount_service_account_token=False,
            opts=child,
        )

        # Headless: one primary, so clients resolve the pod directly; StatefulSets need it anyway.
        service = k8s.core.v1.Service(
            f"{name}-service",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=args.namespace, labels=labels),
            spec=k8s.core.v1.ServiceSpecArgs(
                cluster_ip="None",
                type="ClusterIP",
                selector=selector,
                ports=[k8s.core.v1.ServicePortArgs(name="redis", port=REDIS_PORT, target_port="redis")],
            ),
            opts=child,
        )
        service_name = object_name(service)

        # maxmemory leaves a quarter of the container limit for Redis' own overhead and
        # fragmentation, so the kernel OOM killer never gets there before the LRU eviction does.
        maxmemory_mb = args.memory_mi * 3 // 4
        redis_args = [
            "--port",
            str(REDIS_PORT),
            "--dir",
            "/data",
            "--maxmemory",
            f"{maxmemory_mb}mb",
            "--maxmemory-policy",
            args.eviction_policy,
            "--protected-mode",
            "yes",
            # A path, not a secret: the users and the password hash are in the mounted Secret.
            "--aclfile",
            f"{ACL_DIR}/{ACL_KEY}",
        ]
        for module in args.modules:
            # The pod runs redis-server directly (not the image's entrypoint), so the bundled
            # modules are loaded explicitly; RediSearch backs LiteLLM's semantic cache.
            redis_args += ["--loadmodule", module]
        if args.persistence:
            redis_args += ["--appendonly", "yes", "--save", "300 10"]
        else:
            # A cache without a volume: snapshots would only burn CPU and fill the emptyDir.
            redis_args += ["--appendonly", "no", "--save", ""]

        container = k8s.core.v1.ContainerArgs(
            name="redis",
            image=args.image,
            image_pull_policy="IfNotPresent",
            command=["redis-server"],
            args=redis_args,
            ports=[k8s.core.v1.ContainerPortArgs(name="redis", container_port=REDIS_PORT, protocol="TCP")],
            resources=args.resources.args(),
            readiness_probe=k8s.core.v1.ProbeArgs(
                # The probe user may only PING and has no password ("unused" is not a secret): a
                # Redis still loading its data answers LOADING, not PONG.
                exec_=k8s.core.v1.ExecActionArgs(
                    command=[
                        "sh",
                        "-c",
                        "redis-cli --no-auth-warning --user probe --pass unused ping | grep -q PONG",
                    ]
                ),
                period_seconds=5,
                timeout_seconds=2,
                failure_threshold=3,
            ),
            liveness_probe=k8s.core.v1.ProbeArgs(
                tcp_socket=k8s.core.v1.TCPSocketActionArgs(port="redis"),
                initial_delay_seconds=10,
                period_seconds=10,
                failure_threshold=6,
            ),
            security_context=k8s.core.v1.SecurityContextArgs(
                allow_privilege_escalation=False,
                read_only_root_filesystem=True,
                run_as_non_root=True,
                run_as_user=_REDIS_UID,
                run_as_group=_REDIS_UID,
                capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
            ),
            volume_mounts=[
                k8s.core.v1.VolumeMountArgs(name="data", mount_path="/data"),
                k8s.core.v1.VolumeMountArgs(name="acl", mount_path=ACL_DIR, read_only=True),
            ],
        )

        volumes: list[k8s.core.v1.VolumeArgs] = [
            k8s.core.v1.VolumeArgs(
                name="acl",
                secret=k8s.core.v1.SecretVolumeSourceArgs(
                    secret_name=auth[ACL_KEY].secret_name,
                    items=[k8s.core.v1.KeyToPathArgs(key=ACL_KEY, path=ACL_KEY)],
                    # Readable by the redis group only (fsGroup), never by other users in the pod.
                    default_mode=0o440,
                ),
            )
        ]
        claims: list[k8s.core.v1.PersistentVolumeClaimArgs] | None = None
        if args.persistence:
            claims = [
                k8s.core.v1.PersistentVolumeClaimArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(name="data", labels=labels),
                    spec=k8s.core.v1.PersistentVolumeClaimSpecArgs(
                        access_modes=["ReadWriteOnce"],
                        storage_class_name=args.storage_class,
                        resources=k8s.core.v1.VolumeResourceRequirementsArgs(requests={"storage": args.storage_size}),
                    ),
                )
            ]
        else:
            volumes.append(
                k8s.core.v1.VolumeArgs(
                    name="data",
                    empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit=f"{args.memory_mi}Mi"),
                )
            )

        k8s.apps.v1.StatefulSet(
            f"{name}-statefulset",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=args.namespace, labels=labels),
            spec=k8s.apps.v1.StatefulSetSpecArgs(
                service_name=service_name,
                replicas=1,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector),
                volume_claim_templates=claims,
                template=k8s.core.v1.PodTemplateSpecArgs(
                    # A new password is a new Secret name in this template: Redis restarts with it.
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
                    spec=k8s.core.v1.PodSpecArgs(
                        service_account_name=object_name(account),
                        automount_service_account_token=False,
                        affinity=_module_architectures() if args.modules else None,
                        enable_service_links=False,
                        security_context=k8s.core.v1.PodSecurityContextArgs(
                            run_as_non_root=True,
                            run_as_user=_REDIS_UID,
                            run_as_group=_REDIS_UID,
                            fs_group=_REDIS_UID,
                            seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
                        ),
                        termination_grace_period_seconds=30,
                        containers=[container],
                        volumes=volumes,
                    ),
                ),
            ),
            opts=child,
        )

        # One primary: a PDB that forbids eviction would block every node drain. maxUnavailable 1
        # records that the cache may go (the gateway treats it as best-effort) but never en masse.
        k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=args.namespace, labels=labels),
            spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
                max_unavailable=1,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector),
                # A crash-looping pod must not block node drains.
                unhealthy_pod_eviction_policy="AlwaysAllow",
            ),
            opts=child,
        )

        # Only gateway pods reach 6379; Redis itself needs no egress at all.
        k8s.networking.v1.NetworkPolicy(
            f"{name}-netpol",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=args.namespace, labels=labels),
            spec=k8s.networking.v1.NetworkPolicySpecArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector),
                policy_types=["Ingress", "Egress"],
                ingress=[
                    k8s.networking.v1.NetworkPolicyIngressRuleArgs(
                        from_=[
                            k8s.networking.v1.NetworkPolicyPeerArgs(
                                pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=args.client_pod_labels)
                            )
                        ],
                        ports=[k8s.networking.v1.NetworkPolicyPortArgs(port=REDIS_PORT, protocol="TCP")],
                    )
                ],
                egress=[],
            ),
            opts=child,
        )

        self.service_name = service_name
        host = pulumi.Output.all(service_name, args.namespace).apply(
            lambda parts: f"{parts[0]}.{parts[1]}.svc.cluster.local"
        )
        self.endpoint = RedisEndpoint(
            host=host, port=REDIS_PORT, username=REDIS_USERNAME, password=password, pod_labels=selector
        )
        self.register_outputs(
            {"service_name": self.service_name, "host": host, "password_secret_name": password.secret_name}
        )


def _module_architectures() -> k8s.core.v1.AffinityArgs:
    """Schedule only where the image has its bundled modules (amd64, arm64)."""
    return k8s.core.v1.AffinityArgs(
        node_affinity=k8s.core.v1.NodeAffinityArgs(
            required_during_scheduling_ignored_during_execution=k8s.core.v1.NodeSelectorArgs(
                node_selector_terms=[
                    k8s.core.v1.NodeSelectorTermArgs(
                        match_expressions=[
                            k8s.core.v1.NodeSelectorRequirementArgs(
                                key="kubernetes.io/arch", operator="In", values=_MODULE_ARCHITECTURES
                            )
                        ]
                    )
                ]
            )
        )
    )
