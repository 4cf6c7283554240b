"""Whole-graph assertions per stack: every expected object, the right settings, unique names."""

from __future__ import annotations

import ipaddress
import json
import math
import re
from collections import Counter
from pathlib import Path
from typing import Any

from pulumi_graph import (
    APPLICATIONS,
    AUTO_NAMED,
    KUBERNETES_VERSION,
    auto_named,
    container,
    env_by_name,
    generated_name,
    manifests,
    objects,
    one,
)

from components.gateway import ENDPOINT_DRAIN_SECONDS, REQUEST_LOG_DRAIN_MARGIN_SECONDS, SHUTDOWN_MARGIN_SECONDS
from gateway_config.runtime_env import S3_FLUSH_INTERVAL
from program.egress import NON_PUBLIC_IPV4
from program.generated_tree import load_generated_config
from program.observability_tree import load_observability_files
from runtime.engines import LITELLM, NO_BROWSER_ORIGIN, PORTKEY, shipped_files
from tools.pulumi_mocks import SECRET_MARKER

GATEWAY = "llm-gateway"
REDIS = "llm-gateway-redis-cache"
STATE = "llm-gateway-redis-state"
# Each stack its own namespace (staging and prod may share a cluster).
NAMESPACES = {"staging": "llm-gateway-staging", "prod": "llm-gateway-prod"}


def _ns(graph: dict[str, Any]) -> str:
    return NAMESPACES[graph["stack"]]


CONFIG = "llm-gateway-config"
# Objects with a fixed Kubernetes name; the ConfigMap and the Secrets are auto-named (AUTO_NAMED).
EXPECTED_OBJECTS = {
    ("NetworkPolicy", "default-deny-all"),
    ("Deployment", GATEWAY),
    ("Service", GATEWAY),
    ("ServiceAccount", GATEWAY),
    ("HorizontalPodAutoscaler", GATEWAY),
    ("PodDisruptionBudget", GATEWAY),
    ("NetworkPolicy", GATEWAY),
    ("ServiceMonitor", GATEWAY),
    *(
        (kind, name)
        for name in (REDIS, STATE)
        for kind in ("StatefulSet", "Service", "ServiceAccount", "PodDisruptionBudget", "NetworkPolicy")
    ),
}
COMPONENTS = {
    "llm-gateway:index:GatewayNamespace",
    "llm-gateway:index:GatewaySecrets",
    "llm-gateway:index:RedisCache",
    "llm-gateway:index:Gateway",
    "llm-gateway:index:Analytics",
    "llm-gateway:index:PortkeyControlPlane",
    "llm-gateway:index:AppEnvironment",
    "llm-gateway:index:Observability",
}
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def _observability_objects(graph: dict[str, Any]) -> set[tuple[str, str]]:
    """The stack's dashboard ConfigMaps (one per generated dashboard), PrometheusRule and AlertmanagerConfig."""
    environment = graph["stack"]
    dashboards = load_observability_files(environment).dashboards
    return {
        *(("ConfigMap", f"llm-gateway-{environment}-{dashboard.uid}") for dashboard in dashboards),
        ("PrometheusRule", f"llm-gateway-{environment}"),
        ("AlertmanagerConfig", f"llm-gateway-{environment}"),
    }


def _kinds_and_names(graph: dict[str, Any]) -> set[tuple[str, str]]:
    return {(obj["kind"], obj["metadata"]["name"]) for obj in objects_all(graph)}


def objects_all(graph: dict[str, Any]) -> list[dict[str, Any]]:
    return manifests(graph)


def test_every_expected_object_exists(stack_graph: dict[str, Any]) -> None:
    auto = {(kind, generated_name(stack_graph, kind, logical)) for kind, logical in AUTO_NAMED}
    assert _kinds_and_names(stack_graph) == (
        EXPECTED_OBJECTS | auto | _observability_objects(stack_graph) | {("Namespace", _ns(stack_graph))}
    )
    types = Counter(resource["type"] for resource in stack_graph["resources"])
    assert set(types) >= COMPONENTS
    # master key, two Redis passwords, one key per application
    assert types["random:index/randomPassword:RandomPassword"] == 3 + len(APPLICATIONS)


