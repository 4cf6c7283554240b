"""The in-cluster LLM gateway: LiteLLM (default) or the Portkey OSS gateway, serving the
generated routing for one environment.

What differs between the engines (container, probes, files served, secrets read, metrics) comes
from the engine registry (``runtime/engines.py``). The generated files go into an auto-named
ConfigMap whose generated name the pod spec takes from its output, as the Secrets' names are: a
routing change or a rotated key creates a new object, rolls the pods onto it through the
Deployment, and deletes the old object last, so no pod ever starts without its config or keys.
Pods are hardened to the ``restricted`` Pod Security Standard, spread across zones, autoscaled,
protected by a PDB, and fenced by a NetworkPolicy that admits only the listed namespaces and lets
them reach only Redis, DNS and HTTPS.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import pulumi
import pulumi_kubernetes as k8s

from components.redis import RedisEndpoint
from components.secrets import GatewaySecrets
from gateway_config.runtime_env import MASTER_KEY, REDIS_HOST, REDIS_PASSWORD, REDIS_PORT
from program.generated_tree import GeneratedConfig
from program.kube import Autoscaling, Disruption, Resources, object_labels, object_name, selector_labels
from runtime.engines import Engine, Probe

CONFIG_MOUNT = "/etc/llm-gateway"
SERVICE_PORT = 80


class MissingProviderKeyError(ValueError):
    """The generated routes read a provider key (or an application's key) the stack does not supply."""


@dataclass(frozen=True)
class Monitoring:
    """Where the Prometheus that scrapes the gateway runs, and whether to create its ServiceMonitor."""

    namespace: str
    service_monitor: bool


@dataclass(frozen=True)
class GatewayArgs:
    """Arguments of :class:`Gateway`."""

    namespace: pulumi.Input[str]
    engine: Engine
    image: str
    generated: GeneratedConfig
    redis: RedisEndpoint
    secrets: GatewaySecrets
    resources: Resources
    autoscaling: Autoscaling
    disruption: Disruption
    zone_spread: Literal["DoNotSchedule", "ScheduleAnyway"]
    allowed_namespaces: list[str]
    monitoring: Monitoring


class Gateway(pulumi.ComponentResource):
    """ConfigMap, Deployment, Service, HPA, PDB, NetworkPolicy and (LiteLLM) ServiceMonitor."""

    service_name: pulumi.Output[str]
    url: pulumi.Output[str]
    # sha256 of the generated files the pods serve: for reviewers (a stack output), not for rollouts.
    config_checksum: str
    # The labels that select the gateway's pods: what it calls (Redis) admits exactly these.
    POD_LABELS: ClassVar[dict[str, str]] = selector_labels("gateway")

    def __init__(self, name: str, args: GatewayArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llm-gateway:index:Gateway", name, None, opts)
        self._name = name
        self._args = args
        self._engine = args.engine
        self._labels = object_labels("gateway")
        self._selector = self.POD_LABELS
        self._child = pulumi.ResourceOptions(parent=self)

        config_map = self._config_map()
        self._deployment(object_name(config_map))
        service = self._service()
        self._autoscaler()
        self._disruption_budget()
        self._network_policy()
        if args.monitoring.service_monitor and self._engine.metrics_path:
            self._service_monitor()

        self.service_name = object_name(service)
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
        # No fixed name: Pulumi names it, so a routing change is a new ConfigMap (create, roll, delete old).
        return k8s.core.v1.ConfigMap(
            f"{self._name}-config",
            metadata=k8s.meta.v1.ObjectMetaArgs(namespace=self._args.namespace, labels=self._labels),
            data=data,
            opts=self._child,
        )

    def _secret_env(self) -> list[k8s.core.v1.EnvVarArgs]:
        """Redis, the provider keys the generated routes read, the admin key and each application's key:
        all by reference."""
        args = self._args
        environment = args.generated.environment
        provided = args.secrets.provider_keys
        applications = args.secrets.application_keys
        for unsupplied, message in (
            (
                [var for var in args.generated.provider_key_env_vars if var not in provided],
                f"the generated routes of {environment!r} read {{}}, which no llm-gateway:*ApiKey setting supplies",
            ),
            (
                [name for name in args.generated.applications if name not in applications],
                f"the generated config of {environment!r} names applications {{}}, for which no key was generated",
            ),
        ):
            if unsupplied:
                raise MissingProviderKeyError(message.format(", ".join(unsupplied)))
        return [
            k8s.core.v1.EnvVarArgs(name=REDIS_HOST, value=args.redis.host),
            k8s.core.v1.EnvVarArgs(name=REDIS_PORT, value=str(args.redis.port)),
            args.redis.password.env(REDIS_PASSWORD),
            *(provided[var].env(var) for var in args.generated.provider_key_env_vars),
            args.secrets.master_key.env(MASTER_KEY),
            # The auth hook maps each application's key to the tasks it may use.
            *(applications[name].env(var) for name, var in args.generated.applications.items()),
        ]

    def _container(self) -> k8s.core.v1.ContainerArgs:
        args, engine = self._args, self._engine
        # The cluster-wide writable paths an engine needs with a read-only root filesystem.
        mounts = [
            k8s.core.v1.VolumeMountArgs(name="config", mount_path=CONFIG_MOUNT, read_only=True),
            k8s.core.v1.VolumeMountArgs(name="tmp", mount_path="/tmp"),
        ]
        env: list[k8s.core.v1.EnvVarArgs] = []
        if engine.reads_secrets:
            env += self._secret_env()
            # From the generator: the provider connection pool and the shipped price map (no
            # fetch from the internet at start), which LiteLLM reads before its config file.
            env += [k8s.core.v1.EnvVarArgs(name=n, value=v) for n, v in args.generated.runtime_env.items()]
        # A Portkey engine reads no keys: the caller supplies provider credentials per request.
        env += [k8s.core.v1.EnvVarArgs(name=name, value=value) for name, value in engine.plain_env]
        fill = {"config_dir": CONFIG_MOUNT, "port": str(engine.port)}
        return k8s.core.v1.ContainerArgs(
            name=engine.name,
            image=args.image,
            image_pull_policy="IfNotPresent",
            command=list(engine.command) if engine.command else None,
            args=[arg.format(**fill) for arg in engine.args],
            working_dir=engine.working_dir,
            env=env,
            ports=[k8s.core.v1.ContainerPortArgs(name="http", container_port=engine.port, protocol="TCP")],
            resources=args.resources.args(),
            security_context=k8s.core.v1.SecurityContextArgs(
                allow_privilege_escalation=False,
                read_only_root_filesystem=True,
                run_as_non_root=True,
                run_as_user=engine.run_as_user,
                run_as_group=engine.run_as_user,
                capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
            ),
            volume_mounts=mounts,
            startup_probe=_probe(engine.startup_probe),
            liveness_probe=_probe(engine.liveness_probe),
            readiness_probe=_probe(engine.readiness_probe),
        )

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
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=self._labels),
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
                min_replicas=args.autoscaling.min_replicas,
                max_replicas=args.autoscaling.max_replicas,
                metrics=[
                    k8s.autoscaling.v2.MetricSpecArgs(
                        type="Resource",
                        resource=k8s.autoscaling.v2.ResourceMetricSourceArgs(
                            name="cpu",
                            target=k8s.autoscaling.v2.MetricTargetArgs(
                                type="Utilization", average_utilization=args.autoscaling.target_cpu_utilization
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
        min_available = self._args.disruption.min_available
        selector = k8s.meta.v1.LabelSelectorArgs(match_labels=self._selector)
        # minAvailable 0 would be a no-op budget; for a one-replica stack allow one pod at a time.
        spec = (
            k8s.policy.v1.PodDisruptionBudgetSpecArgs(selector=selector, min_available=min_available)
            if min_available > 0
            else k8s.policy.v1.PodDisruptionBudgetSpecArgs(selector=selector, max_unavailable=1)
        )
        k8s.policy.v1.PodDisruptionBudget(f"{self._name}-pdb", metadata=self._metadata(), spec=spec, opts=self._child)

    def _network_policy(self) -> None:
        args = self._args
        net = k8s.networking.v1
        monitoring = args.monitoring
        sources = sorted({*args.allowed_namespaces, *([monitoring.namespace] if monitoring.service_monitor else [])})
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


def _probe(probe: Probe) -> k8s.core.v1.ProbeArgs:
    """A registry probe as Kubernetes args: HTTP GET on its path, or a TCP connect without one."""
    return k8s.core.v1.ProbeArgs(
        http_get=k8s.core.v1.HTTPGetActionArgs(path=probe.path, port="http") if probe.path else None,
        tcp_socket=None if probe.path else k8s.core.v1.TCPSocketActionArgs(port="http"),
        period_seconds=probe.period_seconds,
        timeout_seconds=probe.timeout_seconds if probe.timeout_seconds != 1 else None,
        failure_threshold=probe.failure_threshold,
    )
