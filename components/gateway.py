"""The in-cluster LLM gateway: LiteLLM (default) or the Portkey OSS gateway, serving the
generated routing for one environment.

What differs between the engines (container, probes, files served, secrets read, metrics) comes
from the engine registry (``runtime/engines.py``). The generated files go into an auto-named
ConfigMap whose generated name the pod spec takes from its output, as the Secrets' names are: a
routing change or a rotated key creates a new object, rolls the pods onto it through the
Deployment, and deletes the old object last, so no pod ever starts without its config or keys.
Pods are hardened to the ``restricted`` Pod Security Standard, run as a ServiceAccount of their own
(no token mounted), spread across zones, autoscaled, and protected by a PDB that bounds how many
leave at once. A NetworkPolicy admits only the listed namespaces to the API port and only the
monitoring namespace to the metrics port (an engine's registry on a port of its own, which needs no
key: the ServiceMonitor scrapes it), and lets the pods reach only their Redis, the cluster DNS, and
HTTPS on public addresses (or only the stack's egress proxy).

On rollout or drain a pod first pauses (preStop) so the endpoints stop sending it new requests,
then finishes what is in flight: its grace period is computed from the generated routes (the
longest a request can take across every target, retry and wait) so no request is cut.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Literal

import pulumi
import pulumi_kubernetes as k8s

from components.analytics import RequestLogDestination
from components.redis import RedisEndpoint
from components.secrets import GatewaySecrets
from gateway_config.runtime_env import (
    CACHE_REDIS_HOST,
    CACHE_REDIS_PASSWORD,
    CACHE_REDIS_PORT,
    CACHE_REDIS_URL,
    MASTER_KEY,
    REQUEST_LOG_BUCKET,
    REQUEST_LOG_ENDPOINT,
    REQUEST_LOG_PREFIX,
    REQUEST_LOG_REGION,
    S3_FLUSH_INTERVAL,
    STATE_REDIS_HOST,
    STATE_REDIS_PASSWORD,
    STATE_REDIS_PORT,
)
from program.egress import CLUSTER_DNS_NAMESPACE, CLUSTER_DNS_POD_LABELS, NON_PUBLIC_IPV4, EgressProxy
from program.generated_tree import GeneratedConfig
from program.kube import Autoscaling, Disruption, Resources, object_labels, object_name, selector_labels
from runtime.engines import NO_BROWSER_ORIGIN, NO_TRUSTED_HOST, POD_TMP, Engine, Probe

CONFIG_MOUNT = "/etc/llm-gateway"
SERVICE_PORT = 80
# The port name of the engine's Prometheus endpoint (runtime/engines.py `metrics_port`).
METRICS_PORT_NAME = "metrics"
# How long a terminating pod keeps accepting connections before it stops: the endpoint controller
# and every node's proxy must drop it from the Service first (seconds, in practice).
ENDPOINT_DRAIN_SECONDS = 10
# On top of the longest request: process exit, a slow client reading the last bytes.
SHUTDOWN_MARGIN_SECONDS = 15
# LiteLLM writes queued request-log payloads every flush interval and drops what is still queued when
# it stops (docs/runtime-facts.md): a stopping pod keeps running this much longer than one interval.
REQUEST_LOG_DRAIN_MARGIN_SECONDS = 5


class MissingProviderKeyError(ValueError):
    """The generated routes read a provider key (or an application's key) the stack does not supply."""


@dataclass(frozen=True)
class Monitoring:
    """Where the Prometheus that scrapes the gateway runs, and whether to create its ServiceMonitor.

    Only ``namespace`` reaches the metrics port, and nothing else of the gateway (NetworkPolicy); the
    ServiceMonitor carries ``labels``, the ones the stack's Prometheus selects monitors by."""

    namespace: str
    service_monitor: bool
    labels: dict[str, str]


@dataclass(frozen=True)
class GatewayArgs:
    """Arguments of :class:`Gateway`."""

    namespace: pulumi.Input[str]
    engine: Engine
    image: str
    generated: GeneratedConfig
    # The response cache and the router's state (cooldowns, usage), each its own Redis.
    cache_redis: RedisEndpoint
    state_redis: RedisEndpoint
    secrets: GatewaySecrets
    resources: Resources
    autoscaling: Autoscaling
    disruption: Disruption
    zone_spread: Literal["DoNotSchedule", "ScheduleAnyway"]
    allowed_namespaces: list[str]
    monitoring: Monitoring
    # Browser origins allowed by CORS (none: no browser on another origin can call the gateway).
    cors_origins: list[str]
    # The stack's egress proxy, or None (HTTPS to public addresses).
    egress_proxy: EgressProxy | None
    # Where the engine's request log goes (the analytics' bucket); None: no request log.
    request_log: RequestLogDestination | None = None


class Gateway(pulumi.ComponentResource):
    """ConfigMap, ServiceAccount, Deployment, Service, HPA, PDB, NetworkPolicy and (LiteLLM) ServiceMonitor."""

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
        account = k8s.core.v1.ServiceAccount(
            f"{name}-serviceaccount",
            metadata=self._metadata(),
            automount_service_account_token=False,
            opts=self._child,
        )
        self._deployment(object_name(config_map), object_name(account))
        service = self._service()
        self._autoscaler()
        self._disruption_budget()
        self._network_policy()
        if args.monitoring.service_monitor and self._engine.metrics_port is not None:
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
        cache, state = args.cache_redis, args.state_redis
        return [
            k8s.core.v1.EnvVarArgs(name=CACHE_REDIS_HOST, value=cache.host),
            k8s.core.v1.EnvVarArgs(name=CACHE_REDIS_PORT, value=str(cache.port)),
            cache.password.env(CACHE_REDIS_PASSWORD),
            # The kubelet expands $(CACHE_REDIS_PASSWORD) (defined above): the spec holds only the reference.
            k8s.core.v1.EnvVarArgs(
                name=CACHE_REDIS_URL,
                value=pulumi.Output.concat(
                    "redis://", cache.username, ":$(", CACHE_REDIS_PASSWORD, ")@", cache.host, ":", str(cache.port)
                ),
            ),
            k8s.core.v1.EnvVarArgs(name=STATE_REDIS_HOST, value=state.host),
            k8s.core.v1.EnvVarArgs(name=STATE_REDIS_PORT, value=str(state.port)),
            state.password.env(STATE_REDIS_PASSWORD),
            *(provided[var].env(var) for var in args.generated.provider_key_env_vars),
            args.secrets.master_key.env(MASTER_KEY),
            # The auth hook maps each application's key to the tasks it may use.
            *(applications[name].env(var) for name, var in args.generated.applications.items()),
            *self._request_log_env(),
        ]

    def _plain_env(self) -> list[k8s.core.v1.EnvVarArgs]:
        """What the engine reads besides secrets: closed-by-default switches, CORS, trusted hosts, proxy."""
        args, engine = self._args, self._engine
        env = dict(engine.plain_env)
        if engine.hooks_import_dir is not None:
            env["PYTHONPATH"] = f"{CONFIG_MOUNT}/{engine.hooks_import_dir}"
        if engine.cors_origins_env is not None:
            env[engine.cors_origins_env] = ",".join(args.cors_origins) or NO_BROWSER_ORIGIN
        if engine.trusted_hosts_env is not None:
            env[engine.trusted_hosts_env] = ",".join(args.generated.custom_hosts) or NO_TRUSTED_HOST
        if args.egress_proxy is not None:
            env.update({"HTTPS_PROXY": args.egress_proxy.url, "HTTP_PROXY": args.egress_proxy.url})
        return [k8s.core.v1.EnvVarArgs(name=name, value=value) for name, value in env.items()]

    def _request_log_env(self) -> list[k8s.core.v1.EnvVarArgs]:
        """Where the request log goes (plain) and the S3 credentials it is written with (by reference)."""
        destination = self._args.request_log
        if destination is None or not self._engine.writes_request_log:
            return []
        plain = {
            REQUEST_LOG_BUCKET: destination.bucket,
            REQUEST_LOG_PREFIX: destination.prefix,
            REQUEST_LOG_REGION: destination.region,
            # Empty on AWS: LiteLLM then writes to the bucket's virtual-hosted AWS URL.
            REQUEST_LOG_ENDPOINT: destination.endpoint or "",
        }
        keys = self._args.secrets.request_log_keys
        return [k8s.core.v1.EnvVarArgs(name=n, value=v) for n, v in plain.items()] + [
            ref.env(var) for var, ref in sorted(keys.items())
        ]

    def _container(self) -> k8s.core.v1.ContainerArgs:
        args, engine = self._args, self._engine
        # The cluster-wide writable paths an engine needs with a read-only root filesystem.
        mounts = [
            k8s.core.v1.VolumeMountArgs(name="config", mount_path=CONFIG_MOUNT, read_only=True),
            k8s.core.v1.VolumeMountArgs(name="tmp", mount_path=POD_TMP),
        ]
        env: list[k8s.core.v1.EnvVarArgs] = []
        if engine.reads_secrets:
            env += self._secret_env()
            # From the generator: the provider connection pool and the shipped price map (no
            # fetch from the internet at start), which LiteLLM reads before its config file.
            env += [k8s.core.v1.EnvVarArgs(name=n, value=v) for n, v in args.generated.runtime_env.items()]
        # A Portkey engine reads no keys: the caller supplies provider credentials per request.
        env += self._plain_env()
        fill = {"config_dir": CONFIG_MOUNT, "port": str(engine.port), "metrics_port": str(engine.metrics_port)}
        ports = [k8s.core.v1.ContainerPortArgs(name="http", container_port=engine.port, protocol="TCP")]
        if engine.metrics_port is not None:
            ports.append(
                k8s.core.v1.ContainerPortArgs(
                    name=METRICS_PORT_NAME, container_port=engine.metrics_port, protocol="TCP"
                )
            )
        return k8s.core.v1.ContainerArgs(
            name=engine.name,
            image=args.image,
            image_pull_policy="IfNotPresent",
            command=list(engine.command) if engine.command else None,
            args=[arg.format(**fill) for arg in engine.args],
            working_dir=engine.working_dir,
            env=env,
            ports=ports,
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
            # Keep serving while the endpoints drop the pod; an engine that does not finish its
            # in-flight requests on SIGTERM must keep serving until they are done; one that writes
            # the request log keeps running past a flush so the last requests are written out.
            lifecycle=k8s.core.v1.LifecycleArgs(
                pre_stop=k8s.core.v1.LifecycleHandlerArgs(
                    sleep=k8s.core.v1.SleepActionArgs(seconds=self.pre_stop_seconds)
                )
            ),
            startup_probe=_probe(engine.startup_probe),
            liveness_probe=_probe(engine.liveness_probe),
            readiness_probe=_probe(engine.readiness_probe),
        )

    @property
    def _longest_request_seconds(self) -> int:
        return math.ceil(self._args.generated.longest_request_seconds(self._engine))

    @property
    def _request_log_drain_seconds(self) -> int:
        """One request-log flush interval and a margin (0 without a request log)."""
        flush = self._args.generated.runtime_env.get(S3_FLUSH_INTERVAL)
        if self._args.request_log is None or not self._engine.writes_request_log or flush is None:
            return 0
        return int(flush) + REQUEST_LOG_DRAIN_MARGIN_SECONDS

    @property
    def pre_stop_seconds(self) -> int:
        """The longest of the reasons to keep a stopping pod up before SIGTERM.

        The endpoints must drop it (plus, for an engine that cuts in-flight requests on SIGTERM, the
        longest request), and the request log must be flushed at least once more.
        """
        drain = ENDPOINT_DRAIN_SECONDS + (0 if self._engine.drains_on_sigterm else self._longest_request_seconds)
        return max(drain, self._request_log_drain_seconds)

    @property
    def termination_grace_seconds(self) -> int:
        """preStop pause, then the longest request the generated routes allow, then a margin.

        An engine that cuts in-flight requests on SIGTERM already waited for them in its preStop.
        """
        after_sigterm = self._longest_request_seconds if self._engine.drains_on_sigterm else 0
        return self.pre_stop_seconds + after_sigterm + SHUTDOWN_MARGIN_SECONDS

    def _deployment(
        self, config_map_name: pulumi.Output[str], service_account: pulumi.Output[str]
    ) -> k8s.apps.v1.Deployment:
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
                        service_account_name=service_account,
                        automount_service_account_token=False,
                        enable_service_links=False,
                        security_context=k8s.core.v1.PodSecurityContextArgs(
                            run_as_non_root=True,
                            run_as_user=self._engine.run_as_user,
                            run_as_group=self._engine.run_as_user,
                            fs_group=self._engine.run_as_user,
                            seccomp_profile=k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault"),
                        ),
                        termination_grace_period_seconds=self.termination_grace_seconds,
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
                ports=[
                    k8s.core.v1.ServicePortArgs(name="http", port=SERVICE_PORT, target_port="http"),
                    *(
                        [
                            k8s.core.v1.ServicePortArgs(
                                name=METRICS_PORT_NAME, port=self._engine.metrics_port, target_port=METRICS_PORT_NAME
                            )
                        ]
                        if self._engine.metrics_port is not None
                        else []
                    ),
                ],
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
        # maxUnavailable, not minAvailable: a fixed minimum lets most of an HPA-scaled fleet be
        # drained together; this bounds how many pods leave at once at any scale.
        spec = k8s.policy.v1.PodDisruptionBudgetSpecArgs(
            selector=k8s.meta.v1.LabelSelectorArgs(match_labels=self._selector),
            max_unavailable=self._args.disruption.max_unavailable,
            # A crash-looping pod must not block node drains.
            unhealthy_pod_eviction_policy="AlwaysAllow",
        )
        k8s.policy.v1.PodDisruptionBudget(f"{self._name}-pdb", metadata=self._metadata(), spec=spec, opts=self._child)

    def _network_policy(self) -> None:
        args = self._args
        net = k8s.networking.v1
        monitoring = args.monitoring

        def from_namespaces(namespaces: list[str], port: str) -> net.NetworkPolicyIngressRuleArgs:
            return net.NetworkPolicyIngressRuleArgs(
                from_=[
                    net.NetworkPolicyPeerArgs(
                        namespace_selector=k8s.meta.v1.LabelSelectorArgs(
                            match_expressions=[
                                k8s.meta.v1.LabelSelectorRequirementArgs(
                                    key="kubernetes.io/metadata.name", operator="In", values=namespaces
                                )
                            ]
                        )
                    )
                ],
                ports=[net.NetworkPolicyPortArgs(port=port, protocol="TCP")],
            )

        # Least privilege: the callers reach the API port, the monitoring namespace only the metrics port
        # (which answers nothing but the scrape), so the scraper needs no key and could not use one.
        ingress = []
        if args.allowed_namespaces:
            ingress.append(from_namespaces(sorted(set(args.allowed_namespaces)), "http"))
        if monitoring.service_monitor and self._engine.metrics_port is not None:
            ingress.append(from_namespaces([monitoring.namespace], METRICS_PORT_NAME))
        egress = [
            net.NetworkPolicyEgressRuleArgs(
                to=[
                    net.NetworkPolicyPeerArgs(pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=redis.pod_labels))
                ],
                ports=[net.NetworkPolicyPortArgs(port=redis.port, protocol="TCP")],
            )
            for redis in ((args.cache_redis, args.state_redis) if self._engine.uses_redis else ())
        ]
        # DNS to the cluster's DNS pods only (namespace and pod selector in one peer: both must match).
        egress.append(
            net.NetworkPolicyEgressRuleArgs(
                to=[
                    net.NetworkPolicyPeerArgs(
                        namespace_selector=k8s.meta.v1.LabelSelectorArgs(
                            match_labels={"kubernetes.io/metadata.name": CLUSTER_DNS_NAMESPACE}
                        ),
                        pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=CLUSTER_DNS_POD_LABELS),
                    )
                ],
                ports=[net.NetworkPolicyPortArgs(port=53, protocol=proto) for proto in ("UDP", "TCP")],
            )
        )
        egress.append(self._provider_egress())
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

    def _provider_egress(self) -> k8s.networking.v1.NetworkPolicyEgressRuleArgs:
        """Providers: through the stack's egress proxy only, or HTTPS to public addresses only.

        Private, shared, link-local (cloud metadata) and cluster ranges are excluded: a gateway that
        forwards to configurable hosts must not become a path into the cluster or to node credentials.
        """
        net = k8s.networking.v1
        proxy = self._args.egress_proxy
        if proxy is not None:
            return net.NetworkPolicyEgressRuleArgs(
                to=[
                    net.NetworkPolicyPeerArgs(
                        namespace_selector=k8s.meta.v1.LabelSelectorArgs(
                            match_labels={"kubernetes.io/metadata.name": proxy.namespace}
                        )
                    )
                ],
                ports=[net.NetworkPolicyPortArgs(port=proxy.port, protocol="TCP")],
            )
        return net.NetworkPolicyEgressRuleArgs(
            to=[
                net.NetworkPolicyPeerArgs(
                    ip_block=net.IPBlockArgs(cidr="0.0.0.0/0", except_=[cidr for cidr, _ in NON_PUBLIC_IPV4])
                )
            ],
            ports=[net.NetworkPolicyPortArgs(port=443, protocol="TCP")],
        )

    def _service_monitor(self) -> None:
        # Prometheus Operator CRD: spec is untyped, so it is written in the CRD's own camelCase.
        k8s.apiextensions.CustomResource(
            f"{self._name}-servicemonitor",
            api_version="monitoring.coreos.com/v1",
            kind="ServiceMonitor",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=self._name, namespace=self._args.namespace, labels={**self._labels, **self._args.monitoring.labels}
            ),
            spec={
                "selector": {"matchLabels": self._selector},
                # The metrics port: no credential to hold, none to leak (runtime/engines.py).
                "endpoints": [{"port": METRICS_PORT_NAME, "path": self._engine.metrics_path, "interval": "30s"}],
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
