"""Every metric a rule or a dashboard panel reads exists: it is recorded by a generated recording
rule, or it is a LiteLLM series listed in docs/metrics.md (and named in the pinned LiteLLM's
Prometheus integration). `promql-parser` lists the metrics of each expression."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import yaml

from gateway_config.spec import ENVIRONMENT_NAMES
from tools.promql import grafana_query, metric_names

REPO = Path(__file__).resolve().parents[2]
METRICS_DOC = REPO / "docs" / "metrics.md"
LITELLM_PROMETHEUS = sorted(
    REPO.glob("runtime/litellm/.venv/lib/python3*/site-packages/litellm/integrations/prometheus.py")
)
SUFFIXES = ("_total", "_bucket", "_count", "_sum")


def documented_litellm_series() -> set[str]:
    """The LiteLLM series docs/metrics.md lists: the first column of its LiteLLM table."""
    text = METRICS_DOC.read_text(encoding="utf-8")
    section = text[text.index("## LiteLLM series") :]
    section = section[: section.index("\n## ", 1)] if "\n## " in section[1:] else section
    return set(re.findall(r"^\| `(litellm_[a-z_]+)`", section, flags=re.MULTILINE))


def _rules(rendered: dict[str, str], environment: str) -> list[dict[str, str]]:
    rules = []
    for name in ("recording.rules.yml", "alerts.rules.yml"):
        for group in yaml.safe_load(rendered[f"{environment}/prometheus/{name}"])["groups"]:
            rules.extend(group["rules"])
    return rules


def _panel_queries(rendered: dict[str, str], environment: str) -> dict[str, list[str]]:
    queries: dict[str, list[str]] = {}
    for path, text in rendered.items():
        if path.startswith(f"{environment}/grafana/"):
            dashboard = json.loads(text)
            queries[path] = [
                target["expr"]
                for panel in dashboard["panels"]
                for target in panel.get("targets", [])
                if "expr" in target
            ]
    return queries


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_every_metric_used_is_recorded_or_a_documented_litellm_series(
    rendered: dict[str, str], environment: str
) -> None:
    rules = _rules(rendered, environment)
    recorded = {rule["record"] for rule in rules if "record" in rule}
    known = recorded | documented_litellm_series()
    used: dict[str, set[str]] = {}
    for rule in rules:
        used[rule.get("record") or rule["alert"]] = metric_names(rule["expr"])
    for path, exprs in _panel_queries(rendered, environment).items():
        for index, expr in enumerate(exprs):
            used[f"{path} query {index}"] = metric_names(grafana_query(expr))
    unknown = {where: sorted(names - known) for where, names in used.items() if names - known}
    assert not unknown, f"metrics neither recorded nor listed in docs/metrics.md: {unknown}"
    # The check reads something: the rules and panels use LiteLLM series and recorded ones.
    everything = set().union(*used.values())
    assert everything & recorded and everything - recorded


def test_the_check_catches_an_unknown_metric() -> None:
    assert metric_names('sum(rate(llm_requests_total{task="chat"}[5m])) / on () llm_gateway:x:y') == {
        "llm_requests_total",
        "llm_gateway:x:y",
    }
    assert metric_names(grafana_query('rate(a{task=~"$task"}[$__rate_interval])')) == {"a"}


def test_documented_litellm_series_exist_in_the_pinned_litellm() -> None:
    if not LITELLM_PROMETHEUS:
        message = "the LiteLLM runtime is not installed; install with: make runtime-litellm"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    source = LITELLM_PROMETHEUS[0].read_text(encoding="utf-8")
    documented = documented_litellm_series()
    assert documented, "docs/metrics.md lists no LiteLLM series"
    missing = []
    for series in sorted(documented):
        base = next((series.removesuffix(s) for s in SUFFIXES if series.endswith(s)), series)
        if f'"{base}"' not in source:
            missing.append(series)
    assert not missing, f"not defined by the pinned LiteLLM's prometheus.py: {missing}"
