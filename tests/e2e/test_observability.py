"""The generated observability, proven on the real parts: LiteLLM on the generated ``local`` config,
scraped on its metrics port by a real Prometheus (Debian's ``prometheus``) that loads the generated
rules and sends to a real Alertmanager (Debian's ``prometheus-alertmanager``) configured from the route
tree the cluster gets (``program/alertmanager.py``), which delivers to a webhook receiver in this test.

The driven traffic: a dead provider (OpenRouter, so ``experimental`` runs on its fallbacks), successes
on every routed task, cache hits, the ``chat`` experiment, then a task whose every target fails.
Then every recording rule and every dashboard panel query, executed through Prometheus's HTTP API,
succeeds and returns series (an unknown metric is an empty success, so emptiness fails); every alert
expression evaluates; every metric name a panel or rule reads is in the real scrape or recorded by a
rule; and the alerts the traffic trips reach the webhook with their labels and runbook URL.

Only what time forces is changed: evaluation every second and ``for`` windows of a few seconds
(instead of minutes), and the Alertmanager's group waits. Expressions, labels and annotations are
the generated ones.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from e2e_engines import LiteLLMEngine, LiteLLMPool, require_tool
from e2e_support import cached_tasks, route, unique_body

from local.client import CHAT_PATH, gateway_tasks
from local.mock_provider import MockControl
from local.processes import (
    LOOPBACK,
    ServerProcess,
    alertmanager_path,
    free_port,
    prometheus_path,
    start_alertmanager,
    start_prometheus,
)
from program.alertmanager import alertmanager_yaml, receiver_name, route_tree, with_shorter_waits
from program.observability_tree import ObservabilityFiles, load_observability_files
from tools.promql import grafana_query, metric_names

pytestmark = pytest.mark.e2e

SCRAPE_AND_EVALUATION = "1s"
# The generated `for` windows are minutes long; the conditions the traffic sets hold for the test's length.
SHORT_FOR = "3s"
# What Grafana puts in for its variables: every provider and task ("All"), a rate window of a few scrapes.
GRAFANA_INTERVALS = {"__rate_interval": "1m", "__interval": "15s", "__range": "1h"}
# The alerts this traffic must trip (docs/metrics.md, docs/runbooks/), and the label naming what tripped them.
TRIPPED_ALERTS = {
    "LLMGatewayErrorRateHigh": "task",
    "LLMGatewayFallbackSpike": "task",
    "LLMGatewayProviderDown": "provider",
}
DEAD_PROVIDER = "openrouter"
HEALTHY_REQUESTS = 12
# The experiment's variant takes 10% of `chat`: with 120 requests P(no variant request) = 0.9^120 < 1e-5.
EXPERIMENT_REQUESTS = 120
# One request each to the fallback task and the failing task per round: 70 s spans two cooldowns (30 s).
FAULTED_ROUNDS = 70
FAULTED_ROUND_SECONDS = 1.0
WORKERS = 6
TRAFFIC_DEADLINE_SECONDS = 300.0
ALERT_DEADLINE_SECONDS = 90.0
RULES_SETTLE_SECONDS = 6.0


@dataclass
class Webhook:
    """An HTTP receiver on loopback that keeps every notification the Alertmanager posts to it."""

    server: ThreadingHTTPServer
    received: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def alerts(self) -> list[tuple[str, dict[str, Any]]]:
        """(receiver path, alert) for every alert of every notification so far."""
        return [(path, alert) for path, body in list(self.received) for alert in body.get("alerts", [])]


def _webhook() -> Webhook:
    received: list[tuple[str, dict[str, Any]]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            received.append((self.path.strip("/"), json.loads(body)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return Webhook(server, received)


def _fast_rules(files: ObservabilityFiles) -> dict[str, Any]:
    """The generated groups evaluated every second, each alert's `for` shortened; nothing else changed."""
    groups = []
    for group in files.rule_groups:
        rules = [{**rule, "for": SHORT_FOR} if "alert" in rule and "for" in rule else rule for rule in group["rules"]]
        groups.append({**group, "interval": SCRAPE_AND_EVALUATION, "rules": rules})
    return {"groups": groups}


