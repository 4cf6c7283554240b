"""The in-cluster LLM gateway: LiteLLM (default) or the Portkey OSS gateway, serving the
generated routing for one environment.

The generated files go into a ConfigMap and the pod template carries their sha256, so merging a
routing change and running ``pulumi up`` rolls the pods while an unchanged spec leaves them be; a
second annotation does the same for the Secret values the container reads (a key rotated in ESC).
Pods are hardened to the ``restricted`` Pod Security Standard, spread across zones, autoscaled,
protected by a PDB, and fenced by a NetworkPolicy that admits only the listed namespaces and lets
them reach only Redis, DNS and HTTPS.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_kubernetes as k8s

from components.generated_config import GeneratedConfig
from components.labels import object_labels, selector_labels
from components.secrets import SECRETS_CHECKSUM_ANNOTATION
from gateway_config.runtime_env import REDIS_HOST, REDIS_PASSWORD, REDIS_PORT

CHECKSUM_ANNOTATION = "llm-gateway/config-checksum"
CONFIG_MOUNT = "/etc/llm-gateway"
SERVICE_PORT = 80


@dataclass(frozen=True)
class EngineProfile:
    """What differs between the two engines' containers."""

    port: int
    run_as_user: int
    metrics_path: str | None


ENGINES: dict[str, EngineProfile] = {
    # LiteLLM serves /health/* and, with the prometheus callback the generator sets, /metrics.
    "litellm": EngineProfile(port=4000, run_as_user=65532, metrics_path="/metrics"),
    # Portkey OSS has neither /health nor /metrics; `node` is uid 1000 in its image.
    "portkey": EngineProfile(port=8787, run_as_user=1000, metrics_path=None),
}


@dataclass(frozen=True)
class RedisEndpoint:
    """How the gateway reaches Redis (all names; the password stays in its Secret)."""

    host: pulumi.Input[str]
    port: int
    password_secret_name: pulumi.Input[str]
    password_secret_key: str
    pod_labels: dict[str, str]


@dataclass(frozen=True)
class GatewayArgs:
    """Arguments of :class:`Gateway`. Sizing comes straight from the stack settings."""

    namespace: pulumi.Input[str]
    engine: Literal["litellm", "portkey"]
    image: str
    generated: GeneratedConfig
    redis: RedisEndpoint
    provider_keys_secret_name: pulumi.Input[str]
    provider_key_env_vars: list[str]
    master_key_secret_name: pulumi.Input[str]
    master_key_env_var: str
    # sha256 over every Secret value the LiteLLM container reads (components.secrets.secret_data_checksum)
    secrets_checksum: pulumi.Input[str]
    replicas: int
    max_replicas: int
    target_cpu_utilization: int
    pdb_min_available: int
    cpu_request: str
    cpu_limit: str
    memory_request: str
    memory_limit: str
    zone_spread: Literal["DoNotSchedule", "ScheduleAnyway"]
    allowed_namespaces: list[str]
    monitoring_namespace: str
    service_monitor: bool


