"""Redis for LiteLLM's response cache and its shared router state (cooldowns across replicas).

A plain StatefulSet rather than a Helm chart: the cache needs one primary, a password, an LRU
memory cap and optional persistence, which is ~150 lines we can read, test under mocks and
validate strictly; a chart (``helm.v3.Release``) would be opaque to the offline plan and to
kubernetes-validate, and pull in replication/sentinel machinery a best-effort cache does not need.
Only a headless Service exposes it, and only the pods the caller names may connect. Consumers get
one :class:`RedisEndpoint`: where it is, the Secret key of its password, and its pods' labels.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from gateway_config.runtime_env import REDIS_PASSWORD
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


@dataclass(frozen=True)
class RedisEndpoint:
    """How a client reaches this Redis: address, where its password is, and the pods to allow."""

    host: pulumi.Output[str]
    port: int
    password: SecretKeyRef
    pod_labels: dict[str, str]


@dataclass(frozen=True)
class RedisCacheArgs:
    """Arguments of :class:`RedisCache`."""

    namespace: pulumi.Input[str]
    image: str
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
    """Single-primary Redis with auth, an LRU memory cap and (optionally) a persistent volume."""

    service_name: pulumi.Output[str]
    endpoint: RedisEndpoint

    def __init__(self, name: str, args: RedisCacheArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llm-gateway:index:RedisCache", name, None, opts)
        labels = object_labels("redis")
        selector = selector_labels("redis")
        child = pulumi.ResourceOptions(parent=self)

        password = opaque_secret(
            f"{name}-auth",
            args.namespace,
            labels,
            {REDIS_PASSWORD: generated_password(f"{name}-password", 40, self)},
            self,
        )[REDIS_PASSWORD]

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
            "allkeys-lru",
            "--protected-mode",
            "yes",
            # Expanded by the kubelet from the env var below: the pod spec holds only the reference.
            "--requirepass",
            f"$({REDIS_PASSWORD})",
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

        # redis-cli reads REDISCLI_AUTH, so the readiness probe needs no password on its command line.
        password_env, cli_auth_env = password.env(REDIS_PASSWORD), password.env("REDISCLI_AUTH")
        container = k8s.core.v1.ContainerArgs(
            name="redis",
            image=args.image,
            image_pull_policy="IfNotPresent",
            command=["redis-server"],
            args=redis_args,
            env=[password_env, cli_auth_env],
            ports=[k8s.core.v1.ContainerPortArgs(name="redis", container_port=REDIS_PORT, protocol="TCP")],
            resources=args.resources.args(),
            readiness_probe=k8s.core.v1.ProbeArgs(
                exec_=k8s.core.v1.ExecActionArgs(command=["sh", "-c", "redis-cli ping | grep -q PONG"]),
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
            volume_mounts=[k8s.core.v1.VolumeMountArgs(name="data", mount_path="/data")],
        )

        volumes: list[k8s.core.v1.VolumeArgs] = []
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
                        automount_service_account_token=False,
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
                        volumes=volumes or None,
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
                max_unavailable=1, selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector)
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
        self.endpoint = RedisEndpoint(host=host, port=REDIS_PORT, password=password, pod_labels=selector)
        self.register_outputs(
            {"service_name": self.service_name, "host": host, "password_secret_name": password.secret_name}
        )