@dataclass
class Observed:
    """The running stack of this module and what it was driven with."""

    engine: LiteLLMEngine
    prometheus: ServerProcess
    alertmanager: ServerProcess
    webhook: Webhook
    files: ObservabilityFiles
    metrics_url: str
    tripped_by: dict[str, str]  # alert → the value of its label the traffic must trip it for

    def query(self, expr: str) -> dict[str, Any]:
        answer = httpx.get(f"{self.prometheus.url}/api/v1/query", params={"query": expr}, timeout=30)
        body: dict[str, Any] = answer.json()
        return body


def _send(engine: LiteLLMEngine, bodies: list[dict[str, Any]]) -> list[int]:
    with engine.client(timeout=60) as client, ThreadPoolExecutor(WORKERS) as pool:
        return list(pool.map(lambda body: client.post(CHAT_PATH, json=body).status_code, bodies))


def _drive_traffic(engine: LiteLLMEngine, mock: MockControl, routing: dict[str, Any]) -> dict[str, str]:
    """A dead provider from the start, successes, cache hits and the experiment, then failing tasks.

    The faults are paced over more than one cooldown (a failed deployment is skipped for
    ``cooldown_time``, and a request refused while every target cools down is counted without a
    status): Prometheus sees a counter's new series only from its second sample on, so the failures
    after the first cooldown are the ones a rate shows. Returns, per alert of :data:`TRIPPED_ALERTS`,
    the task or provider it must fire for."""
    started = time.monotonic()
    tasks = gateway_tasks(routing)
    experiment_task = next(task for task in tasks if route(routing, task).experiments)
    # The task whose first targets are all on the dead provider runs on its fallbacks throughout.
    fallback_task = next(task for task in tasks if route(routing, task).primary.startswith(f"{DEAD_PROVIDER}/"))
    mock.fail(f"{DEAD_PROVIDER}/*", 503)
    healthy = [unique_body(task, "observed") for task in tasks for _ in range(HEALTHY_REQUESTS)]
    healthy += [unique_body(experiment_task, "experiment") for _ in range(EXPERIMENT_REQUESTS)]
    statuses = _send(engine, healthy)
    assert statuses.count(200) == len(healthy), statuses
    # Cache hits: the same prompt again, after the first answer is stored.
    for task in cached_tasks(routing):
        repeated = unique_body(task, "cached")
        assert _send(engine, [repeated]) == [200]
        assert _send(engine, [repeated] * 4) == [200] * 4

    # A task with no healthy target left: its clients get errors.
    failing = next(task for task in tasks if task not in (fallback_task, experiment_task))
    for target in sorted(route(routing, failing).targets.values()):
        mock.fail(target, 500)
    for _ in range(FAULTED_ROUNDS):
        round_started = time.monotonic()
        fallback, failed = _send(engine, [unique_body(fallback_task, "dead-provider"), unique_body(failing, "failing")])
        assert fallback == 200 and failed >= 500, (fallback, failed)
        time.sleep(max(0.0, FAULTED_ROUND_SECONDS - (time.monotonic() - round_started)))
    assert time.monotonic() - started < TRAFFIC_DEADLINE_SECONDS
    return {
        "LLMGatewayErrorRateHigh": failing,
        "LLMGatewayFallbackSpike": fallback_task,
        "LLMGatewayProviderDown": DEAD_PROVIDER,
    }