class Gateway(pulumi.ComponentResource):
    """ConfigMap, Deployment, Service, HPA, PDB, NetworkPolicy and (LiteLLM) ServiceMonitor."""

    service_name: pulumi.Output[str]
    url: pulumi.Output[str]
    config_checksum: str

    def __init__(self, name: str, args: GatewayArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llm-gateway:index:Gateway", name, None, opts)
        self._name = name
        self._args = args
        self._engine = ENGINES[args.engine]
        self._labels = object_labels("gateway")
        self._selector = selector_labels("gateway")
        self._child = pulumi.ResourceOptions(parent=self)

        config_map = self._config_map()
        self._deployment(config_map.metadata.apply(lambda meta: meta.name))
        service = self._service()
        self._autoscaler()
        self._disruption_budget()
        self._network_policy()
        if args.service_monitor and self._engine.metrics_path:
            self._service_monitor()

        self.service_name = service.metadata.apply(lambda meta: meta.name)
        self.url = pulumi.Output.all(self.service_name, args.namespace).apply(
            lambda parts: f"http://{parts[0]}.{parts[1]}.svc.cluster.local"
        )
        self.config_checksum = args.generated.checksum
        self.register_outputs(
            {"service_name": self.service_name, "url": self.url, "config_checksum": self.config_checksum}
        )

    def _metadata(self, name: str | None = None) -> k8s.meta.v1.ObjectMetaArgs:
        return k8s.meta.v1.ObjectMetaArgs(name=name or self._name, namespace=self._args.namespace, labels=self._labels)

    def _config_map(self) -> k8s.core.v1.ConfigMap:
        generated = self._args.generated
        data = {key: generated.files[path] for path, key in generated.configmap_keys.items()}
        return k8s.core.v1.ConfigMap(
            f"{self._name}-config",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=f"{self._name}-config",
                namespace=self._args.namespace,
                labels=self._labels,
                annotations={CHECKSUM_ANNOTATION: generated.checksum},
            ),
            data=data,
            opts=self._child,
        )

    def _secret_env(self, env_name: str, secret_name: pulumi.Input[str], key: str) -> k8s.core.v1.EnvVarArgs:
        return k8s.core.v1.EnvVarArgs(
            name=env_name,
            value_from=k8s.core.v1.EnvVarSourceArgs(
                secret_key_ref=k8s.core.v1.SecretKeySelectorArgs(name=secret_name, key=key)
            ),
        )

    def _container(self) -> k8s.core.v1.ContainerArgs:
        args, engine = self._args, self._engine
        # The cluster-wide writable paths an engine needs with a read-only root filesystem.
        mounts = [
            k8s.core.v1.VolumeMountArgs(name="config", mount_path=CONFIG_MOUNT, read_only=True),
            k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp"),
        ]
        common = {
            "name": args.engine,
            "image": args.image,
            "image_pull_policy": "IfNotPresent",
            "ports": [k8s.core.v1.ContainerPortArgs(name="http", container_port=engine.port, protocol="TCP")],
            "resources": k8s.core.v1.ResourceRequirementsArgs(
                requests={"cpu": args.cpu_request, "memory": args.memory_request},
                limits={"cpu": args.cpu_limit, "memory": args.memory_limit},
            ),
            "security_context": k8s.core.v1.SecurityContextArgs(
                allow_privilege_escalation=False,
                read_only_root_filesystem=True,
                run_as_non_root=True,
                run_as_user=engine.run_as_user,
                run_as_group=engine.run_as_user,
                capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
            ),
            "volume_mounts": mounts,
        }
        if args.engine == "litellm":
            env = [
                k8s.core.v1.EnvVarArgs(name=REDIS_HOST, value=args.redis.host),
                k8s.core.v1.EnvVarArgs(name=REDIS_PORT, value=str(args.redis.port)),
                self._secret_env(REDIS_PASSWORD, args.redis.password_secret_name, args.redis.password_secret_key),
                *(self._secret_env(var, args.provider_keys_secret_name, var) for var in args.provider_key_env_vars),
                self._secret_env(args.master_key_env_var, args.master_key_secret_name, args.master_key_env_var),
                # From the generator: the provider connection pool and the shipped price map (no
                # fetch from the internet at start), which LiteLLM reads before its config file.
                *(k8s.core.v1.EnvVarArgs(name=name, value=value) for name, value in args.generated.runtime_env.items()),
                # Caches and UI rewrites go to the writable emptyDir, not the read-only image.
                k8s.core.v1.EnvVarArgs(name="HOME", value="/tmp"),
                k8s.core.v1.EnvVarArgs(name="LITELLM_UI_PATH", value="/tmp/litellm-ui"),
            ]
            http = k8s.core.v1.HTTPGetActionArgs
            return k8s.core.v1.ContainerArgs(
                **common,
                args=["--config", f"{CONFIG_MOUNT}/litellm/config.yaml", "--port", str(engine.port)],
                env=env,
                # Startup takes ~5 s; allow up to 2 min on a cold node before liveness takes over.
                startup_probe=k8s.core.v1.ProbeArgs(
                    http_get=http(path="/health/liveliness", port="http"), period_seconds=5, failure_threshold=24
                ),
                liveness_probe=k8s.core.v1.ProbeArgs(
                    http_get=http(path="/health/liveliness", port="http"),
                    period_seconds=10,
                    timeout_seconds=3,
                    failure_threshold=3,
                ),
                # /health/readiness answers only once the router and its config are loaded;
                # liveliness answers as soon as the web server runs.
                readiness_probe=k8s.core.v1.ProbeArgs(
                    http_get=http(path="/health/readiness", port="http"),
                    period_seconds=5,
                    timeout_seconds=3,
                    failure_threshold=3,
                ),
            )

        # Portkey OSS: without --headless / NODE_ENV=production it serves a console and
        # /log/stream that print every request *including API keys*. The OSS build has no virtual
        # keys (Portkey cloud only), so in-cluster Portkey serves the pass-through configs and the
        # caller supplies provider credentials; no provider key is mounted into these pods.
        tcp = k8s.core.v1.TCPSocketActionArgs(port="http")
        return k8s.core.v1.ContainerArgs(
            **common,
            working_dir="/app",
            command=["node", "build/start-server.js"],
            args=["--headless", f"--port={engine.port}"],
            env=[k8s.core.v1.EnvVarArgs(name="NODE_ENV", value="production")],
            startup_probe=k8s.core.v1.ProbeArgs(tcp_socket=tcp, period_seconds=2, failure_threshold=30),
            liveness_probe=k8s.core.v1.ProbeArgs(tcp_socket=tcp, period_seconds=10, failure_threshold=3),
            readiness_probe=k8s.core.v1.ProbeArgs(tcp_socket=tcp, period_seconds=5, failure_threshold=2),
        )

    def _pod_annotations(self) -> dict[str, pulumi.Input[str]]:
        # A change to either the routing or a Secret value the container reads rolls the pods.
        annotations: dict[str, pulumi.Input[str]] = {CHECKSUM_ANNOTATION: self._args.generated.checksum}
        if self._args.engine == "litellm":  # Portkey pods mount no Secret: nothing to roll them for
            annotations[SECRETS_CHECKSUM_ANNOTATION] = self._args.secrets_checksum
        return annotations

    def _deployment(self, config_map_name: pulumi.Output[str]) -> k8s.apps.v1.Deployment:
        args = self._args
        generated = args.generated
        spread = [
            k8s.core.v1.TopologySpreadConstraintArgs(
                max_skew=1,
                topology_key=topology_key,
                when_unsatisfiable=when,
                label_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=self._selector),
                # Count only the current ReplicaSet's pods, so a rollout is not skewed by old ones.
                match_label_keys=["pod-template-hash"],
            )
            for topology_key, when in (
                ("topology.kubernetes.io/zone", args.zone_spread),
                ("kubernetes.io/hostname", "ScheduleAnyway"),
            )
        ]
        config_items = [k8s.core.v1.KeyToPathArgs(key=key, path=path) for path, key in generated.configmap_keys.items()]
        return k8s.apps.v1.Deployment(
            f"{self._name}-deployment",
            metadata=self._metadata(),
            spec=k8s.apps.v1.DeploymentSpecArgs(
                # No `replicas`: the HPA owns the count, and a fixed value here would fight it
                # on every `pulumi up`.
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=self._selector),
                revision_history_limit=5,
                strategy=k8s.apps.v1.DeploymentStrategyArgs(
                    type="RollingUpdate",
                    rolling_update=k8s.apps.v1.RollingUpdateDeploymentArgs(max_surge="25%", max_unavailable=0),
                ),
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=self._labels, annotations=self._pod_annotations()),
                    spec=k8s.core.v1.PodSpecArgs(
                        automount_service_account_token=False,
                        enable_service_links=False,
                        security_context=k8s.core.v1.PodSecurityContextArgs(
                            run_as_non_root=True,
                            run_as_user=self._engine.run_as_user,
                            run_as_group=self._engine.run_as_user,
                            fs_group=self._engine.run_as_user,
                            seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
                        ),
                        termination_grace_period_seconds=30,
                        topology_spread_constraints=spread,
                        containers=[self._container()],
                        volumes=[
                            k8s.core.v1.VolumeArgs(
                                name="config",
                                config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(
                                    name=config_map_name, items=config_items
                                ),
                            ),
                            k8s.core.v1.VolumeArgs(
                                name="tmp", empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit="256Mi")
                            ),
                        ],
                    ),
                ),
            ),
            opts=self._child,
        )

    def _service(self) -> k8s.core.v1.Service:
        return k8s.core.v1.Service(
            f"{self._name}-service",
            metadata=self._metadata(),
            spec=k8s.core.v1.ServiceSpecArgs(
                type="ClusterIP",
                selector=self._selector,
                ports=[k8s.core.v1.ServicePortArgs(name="http", port=SERVICE_PORT, target_port="http")],
            ),
            opts=self._child,
        )

    def _autoscaler(self) -> None:
        args = self._args
        k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{self._name}-hpa",
            metadata=self._metadata(),
            spec=k8s.autoscaling.v2.HorizontalPodAutoscalerSpecArgs(
                scale_target_ref=k8s.autoscaling.v2.CrossVersionObjectReferenceArgs(
                    api_version="apps/v1", kind="Deployment", name=self._name
                ),
                min_replicas=args.replicas,
                max_replicas=args.max_replicas,
                metrics=[
                    k8s.autoscaling.v2.MetricSpecArgs(
                        type="Resource",
                        resource=k8s.autoscaling.v2.ResourceMetricSourceArgs(
                            name="cpu",
                            target=k8s.autoscaling.v2.MetricTargetArgs(
                                type="Utilization", average_utilization=args.target_cpu_utilization
                            ),
                        ),
                    )
                ],
                # Scale down slowly: traffic to an LLM gateway is bursty and cold pods cost ~5 s.
                behavior=k8s.autoscaling.v2.HorizontalPodAutoscalerBehaviorArgs(
                    scale_down=k8s.autoscaling.v2.HPAScalingRulesArgs(
                        stabilization_window_seconds=300,
                        policies=[k8s.autoscaling.v2.HPAScalingPolicyArgs(type="Pods", value=1, period_seconds=60)],
                    )
                ),
            ),
            opts=self._child,
        )

    def _disruption_budget(self) -> None:
        min_available = self._args.pdb_min_available
        # minAvailable 0 would be a no-op budget; for a one-replica stack allow one pod at a time.
        budget = {"min_available": min_available} if min_available > 0 else {"max_unavailable": 1}
        k8s.policy.v1.PodDisruptionBudget(
            f"{self._name}-pdb",
            metadata=self._metadata(),
            spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=self._selector), **budget
            ),
            opts=self._child,
        )

    def _network_policy(self) -> None:
        args = self._args
        net = k8s.networking.v1
        sources = sorted({*args.allowed_namespaces, *([args.monitoring_namespace] if args.service_monitor else [])})
        ingress = []
        if sources:
            ingress.append(
                net.NetworkPolicyIngressRuleArgs(
                    from_=[
                        net.NetworkPolicyPeerArgs(
                            namespace_selector=k8s.meta.v1.LabelSelectorArgs(
                                match_expressions=[
                                    k8s.meta.v1.LabelSelectorRequirementArgs(
                                        key="kubernetes.io/metadata.name", operator="In", values=sources
                                    )
                                ]
                            )
                        )
                    ],
                    ports=[net.NetworkPolicyPortArgs(port="http", protocol="TCP")],
                )
            )
        egress = [
            net.NetworkPolicyEgressRuleArgs(
                to=[
                    net.NetworkPolicyPeerArgs(
                        pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=args.redis.pod_labels)
                    )
                ],
                ports=[net.NetworkPolicyPortArgs(port=args.redis.port, protocol="TCP")],
            ),
            # DNS by port only: clusters differ (kube-dns, CoreDNS, node-local DNS on a link-local IP).
            net.NetworkPolicyEgressRuleArgs(
                ports=[net.NetworkPolicyPortArgs(port=53, protocol=proto) for proto in ("UDP", "TCP")]
            ),
            # Providers over HTTPS. The cloud metadata endpoint is carved out: an LLM gateway that
            # forwards to configurable hosts must not become a path to node credentials.
            net.NetworkPolicyEgressRuleArgs(
                to=[
                    net.NetworkPolicyPeerArgs(
                        ip_block=net.IPBlockArgs(cidr="0.0.0.0/0", except_=["169.254.169.254/32"])
                    )
                ],
                ports=[net.NetworkPolicyPortArgs(port=443, protocol="TCP")],
            ),
        ]
        net.NetworkPolicy(
            f"{self._name}-netpol",
            metadata=self._metadata(),
            spec=net.NetworkPolicySpecArgs(
                pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=self._selector),
                policy_types=["Ingress", "Egress"],
                ingress=ingress,
                egress=egress,
            ),
            opts=self._child,
        )

    def _service_monitor(self) -> None:
        # Prometheus Operator CRD: spec is untyped, so it is written in the CRD's own camelCase.
        k8s.apiextensions.CustomResource(
            f"{self._name}-servicemonitor",
            api_version="monitoring.coreos.com/v1",
            kind="ServiceMonitor",
            metadata=self._metadata(),
            spec={
                "selector": {"matchLabels": self._selector},
                "endpoints": [{"port": "http", "path": self._engine.metrics_path, "interval": "30s"}],
            },
            opts=self._child,
        )
