"""Whole-graph assertions per stack: every expected object, the right settings, unique names."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

from pulumi_graph import (
    APPLICATIONS,
    AUTO_NAMED,
    auto_named,
    container,
    env_by_name,
    generated_name,
    manifests,
    objects,
    one,
)

from program.generated_tree import load_generated_config
from runtime.engines import LITELLM, shipped_files

NS = "llm-gateway"
GATEWAY = "llm-gateway"
REDIS = "llm-gateway-redis"

CONFIG = "llm-gateway-config"
# Objects with a fixed Kubernetes name; the ConfigMap and the Secrets are auto-named (AUTO_NAMED).
EXPECTED_OBJECTS = {
    ("Namespace", NS),
    ("NetworkPolicy", "default-deny-all"),
    ("Deployment", GATEWAY),
    ("Service", GATEWAY),
    ("HorizontalPodAutoscaler", GATEWAY),
    ("PodDisruptionBudget", GATEWAY),
    ("NetworkPolicy", GATEWAY),
    ("ServiceMonitor", GATEWAY),
    ("StatefulSet", REDIS),
    ("Service", REDIS),
    ("PodDisruptionBudget", REDIS),
    ("NetworkPolicy", REDIS),
}
COMPONENTS = {
    "llm-gateway:index:GatewayNamespace",
    "llm-gateway:index:GatewaySecrets",
    "llm-gateway:index:RedisCache",
    "llm-gateway:index:Gateway",
}
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def _kinds_and_names(graph: dict[str, Any]) -> set[tuple[str, str]]:
    return {(obj["kind"], obj["metadata"]["name"]) for obj in objects_all(graph)}


def objects_all(graph: dict[str, Any]) -> list[dict[str, Any]]:
    return manifests(graph)


def test_every_expected_object_exists(stack_graph: dict[str, Any]) -> None:
    auto = {(kind, generated_name(stack_graph, kind, logical)) for kind, logical in AUTO_NAMED}
    assert _kinds_and_names(stack_graph) == EXPECTED_OBJECTS | auto
    types = Counter(resource["type"] for resource in stack_graph["resources"])
    assert set(types) >= COMPONENTS
    # master key, Redis password, one key per application
    assert types["random:index/randomPassword:RandomPassword"] == 2 + len(APPLICATIONS)


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
        if resource["type"] in COMPONENTS:
            continue
        parent = by_urn.get(resource["parent"])
        assert parent is not None and parent["type"] in COMPONENTS, resource["name"]
        assert resource["name"].startswith(parent["name"] + "-"), resource["name"]


def test_everything_lives_in_the_gateway_namespace(stack_graph: dict[str, Any]) -> None:
    for obj in objects_all(stack_graph):
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == NS, obj["metadata"]["name"]
    labels = one(stack_graph, "Namespace", NS)["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_staging_is_small(offline_runs: Any) -> None:
    graph = offline_runs.graph("staging")
    hpa = one(graph, "HorizontalPodAutoscaler", GATEWAY)["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (1, 2)
    assert one(graph, "PodDisruptionBudget", GATEWAY)["spec"] == {
        "maxUnavailable": 1,
        "selector": {
            "matchLabels": {"app.kubernetes.io/name": "llm-gateway", "app.kubernetes.io/component": "gateway"}
        },
    }
    assert container(graph, "Deployment", GATEWAY)["resources"]["limits"] == {"cpu": "1", "memory": "1Gi"}
    redis = one(graph, "StatefulSet", REDIS)["spec"]
    assert "volumeClaimTemplates" not in redis
    assert [v["name"] for v in redis["template"]["spec"]["volumes"] if "emptyDir" in v] == ["data"]


def test_prod_is_redundant_persistent_and_pinned(offline_runs: Any) -> None:
    graph = offline_runs.graph("prod")
    hpa = one(graph, "HorizontalPodAutoscaler", GATEWAY)["spec"]
    assert hpa["minReplicas"] >= 3 and hpa["maxReplicas"] >= hpa["minReplicas"]
    assert one(graph, "PodDisruptionBudget", GATEWAY)["spec"]["minAvailable"] == 2
    redis = one(graph, "StatefulSet", REDIS)["spec"]
    (claim,) = redis["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "data"
    assert claim["spec"]["resources"]["requests"]["storage"] == "10Gi"
    for kind, name in (("Deployment", GATEWAY), ("StatefulSet", REDIS)):
        assert DIGEST.search(container(graph, kind, name)["image"]), kind
    spread = one(graph, "Deployment", GATEWAY)["spec"]["template"]["spec"]["topologySpreadConstraints"]
    assert {"topology.kubernetes.io/zone": "DoNotSchedule"}.items() <= {
        c["topologyKey"]: c["whenUnsatisfiable"] for c in spread
    }.items()


def test_pods_are_hardened(stack_graph: dict[str, Any]) -> None:
    for kind, name in (("Deployment", GATEWAY), ("StatefulSet", REDIS)):
        pod = one(stack_graph, kind, name)["spec"]["template"]["spec"]
        assert pod["automountServiceAccountToken"] is False
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
    assert spec["ports"] == [{"containerPort": 4000, "name": "http", "protocol": "TCP"}]
    env = env_by_name(spec)
    assert env["REDIS_HOST"]["value"] == f"{REDIS}.{NS}.svc.cluster.local"
    assert env["REDIS_PORT"]["value"] == "6379"
    expected_refs = {
        "REDIS_PASSWORD": ("llm-gateway-redis-auth", "REDIS_PASSWORD"),
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
    assert service["ports"] == [{"name": "http", "port": 80, "targetPort": "http"}]
    hpa = one(stack_graph, "HorizontalPodAutoscaler", GATEWAY)
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": GATEWAY}
    monitor = one(stack_graph, "ServiceMonitor", GATEWAY)
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["spec"]["selector"]["matchLabels"] == selector
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"


def test_network_policies(stack_graph: dict[str, Any]) -> None:
    gateway = one(stack_graph, "NetworkPolicy", GATEWAY)["spec"]
    assert gateway["policyTypes"] == ["Ingress", "Egress"]
    (ingress,) = gateway["ingress"]
    (peer,) = ingress["from"]
    (expression,) = peer["namespaceSelector"]["matchExpressions"]
    assert expression["key"] == "kubernetes.io/metadata.name" and expression["operator"] == "In"
    assert "monitoring" in expression["values"] and "podSelector" not in peer
    egress_ports = {(p["port"], p["protocol"]) for rule in gateway["egress"] for p in rule["ports"]}
    assert egress_ports == {(6379, "TCP"), (53, "UDP"), (53, "TCP"), (443, "TCP")}
    redis_rule = next(rule for rule in gateway["egress"] if rule["ports"][0]["port"] == 6379)
    assert redis_rule["to"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "redis"

    redis = one(stack_graph, "NetworkPolicy", REDIS)["spec"]
    assert redis["egress"] == []
    (rule,) = redis["ingress"]
    assert rule["from"] == [
        {"podSelector": {"matchLabels": one(stack_graph, "Deployment", GATEWAY)["spec"]["selector"]["matchLabels"]}}
    ]
    assert rule["ports"] == [{"port": 6379, "protocol": "TCP"}]

    default_deny = one(stack_graph, "NetworkPolicy", "default-deny-all")["spec"]
    assert default_deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


def test_redis_is_capped_authenticated_and_internal(stack_graph: dict[str, Any]) -> None:
    spec = container(stack_graph, "StatefulSet", REDIS)
    args = spec["args"]
    assert args[args.index("--maxmemory-policy") + 1] == "allkeys-lru"
    maxmemory_mb = int(args[args.index("--maxmemory") + 1].removesuffix("mb"))
    limit_mi = int(spec["resources"]["limits"]["memory"].removesuffix("Mi"))
    assert 0 < maxmemory_mb < limit_mi
    assert args[args.index("--requirepass") + 1] == "$(REDIS_PASSWORD)"
    # LiteLLM's redis-semantic cache needs the query engine the Redis 8 image bundles.
    assert args[args.index("--loadmodule") + 1].endswith("/redisearch.so")
    redis_secret = generated_name(stack_graph, "Secret", "llm-gateway-redis-auth")
    assert env_by_name(spec)["REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == redis_secret
    for service in objects(stack_graph, "Service"):
        assert service["spec"]["type"] == "ClusterIP", "no NodePort/LoadBalancer anywhere"
    assert one(stack_graph, "Service", REDIS)["spec"]["clusterIP"] == "None"
    assert one(stack_graph, "StatefulSet", REDIS)["spec"]["serviceName"] == REDIS


def test_outputs(stack_graph: dict[str, Any], generated_root: Path) -> None:
    outputs = stack_graph["outputs"]
    assert outputs["gatewayUrl"]["value"] == f"http://{GATEWAY}.{NS}.svc.cluster.local"
    assert outputs["redisServiceName"]["value"] == REDIS
    # The checksum is for reviewers only: the pods roll because the ConfigMap's name changes.
    environment = outputs["environment"]["value"]
    assert outputs["configChecksum"]["value"] == load_generated_config(environment, LITELLM, generated_root).checksum
    assert "annotations" not in one(stack_graph, "Deployment", GATEWAY)["spec"]["template"]["metadata"]
    assert not any(output["secret"] for output in outputs.values())


def test_portkey_engine_is_refused_where_configs_use_virtual_keys(offline_runs: Any) -> None:
    # The committed staging configs target virtual_key, which only Portkey's hosted gateway resolves.
    run = offline_runs.get("staging-portkey-virtual-keys")
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr and run.stdout == ""
    first, message = run.stderr.splitlines()
    assert first == "error: invalid configuration for stack 'staging':"
    assert message.startswith("llm-gateway:engine: portkey cannot serve environment 'staging'")
    for fragment in ("portkey/chat.json", "no virtual keys", "hosted gateway", "portkey_targets: custom_host"):
        assert fragment in message, fragment


def test_portkey_engine(offline_runs: Any, custom_host_staging_root: Path) -> None:
    # The OSS image serves a tree whose Portkey configs name their hosts (custom_host).
    for path in (custom_host_staging_root / "staging" / "portkey").glob("*.json"):
        assert "virtual_key" not in path.read_text() and "custom_host" in path.read_text(), path
    graph = offline_runs.graph("staging-portkey")
    spec = container(graph, "Deployment", GATEWAY)
    assert spec["image"].startswith("portkeyai/gateway:")
    assert "--headless" in spec["args"]
    assert env_by_name(spec)["NODE_ENV"]["value"] == "production"
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert spec[probe]["tcpSocket"] == {"port": "http"}
    assert spec["ports"][0]["containerPort"] == 8787
    # OSS Portkey has no virtual keys and reads no keys from env: none are mounted.
    assert not any("API_KEY" in name for name in env_by_name(spec))
    assert not objects(graph, "ServiceMonitor")  # no /metrics in the OSS build
    data = auto_named(graph, "ConfigMap", CONFIG)["data"]
    assert any(key.startswith("portkey.") for key in data) and "litellm.config.yaml" not in data