def test_names_are_unique(stack_graph: dict[str, Any]) -> None:
    urns = [resource["urn"] for resource in stack_graph["resources"]]
    assert len(urns) == len(set(urns))
    keys = [
        (o["apiVersion"], o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"])
        for o in objects_all(stack_graph)
    ]
    assert len(keys) == len(set(keys))


def test_children_are_parented_and_prefixed(stack_graph: dict[str, Any]) -> None:
    by_urn = {resource["urn"]: resource for resource in stack_graph["resources"]}
    for resource in stack_graph["resources"]:
        if resource["type"] in COMPONENTS or resource["type"].startswith("pulumi:providers:"):
            continue
        parent = by_urn.get(resource["parent"])
        assert parent is not None and parent["type"] in COMPONENTS, resource["name"]
        assert resource["name"].startswith(parent["name"] + "-"), resource["name"]


def test_everything_lives_in_the_gateway_namespace(stack_graph: dict[str, Any]) -> None:
    for obj in objects_all(stack_graph):
        if "grafana_dashboard" in obj["metadata"].get("labels", {}):
            # Where kube-prometheus-stack's Grafana sidecar looks by default: the monitoring namespace.
            assert obj["metadata"]["namespace"] == "monitoring", obj["metadata"]["name"]
        elif obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == _ns(stack_graph), obj["metadata"]["name"]
    labels = one(stack_graph, "Namespace", _ns(stack_graph))["metadata"]["labels"]
    # Pinned to a version: a cluster upgrade must not change the rules under a running stack.
    for mode in ("enforce", "audit", "warn"):
        assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"
        assert labels[f"pod-security.kubernetes.io/{mode}-version"] == f"v{KUBERNETES_VERSION.rsplit('.', 1)[0]}"


def test_every_kubernetes_object_goes_through_the_stacks_provider(stack_graph: dict[str, Any]) -> None:
    (provider,) = [r for r in stack_graph["resources"] if r["type"] == "pulumi:providers:kubernetes"]
    assert provider["name"] == "llm-gateway-cluster"
    assert set(provider["inputs"]["kubeconfig"]) == {SECRET_MARKER}
    assert provider["inputs"]["clusterIdentifier"] == f"https://kubernetes.{stack_graph['stack']}.example.internal"
    for resource in stack_graph["resources"]:
        if resource["type"].startswith("kubernetes:"):
            assert resource["provider"].startswith(provider["urn"] + "::"), resource["name"]


def test_prod_refuses_a_kubeconfig_for_another_cluster(offline_runs: Any) -> None:
    run = offline_runs.get("prod-other-cluster")
    assert run.returncode == 2, run.stderr
    assert run.stderr.splitlines() == [
        "error: invalid configuration for stack 'prod':",
        "llm-gateway:kubeconfig: context 'staging' points at cluster 'staging' "
        "(https://kubernetes.staging.example.internal), not this stack's llm-gateway:clusterServer "
        "(https://kubernetes.prod.example.internal): refusing to deploy there (stack 'prod')",
    ]
    assert run.stdout == "" and "token-canary" not in run.stderr


def test_staging_is_small(offline_runs: Any) -> None:
    graph = offline_runs.graph("staging")
    hpa = one(graph, "HorizontalPodAutoscaler", GATEWAY)["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (1, 2)
    assert one(graph, "PodDisruptionBudget", GATEWAY)["spec"] == {
        "maxUnavailable": 1,
        "selector": {
            "matchLabels": {"app.kubernetes.io/name": "llm-gateway", "app.kubernetes.io/component": "gateway"}
        },
        "unhealthyPodEvictionPolicy": "AlwaysAllow",
    }
    assert container(graph, "Deployment", GATEWAY)["resources"]["limits"] == {"cpu": "1", "memory": "1Gi"}
    redis = one(graph, "StatefulSet", REDIS)["spec"]
    assert "volumeClaimTemplates" not in redis
    assert [v["name"] for v in redis["template"]["spec"]["volumes"] if "emptyDir" in v] == ["data"]


def test_prod_is_redundant_persistent_and_pinned(offline_runs: Any) -> None:
    graph = offline_runs.graph("prod")
    hpa = one(graph, "HorizontalPodAutoscaler", GATEWAY)["spec"]
    assert hpa["minReplicas"] >= 3 and hpa["maxReplicas"] >= hpa["minReplicas"]
    # At most one pod leaves at once, whatever the HPA has scaled to (a fixed minimum would let most go).
    budget = one(graph, "PodDisruptionBudget", GATEWAY)["spec"]
    assert budget["maxUnavailable"] == 1 and "minAvailable" not in budget
    assert budget["unhealthyPodEvictionPolicy"] == "AlwaysAllow"
    redis = one(graph, "StatefulSet", REDIS)["spec"]
    (claim,) = redis["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "data"
    assert claim["spec"]["resources"]["requests"]["storage"] == "10Gi"
    for kind, name in (("Deployment", GATEWAY), ("StatefulSet", REDIS), ("StatefulSet", STATE)):
        assert DIGEST.search(container(graph, kind, name)["image"]), kind
    spread = one(graph, "Deployment", GATEWAY)["spec"]["template"]["spec"]["topologySpreadConstraints"]
    assert {"topology.kubernetes.io/zone": "DoNotSchedule"}.items() <= {
        c["topologyKey"]: c["whenUnsatisfiable"] for c in spread
    }.items()


def test_pods_are_hardened(stack_graph: dict[str, Any]) -> None:
    for kind, name in (("Deployment", GATEWAY), ("StatefulSet", REDIS), ("StatefulSet", STATE)):
        pod = one(stack_graph, kind, name)["spec"]["template"]["spec"]
        assert pod["automountServiceAccountToken"] is False
        # A ServiceAccount of its own, with no token either.
        assert pod["serviceAccountName"] == name
        assert one(stack_graph, "ServiceAccount", name)["automountServiceAccountToken"] is False
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        for spec in pod["containers"]:
            security = spec["securityContext"]
            assert security["readOnlyRootFilesystem"] is True
            assert security["allowPrivilegeEscalation"] is False
            assert security["capabilities"] == {"drop": ["ALL"]}
            assert security["runAsUser"] != 0
            assert {"requests", "limits"} <= set(spec["resources"])
            assert ":latest" not in spec["image"]


def test_litellm_container(stack_graph: dict[str, Any]) -> None:
    deployment = one(stack_graph, "Deployment", GATEWAY)
    assert "replicas" not in deployment["spec"]  # the HPA owns the count
    spec = container(stack_graph, "Deployment", GATEWAY)
    assert spec["startupProbe"]["httpGet"]["path"] == "/health/liveliness"
    assert spec["livenessProbe"]["httpGet"]["path"] == "/health/liveliness"
    assert spec["readinessProbe"]["httpGet"]["path"] == "/health/readiness"
    assert spec["ports"] == [
        {"containerPort": 4000, "name": "http", "protocol": "TCP"},
        {"containerPort": 4001, "name": "metrics", "protocol": "TCP"},
    ]
    env = env_by_name(spec)
    ns = _ns(stack_graph)
    assert env["CACHE_REDIS_HOST"]["value"] == f"{REDIS}.{ns}.svc.cluster.local"
    assert env["STATE_REDIS_HOST"]["value"] == f"{STATE}.{ns}.svc.cluster.local"
    assert env["CACHE_REDIS_PORT"]["value"] == env["STATE_REDIS_PORT"]["value"] == "6379"
    # The URL the semantic cache takes: the kubelet expands the password reference defined before it.
    assert (
        env["CACHE_REDIS_URL"]["value"]
        == f"redis://gateway:$(CACHE_REDIS_PASSWORD)@{REDIS}.{ns}.svc.cluster.local:6379"
    )
    names = [entry["name"] for entry in spec["env"]]
    assert names.index("CACHE_REDIS_PASSWORD") < names.index("CACHE_REDIS_URL")
    expected_refs = {
        "CACHE_REDIS_PASSWORD": ("llm-gateway-redis-cache-auth", "password"),
        "STATE_REDIS_PASSWORD": ("llm-gateway-redis-state-auth", "password"),
        "OPENAI_API_KEY": ("llm-gateway-provider-keys", "OPENAI_API_KEY"),
        "ANTHROPIC_API_KEY": ("llm-gateway-provider-keys", "ANTHROPIC_API_KEY"),
        "OPENROUTER_API_KEY": ("llm-gateway-provider-keys", "OPENROUTER_API_KEY"),
        "LITELLM_MASTER_KEY": ("llm-gateway-master-key-secret", "LITELLM_MASTER_KEY"),
    }
    for name, (logical, key) in expected_refs.items():
        secret = auto_named(stack_graph, "Secret", logical)
        assert "value" not in env[name]
        assert env[name]["valueFrom"]["secretKeyRef"] == {"name": secret["metadata"]["name"], "key": key}
        assert key in secret["stringData"]
    # The config LiteLLM is told to read is the ConfigMap item mounted at that path.
    config_path = spec["args"][spec["args"].index("--config") + 1]
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    mount = next(m for m in spec["volumeMounts"] if m["name"] == "config")
    assert mount["readOnly"] is True
    items = {mount["mountPath"] + "/" + item["path"]: item["key"] for item in volumes["config"]["configMap"]["items"]}
    config_map = auto_named(stack_graph, "ConfigMap", CONFIG)
    assert volumes["config"]["configMap"]["name"] == config_map["metadata"]["name"]
    assert items[config_path] in config_map["data"]
    assert any(m["mountPath"] == "/tmp" for m in spec["volumeMounts"])
    # The client-contract hooks sit next to the config file (LiteLLM loads them from its folder), as
    # the repository has them, and routing.json (which they read) one folder up.
    config_dir = config_path.rsplit("/", 1)[0]
    for destination, source in shipped_files(LITELLM).items():
        assert config_map["data"][items[f"{mount['mountPath']}/{destination}"]] == source.read_text()
        assert f"{mount['mountPath']}/{destination}".rsplit("/", 1)[0] == config_dir
    assert items[f"{config_dir.rsplit('/', 1)[0]}/routing.json"] in config_map["data"]


def test_each_application_key_is_read_from_its_own_secret(stack_graph: dict[str, Any]) -> None:
    env = env_by_name(container(stack_graph, "Deployment", GATEWAY))
    routing = json.loads(auto_named(stack_graph, "ConfigMap", CONFIG)["data"]["routing.json"])
    assert sorted(routing["applications"]) == APPLICATIONS
    for application, facts in routing["applications"].items():
        secret = auto_named(stack_graph, "Secret", f"llm-gateway-app-{application}-secret")
        ref = env[facts["key_env"]]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": secret["metadata"]["name"], "key": facts["key_env"]}
    secrets = stack_graph["outputs"]["applicationKeySecrets"]
    assert secrets["value"] == {
        application: generated_name(stack_graph, "Secret", f"llm-gateway-app-{application}-secret")
        for application in APPLICATIONS
    }


def test_every_env_var_the_generated_config_reads_is_set(stack_graph: dict[str, Any]) -> None:
    # docs/CONTRACT.md: secrets and endpoints appear in the LiteLLM config only as os.environ/NAME.
    config = auto_named(stack_graph, "ConfigMap", CONFIG)["data"]["litellm.config.yaml"]
    referenced = set(re.findall(r"os\.environ/([A-Z0-9_]+)", config))
    assert referenced, "the generated LiteLLM config references no environment variables"
    assert referenced <= set(env_by_name(container(stack_graph, "Deployment", GATEWAY)))


def test_generated_runtime_env_is_set_on_the_container(stack_graph: dict[str, Any]) -> None:
    # The provider connection pool is read from the environment before LiteLLM reads its config.
    generated = json.loads(auto_named(stack_graph, "ConfigMap", CONFIG)["data"]["litellm.env.json"])
    env = env_by_name(container(stack_graph, "Deployment", GATEWAY))
    assert generated["AIOHTTP_CONNECTOR_LIMIT_PER_HOST"] == "100"
    for name, value in generated.items():
        assert env[name]["value"] == value


def test_service_hpa_and_monitor_target_the_gateway(stack_graph: dict[str, Any]) -> None:
    selector = one(stack_graph, "Deployment", GATEWAY)["spec"]["selector"]["matchLabels"]
    pod_labels = one(stack_graph, "Deployment", GATEWAY)["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= pod_labels.items()
    service = one(stack_graph, "Service", GATEWAY)["spec"]
    assert service["type"] == "ClusterIP" and service["selector"] == selector
    assert service["ports"] == [
        {"name": "http", "port": 80, "targetPort": "http"},
        {"name": "metrics", "port": LITELLM.metrics_port, "targetPort": "metrics"},
    ]
    hpa = one(stack_graph, "HorizontalPodAutoscaler", GATEWAY)
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": GATEWAY}
    monitor = one(stack_graph, "ServiceMonitor", GATEWAY)
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["spec"]["selector"]["matchLabels"] == selector
    # The scrape goes to the metrics port, which needs no key (docs/runtime-facts.md), not to the API.
    assert monitor["spec"]["endpoints"] == [{"port": "metrics", "path": LITELLM.metrics_path, "interval": "30s"}]
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    ports = {port["name"]: port["containerPort"] for port in container(stack_graph, "Deployment", GATEWAY)["ports"]}
    assert ports == {"http": LITELLM.port, "metrics": LITELLM.metrics_port}
    args = container(stack_graph, "Deployment", GATEWAY)["args"]
    assert args[args.index("--prometheus_metrics_port") + 1] == str(LITELLM.metrics_port)


def test_network_policies(stack_graph: dict[str, Any]) -> None:
    gateway = one(stack_graph, "NetworkPolicy", GATEWAY)["spec"]
    assert gateway["policyTypes"] == ["Ingress", "Egress"]
    # Least privilege: the callers' namespaces reach the API port, the monitoring namespace only the metrics port.
    reached: dict[str, list[str]] = {}
    for ingress in gateway["ingress"]:
        (peer,) = ingress["from"]
        (expression,) = peer["namespaceSelector"]["matchExpressions"]
        assert expression["key"] == "kubernetes.io/metadata.name" and expression["operator"] == "In"
        assert "podSelector" not in peer
        ((port,),) = [ingress["ports"]]
        reached[port["port"]] = expression["values"]
    assert reached["metrics"] == ["monitoring"]
    assert "monitoring" not in reached["http"] and reached["http"]
    redis_rules, dns, https = gateway["egress"][:2], gateway["egress"][2], gateway["egress"][3]
    assert len(gateway["egress"]) == 4
    assert [rule["to"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] for rule in redis_rules] == [
        "redis-cache",
        "redis-state",
    ]
    assert all(rule["ports"] == [{"port": 6379, "protocol": "TCP"}] for rule in redis_rules)
    # DNS to the cluster's DNS pods only: namespace and pods in one peer (both must match).
    assert dns["to"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
        }
    ]
    assert {(p["port"], p["protocol"]) for p in dns["ports"]} == {(53, "UDP"), (53, "TCP")}
    # HTTPS to public addresses only.
    (block,) = https["to"]
    assert block["ipBlock"]["cidr"] == "0.0.0.0/0"
    assert block["ipBlock"]["except"] == [cidr for cidr, _ in NON_PUBLIC_IPV4]
    assert https["ports"] == [{"port": 443, "protocol": "TCP"}]

    for name in (REDIS, STATE):
        redis = one(stack_graph, "NetworkPolicy", name)["spec"]
        assert redis["egress"] == []
        (rule,) = redis["ingress"]
        assert rule["from"] == [
            {"podSelector": {"matchLabels": one(stack_graph, "Deployment", GATEWAY)["spec"]["selector"]["matchLabels"]}}
        ]
        assert rule["ports"] == [{"port": 6379, "protocol": "TCP"}]

    default_deny = one(stack_graph, "NetworkPolicy", "default-deny-all")["spec"]
    assert default_deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


def test_egress_excepts_every_non_public_range_and_no_public_one() -> None:
    # The list is IANA's (program/egress.py); Python's `ipaddress` differs between patch releases, so
    # it only cross-checks here.
    networks = [ipaddress.ip_network(cidr) for cidr, _ in NON_PUBLIC_IPV4]
    for network in networks:
        # Multicast and the deprecated 6to4 relay anycast block are excluded although Python calls them global.
        address = network.network_address
        assert not address.is_global or address.is_multicast or str(network) == "192.88.99.0/24", network
    for public in ("8.8.8.8", "1.1.1.1", "104.18.0.1", "162.159.140.245"):  # DNS and CDN fronts of the providers
        assert not any(ipaddress.ip_address(public) in network for network in networks), public
    for private in ("10.96.0.1", "172.20.0.10", "192.168.1.1", "100.64.0.1", "169.254.169.254", "127.0.0.1"):
        assert any(ipaddress.ip_address(private) in network for network in networks), private


def test_egress_goes_only_to_the_stacks_proxy_when_it_names_one(offline_runs: Any) -> None:
    graph = offline_runs.graph("staging-egress-proxy")
    rules = one(graph, "NetworkPolicy", GATEWAY)["spec"]["egress"]
    assert not any("ipBlock" in peer for rule in rules for peer in rule.get("to", []))
    assert rules[-1] == {
        "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "egress"}}}],
        "ports": [{"port": 3128, "protocol": "TCP"}],
    }
    env = env_by_name(container(graph, "Deployment", GATEWAY))
    assert env["HTTPS_PROXY"]["value"] == "http://squid.egress.svc.cluster.local:3128"


def test_redis_is_capped_authenticated_and_internal(stack_graph: dict[str, Any]) -> None:
    for name, policy in ((REDIS, "allkeys-lru"), (STATE, "noeviction")):
        spec = container(stack_graph, "StatefulSet", name)
        args = spec["args"]
        # The cache may evict; the router's state never (cache pressure cannot evict a cooldown).
        assert args[args.index("--maxmemory-policy") + 1] == policy
        maxmemory_mb = int(args[args.index("--maxmemory") + 1].removesuffix("mb"))
        limit_mi = int(spec["resources"]["limits"]["memory"].removesuffix("Mi"))
        assert 0 < maxmemory_mb < limit_mi
        # No password on the command line or in the environment: an ACL file mounted from the Secret.
        assert "--requirepass" not in args and "env" not in spec
        assert args[args.index("--aclfile") + 1] == "/etc/redis/acl/users.acl"
        pod = one(stack_graph, "StatefulSet", name)["spec"]["template"]["spec"]
        (acl,) = [v for v in pod["volumes"] if v["name"] == "acl"]
        secret = auto_named(stack_graph, "Secret", f"{name}-auth")
        assert acl["secret"] == {
            "secretName": secret["metadata"]["name"],
            "items": [{"key": "users.acl", "path": "users.acl"}],
            "defaultMode": 0o440,
        }
        users = secret["stringData"]["users.acl"].splitlines()
        assert users[0] == "user default off"
        assert users[1] == "user probe on nopass resetchannels -@all +ping"
        assert re.fullmatch(r"user gateway on #[0-9a-f]{64} resetchannels ~\* -@all \+get .*", users[2]), users[2]
        assert secret["stringData"]["password"] not in secret["stringData"]["users.acl"]
        assert "+flushall" not in users[2] and "+config" not in users[2] and "+@all" not in users[2]
        probe = spec["readinessProbe"]["exec"]["command"][-1]
        assert "--user probe" in probe and "PONG" in probe
    for service in objects(stack_graph, "Service"):
        assert service["spec"]["type"] == "ClusterIP", "no NodePort/LoadBalancer anywhere"
    assert one(stack_graph, "Service", REDIS)["spec"]["clusterIP"] == "None"
    assert one(stack_graph, "StatefulSet", REDIS)["spec"]["serviceName"] == REDIS
    cache_args = container(stack_graph, "StatefulSet", REDIS)["args"]
    # LiteLLM's redis-semantic cache needs the query engine the Redis 8 image bundles.
    assert cache_args[cache_args.index("--loadmodule") + 1].endswith("/redisearch.so")
    assert "--loadmodule" not in container(stack_graph, "StatefulSet", STATE)["args"]


def test_rollout_drains_before_the_longest_request_is_cut(stack_graph: dict[str, Any], generated_root: Path) -> None:
    pod = one(stack_graph, "Deployment", GATEWAY)["spec"]["template"]["spec"]
    (spec,) = pod["containers"]
    config = load_generated_config(stack_graph["outputs"]["environment"]["value"], LITELLM, generated_root)
    # The longest reason to wait before SIGTERM: the endpoints dropping the pod, or (LiteLLM writes
    # the request log) one more request-log flush.
    flush = int(config.runtime_env[S3_FLUSH_INTERVAL])
    pre_stop = max(ENDPOINT_DRAIN_SECONDS, flush + REQUEST_LOG_DRAIN_MARGIN_SECONDS)
    assert pre_stop > ENDPOINT_DRAIN_SECONDS  # the request log's drain is the longer one today
    assert spec["lifecycle"] == {"preStop": {"sleep": {"seconds": pre_stop}}}
    longest = config.longest_request_seconds(LITELLM)
    # From the generated routes: the longest task's every target and retry, plus LiteLLM's waits.
    assert longest > max(t["request_timeout_seconds"] for t in config.manifest["tasks"].values() if "retry" in t)
    # LiteLLM finishes in-flight requests after SIGTERM, which comes after the preStop pause.
    assert pod["terminationGracePeriodSeconds"] == pre_stop + math.ceil(longest) + SHUTDOWN_MARGIN_SECONDS


def test_outputs(stack_graph: dict[str, Any], generated_root: Path) -> None:
    outputs = stack_graph["outputs"]
    assert outputs["gatewayUrl"]["value"] == f"http://{GATEWAY}.{_ns(stack_graph)}.svc.cluster.local"
    assert outputs["redisCacheServiceName"]["value"] == REDIS
    assert outputs["redisStateServiceName"]["value"] == STATE
    # The checksum is for reviewers only: the pods roll because the ConfigMap's name changes.
    environment = outputs["environment"]["value"]
    assert outputs["configChecksum"]["value"] == load_generated_config(environment, LITELLM, generated_root).checksum
    assert "annotations" not in one(stack_graph, "Deployment", GATEWAY)["spec"]["template"]["metadata"]
    assert not any(output["secret"] for output in outputs.values())


def test_portkey_engine_is_refused_where_configs_use_the_model_catalog(offline_runs: Any) -> None:
    # The committed staging configs target Model Catalog providers, which only Portkey's hosted gateway resolves.
    run = offline_runs.get("staging-portkey-model-catalog")
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr and run.stdout == ""
    first, message = run.stderr.splitlines()
    assert first == "error: invalid configuration for stack 'staging':"
    assert message.startswith("llm-gateway:engine: portkey cannot serve environment 'staging'")
    for fragment in ("portkey/chat.json", "no Model Catalog", "hosted gateway", "portkey_targets: custom_host"):
        assert fragment in message, fragment


def test_portkey_engine(offline_runs: Any, custom_host_staging_root: Path) -> None:
    # The OSS image serves a tree whose Portkey configs name their hosts (custom_host).
    for path in (custom_host_staging_root / "staging" / "portkey").glob("*.json"):
        assert '"@' not in path.read_text() and "custom_host" in path.read_text(), path
    graph = offline_runs.graph("staging-portkey")
    spec = container(graph, "Deployment", GATEWAY)
    assert spec["image"].startswith("portkeyai/gateway:")
    assert "--headless" in spec["args"]
    assert env_by_name(spec)["NODE_ENV"]["value"] == "production"
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert spec[probe]["tcpSocket"] == {"port": "http"}
    assert spec["ports"][0]["containerPort"] == 8787
    # OSS Portkey has no Model Catalog and reads no keys from env: none are mounted.
    assert not any("API_KEY" in name for name in env_by_name(spec))
    assert not objects(graph, "ServiceMonitor")  # no /metrics in the OSS build
    data = auto_named(graph, "ConfigMap", CONFIG)["data"]
    assert any(key.startswith("portkey.") for key in data) and "litellm.config.yaml" not in data
    # Only the hosts its configs name are exempt from its SSRF blocklist (which also ends the default
    # exemption of localhost and 127.0.0.1).
    assert env_by_name(spec)["TRUSTED_CUSTOM_HOSTS"]["value"] == "api.anthropic.com,api.openai.com,openrouter.ai"
    # It reads no Redis, so its pods may not reach Redis.
    rules = one(graph, "NetworkPolicy", GATEWAY)["spec"]["egress"]
    assert not any("podSelector" in peer and "namespaceSelector" not in peer for r in rules for peer in r["to"])
    # Node exits at once on SIGTERM: the preStop pause outlasts the longest request itself.
    longest = math.ceil(
        load_generated_config("staging", PORTKEY, custom_host_staging_root).longest_request_seconds(PORTKEY)
    )
    pod = one(graph, "Deployment", GATEWAY)["spec"]["template"]["spec"]
    assert spec["lifecycle"]["preStop"]["sleep"]["seconds"] == ENDPOINT_DRAIN_SECONDS + longest
    assert pod["terminationGracePeriodSeconds"] == ENDPOINT_DRAIN_SECONDS + longest + SHUTDOWN_MARGIN_SECONDS


def test_litellm_is_closed_by_default(stack_graph: dict[str, Any]) -> None:
    env = env_by_name(container(stack_graph, "Deployment", GATEWAY))
    for name in ("DISABLE_ADMIN_UI", "NO_DOCS", "NO_REDOC", "NO_OPENAPI"):
        assert env[name]["value"] == "True", name
    assert env["LITELLM_CORS_ALLOW_CREDENTIALS"]["value"] == "false"
    # No origin allowed: LiteLLM reads an empty list as "*", so it gets one no browser can have.
    assert env["LITELLM_CORS_ORIGINS"]["value"] == NO_BROWSER_ORIGIN


def test_cors_allows_the_stacks_origins_only(offline_runs: Any) -> None:
    env = env_by_name(container(offline_runs.graph("staging-egress-proxy"), "Deployment", GATEWAY))
    assert env["LITELLM_CORS_ORIGINS"]["value"] == "https://app.example.com,https://admin.example.com"