@pytest.fixture(scope="module")
def observed(
    litellm_pool: LiteLLMPool,
    routing: dict[str, Any],
    generated_local: Path,
    e2e_dir: Path,
    mock_server: ServerProcess,
) -> Iterator[Observed]:
    require_tool("prometheus", prometheus_path() is not None)
    mock = MockControl(mock_server.url)
    mock.reset()
    require_tool("alertmanager", alertmanager_path() is not None)
    files = load_observability_files("local", generated_local.parent)
    work = e2e_dir / "observability"
    (work / "rules").mkdir(parents=True, exist_ok=True)
    started: list[ServerProcess] = []
    webhook = _webhook()
    engine = litellm_pool.start_engine("observability", metrics_port=free_port())
    try:
        metrics_url = engine.server.extra["metrics_url"]
        tree = with_shorter_waits(route_tree(), group_wait="1s", group_interval="1s")
        alertmanager_config = work / "alertmanager.yml"
        alertmanager_config.write_text(
            yaml.safe_dump(alertmanager_yaml(tree, {name: f"{webhook.url}/{name}" for name in tree.receivers}))
        )
        alertmanager = start_alertmanager(alertmanager_config, work)
        started.append(alertmanager)
        (work / "rules" / "generated.rules.yml").write_text(yaml.safe_dump(_fast_rules(files), sort_keys=False))
        scrape = httpx.URL(metrics_url)
        prometheus_config = work / "prometheus.yml"
        prometheus_config.write_text(
            yaml.safe_dump(
                {
                    "global": {"scrape_interval": SCRAPE_AND_EVALUATION, "evaluation_interval": SCRAPE_AND_EVALUATION},
                    "rule_files": [str(work / "rules" / "*.yml")],
                    "alerting": {
                        "alertmanagers": [{"static_configs": [{"targets": [f"{LOOPBACK}:{alertmanager.port}"]}]}]
                    },
                    "scrape_configs": [
                        {
                            "job_name": "llm-gateway",
                            "metrics_path": scrape.path,
                            "static_configs": [{"targets": [f"{scrape.host}:{scrape.port}"]}],
                        }
                    ],
                }
            )
        )
        prometheus = start_prometheus(prometheus_config, work)
        started.append(prometheus)
        tripped_by = _drive_traffic(engine, mock, routing)
        time.sleep(RULES_SETTLE_SECONDS)  # a few scrapes and rule evaluations after the last request
        yield Observed(engine, prometheus, alertmanager, webhook, files, metrics_url, tripped_by)
    finally:
        for server in reversed(started):
            server.stop()
        engine.stop()
        webhook.server.shutdown()
        mock.reset()


