"""The spec's `observability` section, the generated dashboards and the generated documentation tables."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway_config.build import DEFAULT_SPEC, render
from gateway_config.generators.grafana import DASHBOARDS, routing_markdown
from gateway_config.loader import load_spec
from gateway_config.resolve import resolve_environment
from gateway_config.spec import ENVIRONMENT_NAMES, ObservabilityOverride, RoutingSpec
from tools import metrics_doc

REPO = Path(__file__).resolve().parents[2]
SPEC_TEXT = DEFAULT_SPEC.read_text(encoding="utf-8")


def _validate(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    spec = tmp_path / "routing.yaml"
    spec.write_text(text, encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "gateway_config", "validate", "--spec", str(spec)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        check=False,
    )


def _line_of(text: str, needle: str) -> int:
    (line,) = [number for number, content in enumerate(text.splitlines(), 1) if needle in content]
    return line


URL_MESSAGE = (
    "observability.runbook_base_url: must be an https URL without credentials, query, fragment or trailing slash"
)
URL_LINE = "  runbook_base_url: https://github.com/acme/llm-gateway/blob/main/docs/runbooks"


@pytest.mark.parametrize(
    ("new", "needle", "message"),
    [
        (
            "  runbook_base_url: http://wiki.example.com/runbooks",
            "runbook_base_url",
            URL_MESSAGE,
        ),
        (
            "  runbook_base_url: https://wiki.example.com/runbooks/",
            "runbook_base_url",
            URL_MESSAGE,
        ),
        ("  runbook_url: https://wiki.example.com/runbooks", "runbook_url", "observability.runbook_url: unknown key"),
    ],
    ids=["plain-http", "trailing-slash", "unknown-key"],
)
def test_a_bad_observability_section_names_its_key_path(tmp_path: Path, new: str, needle: str, message: str) -> None:
    text = SPEC_TEXT.replace(URL_LINE, new)
    assert text != SPEC_TEXT
    result = _validate(tmp_path, text)
    assert result.returncode == 2, result.stdout + result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"{tmp_path / 'routing.yaml'}:{_line_of(text, needle)}: {message}"), line
    assert "Traceback" not in result.stderr


def test_an_environment_threshold_out_of_range_names_its_key_path(tmp_path: Path) -> None:
    text = SPEC_TEXT.replace(
        "    budgets:\n      monthly_usd: 20000\n",
        "    observability:\n      fallback_rate_percent: 0\n    budgets:\n      monthly_usd: 20000\n",
    )
    result = _validate(tmp_path, text)
    assert result.returncode == 2
    assert "environments.prod.observability.fallback_rate_percent: " in result.stderr
    assert result.stderr.count("\n") == 1


def _alerts(rendered: dict[str, str], environment: str) -> list[dict[str, Any]]:
    groups = yaml.safe_load(rendered[f"{environment}/prometheus/alerts.rules.yml"])["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_an_environment_override_changes_only_that_environments_rules(spec: RoutingSpec) -> None:
    prod = spec.environments["prod"]
    override = prod.model_copy(update={"observability": ObservabilityOverride(fallback_rate_percent=25.0)})
    edited = spec.model_copy(update={"environments": {**spec.environments, "prod": override}})
    before, after = render(spec), render(edited)
    changed = sorted(path for path in before if before[path] != after[path])
    assert changed == ["prod/grafana/performance-trending.json", "prod/prometheus/alerts.rules.yml"]
    (fallback,) = [rule for rule in _alerts(after, "prod") if rule["alert"] == "LLMGatewayFallbackSpike"]
    assert fallback["expr"] == "llm_gateway:fallback_ratio:rate5m > 0.25"


def test_runbook_links_follow_the_base_url(spec: RoutingSpec) -> None:
    edited = spec.model_copy(
        update={
            "observability": spec.observability.model_copy(update={"runbook_base_url": "https://wiki.example.com/rb"})
        }
    )
    for rule in _alerts(render(edited, ["staging"]), "staging"):
        assert re.fullmatch(r"https://wiki\.example\.com/rb/[a-z0-9-]+\.md", rule["annotations"]["runbook_url"])


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_five_dashboards_with_the_three_variables_used_by_every_query(
    rendered: dict[str, str], environment: str
) -> None:
    boards = {path: json.loads(text) for path, text in rendered.items() if path.startswith(f"{environment}/grafana/")}
    assert sorted(boards) == sorted(f"{environment}/grafana/{name}.json" for name in DASHBOARDS)
    for path, board in boards.items():
        name = Path(path).stem
        assert board["uid"] == f"llm-gateway-{environment}-{name}"
        variables = {variable["name"]: variable for variable in board["templating"]["list"]}
        assert list(variables) == ["datasource", "provider", "task"]
        assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
        for name in ("provider", "task"):
            assert variables[name]["includeAll"] and variables[name]["allValue"] == ".*" and variables[name]["multi"]
        ids = [panel["id"] for panel in board["panels"]]
        assert len(ids) == len(set(ids)), f"{path}: duplicate panel ids"
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
                assert "$task" in target["expr"], f"{path} {panel['title']}: {target['expr']}"
                if "provider" in panel["title"].lower() or "model" in panel["title"].lower():
                    assert "$provider" in target["expr"], f"{path} {panel['title']}: {target['expr']}"


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_the_routing_panel_shows_every_branch_the_spec_routes(
    rendered: dict[str, str], spec: RoutingSpec, environment: str
) -> None:
    resolved = resolve_environment(spec, environment)
    board = json.loads(rendered[f"{environment}/grafana/provider-comparison.json"])
    (panel,) = [panel for panel in board["panels"] if panel["type"] == "text"]
    content = panel["options"]["content"]
    assert content == routing_markdown(resolved)
    for task in resolved.tasks:
        for branch in task.branches:
            chain = " -> ".join(target.label for target in branch.chain)
            assert f"| {task.name} | {task.tier} | {branch.label} | {branch.percent:g}% | {chain} |" in content
    if environment != "local":  # the experiment runs everywhere; its share is the spec's
        assert "| chat | tier2 | chat-haiku-first | 10% | anthropic/claude-haiku-4-5-20251001 -> " in content


def test_the_experiments_dashboard_compares_each_experiment_or_says_there_is_none(spec: RoutingSpec) -> None:
    board = json.loads(render(spec, ["prod"])["prod/grafana/experiments.json"])
    rows = [panel["title"] for panel in board["panels"] if panel["type"] == "row"]
    assert rows == ["chat-haiku-first: chat, model:claude-haiku on 10% (ab)"]
    shares = [panel for panel in board["panels"] if panel["title"] == "Traffic share: variant vs control"]
    (share,) = shares
    assert [target["legendFormat"] for target in share["targets"]] == ["variant", "control"]
    assert 'deployment=~"chat/claude-haiku"' in share["targets"][0]["expr"]
    assert 'deployment=~"chat/claude-haiku/last-resort|chat/gpt-4o-mini"' in share["targets"][1]["expr"]

    without = spec.model_copy(update={"experiments": {}})
    board = json.loads(render(without, ["prod"])["prod/grafana/experiments.json"])
    assert [panel["title"] for panel in board["panels"]] == ["Routing today (prod)", "No experiments"]


def test_generated_monitoring_is_byte_identical_on_rebuild(spec: RoutingSpec, rendered: dict[str, str]) -> None:
    again = render(load_spec(DEFAULT_SPEC))
    monitoring = [path for path in rendered if "/prometheus/" in path or "/grafana/" in path]
    assert len(monitoring) == 3 * (2 + len(DASHBOARDS))
    assert all(again[path] == rendered[path] for path in monitoring)


def test_the_generated_tables_in_the_docs_are_current() -> None:
    assert metrics_doc.main(["--check"]) == 0, "run `python -m tools.metrics_doc`"


def test_the_docs_name_every_alert_and_recorded_series(rendered: dict[str, str]) -> None:
    doc = (REPO / "docs" / "metrics.md").read_text(encoding="utf-8")
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for environment in ENVIRONMENT_NAMES:
        groups = yaml.safe_load(rendered[f"{environment}/prometheus/recording.rules.yml"])["groups"]
        for rule in (rule for group in groups for rule in group["rules"]):
            assert f"`{rule['record']}`" in doc
        for rule in _alerts(rendered, environment):
            assert f"`{rule['alert']}`" in doc and f"`{rule['alert']}`" in readme
