"""The observability component in each stack's graph, under Pulumi's mocks: the generated dashboards
(sidecar ConfigMaps, or Grafana API resources), one PrometheusRule, one AlertmanagerConfig whose
receivers read their secrets by reference, and no secret value in any of them."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from conftest import ALERT_CANARIES, CANARY_SECRETS, GRAFANA_TOKEN_CANARY, OfflineRuns
from pulumi_graph import auto_named, objects, one

from program.alertmanager import receiver_name, route_tree
from program.observability_tree import load_observability_files
from tools.pulumi_mocks import SECRET_MARKER

STACK_RECEIVERS = {"staging": {"page": "slack", "ticket": "slack"}, "prod": {"page": "pagerduty", "ticket": "slack"}}


def _output(graph: dict[str, Any], name: str) -> Any:
    output = graph["outputs"][name]
    assert output["secret"] is False, name
    return output["value"]


def _environment(graph: dict[str, Any]) -> str:
    return str(_output(graph, "environment"))


def _resources(graph: dict[str, Any], type_: str) -> list[dict[str, Any]]:
    return [resource for resource in graph["resources"] if resource["type"] == type_]


def test_dashboards_are_sidecar_config_maps(stack_graph: dict[str, Any]) -> None:
    files = load_observability_files(_environment(stack_graph))
    assert len(files.dashboards) == 5
    dashboards = [
        cm for cm in objects(stack_graph, "ConfigMap") if cm["metadata"].get("labels", {}).get("grafana_dashboard")
    ]
    assert len(dashboards) == 5
    by_key = {key: (cm, text) for cm in dashboards for key, text in cm["data"].items()}
    assert set(by_key) == {f"{dashboard.uid}.json" for dashboard in files.dashboards}
    for dashboard in files.dashboards:
        config_map, text = by_key[f"{dashboard.uid}.json"]
        assert text == dashboard.json_text  # byte for byte what the generator wrote
        assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert config_map["metadata"]["namespace"] == "monitoring"
        folder = config_map["metadata"]["annotations"]["k8s-sidecar-target-directory"]
        assert folder == f"LLM gateway ({files.environment})"
    assert _output(stack_graph, "dashboards") == [dashboard.uid for dashboard in files.dashboards]
    assert not _resources(stack_graph, "grafana:oss/dashboard:Dashboard")


def test_prometheus_rule_holds_every_generated_rule(stack_graph: dict[str, Any]) -> None:
    environment = _environment(stack_graph)
    files = load_observability_files(environment)
    rule = one(stack_graph, "PrometheusRule", f"llm-gateway-{environment}")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["metadata"]["namespace"] == f"llm-gateway-{environment}"
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    groups = rule["spec"]["groups"]
    assert [group["name"] for group in groups] == [group["name"] for group in files.rule_groups]
    for deployed, generated in zip(groups, files.rule_groups, strict=True):
        for ours, theirs in zip(deployed["rules"], generated["rules"], strict=True):
            if "alert" in theirs:
                # The operator routes an AlertmanagerConfig's alerts by their namespace label.
                assert ours["labels"] == {**theirs.get("labels", {}), "namespace": f"llm-gateway-{environment}"}
                assert {k: v for k, v in ours.items() if k != "labels"} == {
                    k: v for k, v in theirs.items() if k != "labels"
                }
            else:
                assert ours == theirs
    assert files.alert_names and files.recorded_series
    assert _output(stack_graph, "prometheusRule") == f"llm-gateway-{environment}"


def test_alertmanager_config_routes_each_severity_to_its_receiver(stack_graph: dict[str, Any]) -> None:
    environment = _environment(stack_graph)
    config = one(stack_graph, "AlertmanagerConfig", f"llm-gateway-{environment}")
    assert config["apiVersion"] == "monitoring.coreos.com/v1alpha1"
    assert config["metadata"]["namespace"] == f"llm-gateway-{environment}"
    spec = config["spec"]
    tree = route_tree()
    assert spec["route"]["groupBy"] == ["alertname", "env", "task"]
    assert [(r["matchers"], r["receiver"]) for r in spec["route"]["routes"]] == [
        ([{"name": "severity", "value": severity, "matchType": "="}], receiver_name(severity))
        for severity in ("page", "ticket")
    ]
    secret = auto_named(stack_graph, "Secret", "llm-gateway-observability-alert-receivers")
    assert secret["stringData"] == {severity: CANARY_SECRETS[key] for severity, key in _receiver_keys().items()}
    receivers = {receiver["name"]: receiver for receiver in spec["receivers"]}
    assert set(receivers) == set(tree.receivers)
    for severity, kind in STACK_RECEIVERS[environment].items():
        receiver = receivers[receiver_name(severity)]
        (configs,) = [value for key, value in receiver.items() if key.endswith("Configs")]
        assert f"{kind}Configs" in receiver
        reference = {"pagerduty": "routingKey", "slack": "apiURL", "webhook": "urlSecret"}[kind]
        assert configs[0][reference] == {"name": secret["metadata"]["name"], "key": severity}
    text = json.dumps(config)
    for canary in ALERT_CANARIES.values():
        assert canary not in text


def _receiver_keys() -> dict[str, str]:
    return {"page": "alertPageSecret", "ticket": "alertTicketSecret"}


def test_no_secret_in_any_observability_object(stack_graph: dict[str, Any]) -> None:
    observability = [
        *objects(stack_graph, "PrometheusRule"),
        *objects(stack_graph, "AlertmanagerConfig"),
        *objects(stack_graph, "ServiceMonitor"),
        *(cm for cm in objects(stack_graph, "ConfigMap") if "grafana_dashboard" in cm["metadata"].get("labels", {})),
    ]
    assert len(observability) == 8
    text = json.dumps(observability)
    for canary in CANARY_SECRETS.values():
        assert canary not in text
    for output in ("dashboards", "dashboardsLocation", "prometheusRule", "alertmanagerConfig"):
        assert output in stack_graph["outputs"]


def test_dashboards_through_grafana_api(offline_runs: OfflineRuns) -> None:
    graph = offline_runs.graph("staging-grafana-api")
    files = load_observability_files("staging")
    (provider,) = _resources(graph, "pulumi:providers:grafana")
    assert provider["inputs"]["url"] == "https://grafana.example.internal"
    assert provider["inputs"]["auth"] == {SECRET_MARKER: GRAFANA_TOKEN_CANARY}
    (folder,) = _resources(graph, "grafana:oss/folder:Folder")
    assert folder["inputs"]["title"] == "Gateway staging"
    dashboards = _resources(graph, "grafana:oss/dashboard:Dashboard")
    assert sorted(d["inputs"]["configJson"] for d in dashboards) == sorted(d.json_text for d in files.dashboards)
    assert {d["inputs"]["folder"] for d in dashboards} == {folder["state"].get("uid", folder["inputs"]["uid"])}
    # Instead of the sidecar's ConfigMaps, never both.
    assert not [cm for cm in objects(graph, "ConfigMap") if "grafana_dashboard" in cm["metadata"].get("labels", {})]
    plain = json.dumps([r for r in graph["resources"] if r["type"] != "pulumi:providers:grafana"])
    assert GRAFANA_TOKEN_CANARY not in plain + json.dumps(graph["outputs"])
    assert "https://grafana.example.internal" in _output(graph, "dashboardsLocation")


def test_grafana_url_without_token_is_refused(offline_runs: OfflineRuns) -> None:
    run = offline_runs.get("prod-grafana-no-token")
    assert run.returncode == 2
    assert "llm-gateway:grafanaToken: required secret is not set" in run.stderr
    assert "Traceback" not in run.stderr


def test_without_alerting_no_receiver_secret_is_needed(offline_runs: OfflineRuns) -> None:
    graph = offline_runs.graph("prod-no-alerting")
    assert not objects(graph, "AlertmanagerConfig")
    assert objects(graph, "PrometheusRule")
    assert _output(graph, "alertmanagerConfig") is None


def test_missing_receiver_secret_is_refused(offline_runs: OfflineRuns) -> None:
    run = offline_runs.get("prod-no-receiver-secret")
    assert run.returncode == 2
    for key in ("alertPageSecret", "alertTicketSecret"):
        assert f"llm-gateway:{key}: required secret is not set" in run.stderr
    assert "Traceback" not in run.stderr


def test_bad_observability_settings_name_their_keys(offline_runs: OfflineRuns) -> None:
    run = offline_runs.get("prod-bad-observability")
    assert run.returncode == 2 and "Traceback" not in run.stderr
    lines = run.stderr.splitlines()
    assert lines[0] == "error: invalid configuration for stack 'prod':"
    problems = {line.split(": ", 1)[0] for line in lines[1:]}
    assert problems == {
        "llm-gateway:prometheusSelectorLabels[0]",
        "llm-gateway:grafanaUrl",
        "llm-gateway:alertPageReceiver",
    }, run.stderr
    assert "not a Kubernetes label as key=value" in run.stderr


def test_esc_files_define_the_receiver_and_grafana_secrets() -> None:
    from tools.offline import ROOT

    for env in ("staging", "prod"):
        values = yaml.safe_load((ROOT / "esc" / f"{env}.yaml").read_text())["values"]
        assert set(values["alerting"]) == {"page", "ticket"}
        assert set(values["grafana"]["token"]) == {"fn::secret"}


@pytest.mark.parametrize("run", ["staging", "prod"])
def test_plan_lists_the_observability_objects(offline_runs: OfflineRuns, run: str) -> None:
    graph = offline_runs.graph(run)
    kinds = [resource["type"] for resource in graph["resources"]]
    assert kinds.count("kubernetes:monitoring.coreos.com/v1:PrometheusRule") == 1
    assert kinds.count("kubernetes:monitoring.coreos.com/v1alpha1:AlertmanagerConfig") == 1
    assert "llm-gateway:index:Observability" in kinds