def _panel_queries(files: ObservabilityFiles) -> list[tuple[str, str, str]]:
    """(dashboard uid, panel title, expression) of every Prometheus query of every panel."""

    def panels(nodes: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for node in nodes:
            yield node
            yield from panels(node.get("panels") or [])

    queries = []
    for dashboard in files.dashboards:
        model = json.loads(dashboard.json_text)
        for panel in panels(model.get("panels") or []):
            for target in panel.get("targets") or []:
                if target.get("expr"):
                    queries.append((dashboard.uid, str(panel.get("title")), str(target["expr"])))
    return queries


def _scraped_names(metrics_url: str) -> set[str]:
    text = httpx.get(metrics_url, timeout=10).text
    return {re.split(r"[{ ]", line, maxsplit=1)[0] for line in text.splitlines() if line and not line.startswith("#")}


def test_the_metrics_port_answers_the_scrape_without_a_key(observed: Observed) -> None:
    scrape = httpx.get(observed.metrics_url, timeout=10)
    assert scrape.status_code == 200 and "litellm_proxy_total_requests_metric_total" in scrape.text
    # The API port keeps its /metrics behind a key: the scrape never needs one there.
    api = httpx.get(f"{observed.engine.url}/metrics", timeout=10, follow_redirects=True)
    assert api.status_code == 401, api.text[:200]
    # The metrics port serves the registry and its own health check, nothing of the API.
    assert httpx.get(observed.metrics_url.replace("/metrics/", "/v1/models"), timeout=10).status_code == 404
    targets = httpx.get(f"{observed.prometheus.url}/api/v1/targets", timeout=10).json()["data"]["activeTargets"]
    assert [target["health"] for target in targets] == ["up"], targets


def test_requests_refused_while_every_target_cools_down_are_counted_without_a_status(observed: Observed) -> None:
    # docs/runtime-facts.md: the router's refusal (the client gets a 503) is counted with status_code "None",
    # so an error ratio that matches only 5xx statuses sees upstream failures, not these refusals.
    failing = observed.tripped_by["LLMGatewayErrorRateHigh"]
    answer = observed.query(f'litellm_proxy_total_requests_metric_total{{requested_model="{failing}"}}')
    statuses = {series["metric"].get("status_code") for series in answer["data"]["result"]}
    assert {"200", "None"} <= statuses and any(status.startswith("5") for status in statuses if status), statuses


def test_every_recording_rule_returns_series(observed: Observed) -> None:
    empty, failed = [], []
    for series in observed.files.recorded_series:
        answer = observed.query(series)
        if answer["status"] != "success":
            failed.append((series, answer.get("error")))
        elif not answer["data"]["result"]:
            empty.append(series)
    assert not failed, failed
    assert not empty, f"recording rules without a series after the traffic: {empty}"


def test_every_dashboard_panel_query_returns_series(observed: Observed) -> None:
    queries = _panel_queries(observed.files)
    assert {uid for uid, _, _ in queries} == {dashboard.uid for dashboard in observed.files.dashboards}
    empty, failed = [], []
    for uid, title, expr in queries:
        answer = observed.query(grafana_query(expr, GRAFANA_INTERVALS))
        if answer["status"] != "success":
            failed.append((uid, title, answer.get("error")))
        elif not answer["data"]["result"]:
            empty.append((uid, title, expr))
    assert not failed, failed
    assert not empty, f"panels without data after the traffic: {empty}"


def test_every_alert_expression_evaluates(observed: Observed) -> None:
    alerts = [rule for group in observed.files.rule_groups for rule in group["rules"] if "alert" in rule]
    assert {rule["alert"] for rule in alerts} >= set(TRIPPED_ALERTS)
    for rule in alerts:
        answer = observed.query(str(rule["expr"]))
        assert answer["status"] == "success", (rule["alert"], answer.get("error"))
    rules = httpx.get(f"{observed.prometheus.url}/api/v1/rules", timeout=10).json()["data"]["groups"]
    unhealthy = [(r["name"], r.get("lastError")) for g in rules for r in g["rules"] if r.get("health") != "ok"]
    assert not unhealthy, unhealthy


def test_every_metric_name_is_scraped_or_recorded(observed: Observed) -> None:
    exprs = [str(rule["expr"]) for group in observed.files.rule_groups for rule in group["rules"]]
    exprs += [grafana_query(expr, GRAFANA_INTERVALS) for _, _, expr in _panel_queries(observed.files)]
    used = set().union(*(metric_names(expr) for expr in exprs))
    known = _scraped_names(observed.metrics_url) | set(observed.files.recorded_series)
    assert used, "no metric names found"
    assert not used - known, f"used but neither scraped nor recorded: {sorted(used - known)}"


def test_tripped_alerts_reach_the_webhook_with_labels_and_runbook(observed: Observed) -> None:
    wanted = {alert: label for alert, label in TRIPPED_ALERTS.items()}
    rules = {rule["alert"]: rule for group in observed.files.rule_groups for rule in group["rules"] if "alert" in rule}
    deadline = time.monotonic() + ALERT_DEADLINE_SECONDS
    found: dict[str, tuple[str, dict[str, Any]]] = {}
    while time.monotonic() < deadline and set(found) != set(wanted):
        for path, alert in observed.webhook.alerts():
            name = alert["labels"].get("alertname")
            tripped = name in wanted and alert["labels"].get(wanted[name]) == observed.tripped_by[name]
            if tripped and alert["status"] == "firing":
                found.setdefault(name, (path, alert))
        time.sleep(1)
    firing = httpx.get(f"{observed.prometheus.url}/api/v1/alerts", timeout=10).json()["data"]["alerts"]
    # What each missing alert's expression reads (its comparison dropped), to say why it did not fire.
    values = {
        name: observed.query(re.split(r"\s*[<>]=?\s*[0-9.]+\s*$", str(rules[name]["expr"]))[0])["data"]["result"]
        for name in set(wanted) - set(found)
    }
    Path(observed.prometheus.log_path.parent / "scrape-at-failure.txt").write_text(
        httpx.get(observed.metrics_url, timeout=10).text
    )
    assert set(found) == set(wanted), (
        f"delivered: {sorted(found)}; firing in Prometheus: "
        f"{sorted({(a['labels']['alertname'], a['state']) for a in firing})}; values: {values}"
    )
    for name, (path, alert) in found.items():
        rule = rules[name]
        assert path == receiver_name(rule["labels"]["severity"]), (name, path)
        for key, value in rule["labels"].items():
            assert alert["labels"][key] == value, (name, key)
        assert alert["labels"]["env"] == "local"
        assert alert["annotations"]["runbook_url"] == rule["annotations"]["runbook_url"]
        assert "{{" not in alert["annotations"]["summary"], alert["annotations"]  # the values filled in
