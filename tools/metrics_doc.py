"""Keep the generated tables of docs/metrics.md and README.md in step with the generated monitoring.

The tables (recorded series with their labels, sources, panels and alerts; alerts with their
thresholds per environment; dashboards and their panels) are rendered from the generated rule files
and dashboards of the committed spec, between `<!-- BEGIN generated:<name> -->` and
`<!-- END generated:<name> -->` markers. CI checks them (tests/observability/test_docs.py).

    python -m tools.metrics_doc            # rewrite the tables
    python -m tools.metrics_doc --check    # exit 1 if a table is stale
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import promql_parser
import yaml

from gateway_config.build import DEFAULT_SPEC, render
from gateway_config.generators.grafana import DASHBOARDS
from gateway_config.generators.prometheus import ALERTS
from gateway_config.loader import load_spec
from gateway_config.spec import ENVIRONMENT_NAMES
from tools.offline import ROOT
from tools.promql import grafana_query, metric_names

METRICS_DOC = ROOT / "docs" / "metrics.md"
README = ROOT / "README.md"
# What each alert measures, for the tables (its expression is in the generated rule file).
ALERT_MEANINGS = {
    "LLMGatewayErrorRateHigh": (
        "share of a task's requests answered 5xx, 408 or 429 or refused while every target cools down (5 min)"
    ),
    "LLMGatewayLatencyP95High": "p95 end-to-end latency of a task, seconds (5 min)",
    "LLMGatewayFallbackSpike": "share of a task's requests served by a fallback target (5 min)",
    "LLMGatewayProviderDown": "share of failed attempts across a provider (5 min)",
    "LLMGatewayDeploymentDown": "share of failed attempts on one deployment, task/target (5 min)",
    "LLMGatewayCacheHitRateLow": "share of a cached task's requests answered from the cache (5 min), below",
    "LLMGatewayOverheadHigh": "p95 of the gateway's own overhead, seconds (5 min)",
    "LLMGatewayBudgetProjectedOverrun": "month-to-date spend + last hour's rate for the rest of the month, USD",
    "LLMGatewayTaskBudgetBurn": "a task's last-hour spend rate over a whole month, USD, per task budget",
}
COMPARISON = re.compile(r"\s([<>]=?)\s(-?[0-9][0-9.e+-]*)")
RELABEL = re.compile(
    r"label_replace\(label_replace\(label_replace\(label_replace\((.*?), "
    r"\"task\", \"\$1\", \"(\w+)\".*?\"\[\^/\]\+/\(\[\^/\]\+\)\.\*\"\)"
)


def _rules(rendered: dict[str, str], environment: str, file: str) -> list[dict[str, Any]]:
    groups = yaml.safe_load(rendered[f"{environment}/prometheus/{file}"])["groups"]
    return [rule for group in groups for rule in group["rules"]]


def _labels(expr: str, known: dict[str, list[str]]) -> list[str]:
    """The labels a recorded series carries: its outermost aggregation's, else its inputs'."""
    tree = promql_parser.parse(expr)
    found: list[list[str]] = []

    def visit(node: object) -> bool:
        if isinstance(node, promql_parser.AggregateExpr):
            found.append(list(node.modifier.labels) if node.modifier else [])
            return False
        return True

    promql_parser.walk(tree, pre_visit=visit)
    if found:
        labels = found[0]
    else:
        # No aggregation (a sum or product of recorded series): the labels of its richest input.
        inputs = [known[name] for name in sorted(metric_names(expr)) if name in known]
        labels = max(inputs, key=len) if inputs else []
    if expr.startswith("histogram_quantile("):
        labels = [label for label in labels if label != "le"]
    return labels


def _short(expr: str) -> str:
    """The expression with LiteLLM's labels -> ours relabelling written as `ours(<input>, task from <label>)`."""
    return RELABEL.sub(lambda m: f"ours({m.group(1)}, task from {m.group(2)})", expr)


def _panels(rendered: dict[str, str], environment: str) -> list[tuple[str, str, list[str]]]:
    """(dashboard, panel title, queries) of every panel of the environment's dashboards."""
    panels = []
    for name in DASHBOARDS:
        board = json.loads(rendered[f"{environment}/grafana/{name}.json"])
        for panel in board["panels"]:
            if panel["type"] == "row":
                continue
            panels.append((name, panel["title"], [t["expr"] for t in panel.get("targets", [])]))
    return panels


def _cell(items: Iterable[str]) -> str:
    return "<br>".join(items) or "—"


def recorded_series_table(rendered: dict[str, str]) -> str:
    environment = "prod"  # every environment records the same series; prod's shows the real thresholds
    recording = _rules(rendered, environment, "recording.rules.yml")
    alerts = [rule for env in ENVIRONMENT_NAMES for rule in _rules(rendered, env, "alerts.rules.yml")]
    panels = [panel for env in ENVIRONMENT_NAMES for panel in _panels(rendered, env)]
    known: dict[str, list[str]] = {}
    lines = ["| series | labels | source | panels | alerts |", "| --- | --- | --- | --- | --- |"]
    for rule in recording:
        name = rule["record"]
        known[name] = _labels(rule["expr"], known)
        users = sorted(
            {
                f"{board}: {title}"
                for board, title, queries in panels
                if any(name in metric_names(grafana_query(q)) for q in queries)
            }
        )
        alerting = sorted({alert["alert"] for alert in alerts if name in metric_names(alert["expr"])})
        source = _short(rule["expr"]).replace("|", "\\|")
        labels = ", ".join(known[name]) or "—"
        lines.append(f"| `{name}` | {labels} | `{source}` | {_cell(_dedupe_titles(users))} | {_cell(alerting)} |")
    return "\n".join(lines)


def _generic(title: str) -> str:
    """A panel title without what differs per environment (its name, thresholds, budget)."""
    return re.sub(r" \((SLO|alert at|target|budget)[^)]*\)", "", title).replace(" (prod)", " (<env>)")


def _dedupe_titles(users: list[str]) -> list[str]:
    return list(dict.fromkeys(_generic(user) for user in users))


def _threshold(rule: dict[str, Any]) -> str:
    match = COMPARISON.search(rule["expr"])
    return f"{match.group(1)} {match.group(2)}" if match else "?"


def alerts_table(rendered: dict[str, str]) -> str:
    header = "| alert | severity | for | measures | " + " | ".join(ENVIRONMENT_NAMES) + " |"
    lines = [header, "| --- | --- | --- | --- | " + " | ".join("---" for _ in ENVIRONMENT_NAMES) + " |"]
    by_env = {env: _rules(rendered, env, "alerts.rules.yml") for env in ENVIRONMENT_NAMES}
    for spec in ALERTS:
        cells = []
        first: dict[str, Any] | None = None
        for environment in ENVIRONMENT_NAMES:
            rules = [rule for rule in by_env[environment] if rule["alert"] == spec.name]
            first = first or (rules[0] if rules else None)
            if not rules:
                cells.append("not generated")
            elif "task" in rules[0]["labels"]:
                cells.append("<br>".join(f"{rule['labels']['task']} {_threshold(rule)}" for rule in rules))
            else:
                cells.append(_threshold(rules[0]))
        for_ = first["for"] if first else "—"
        lines.append(
            f"| [`{spec.name}`](runbooks/{spec.runbook}.md) | {spec.severity} | {for_} | {ALERT_MEANINGS[spec.name]} | "
            + " | ".join(cells)
            + " |"
        )
    return "\n".join(lines)


def dashboards_table(rendered: dict[str, str]) -> str:
    lines = ["| dashboard (file, uid `llm-gateway-<env>-<file>`) | panels |", "| --- | --- |"]
    for name in DASHBOARDS:
        titles = [title for board, title, _ in _panels(rendered, "prod") if board == name]
        lines.append(f"| `{name}` | {'; '.join(_dedupe_titles(titles))} |")
    return "\n".join(lines)


def _readme_alerts(rendered: dict[str, str]) -> str:
    return alerts_table(rendered).replace("](runbooks/", "](docs/runbooks/")


BLOCKS = {
    METRICS_DOC: {"recorded-series": recorded_series_table, "alerts": alerts_table, "dashboards": dashboards_table},
    README: {"alerts": _readme_alerts, "dashboards": dashboards_table},
}


def updated(text: str, blocks: dict[str, str], path: Path) -> str:
    for name, body in blocks.items():
        begin, end = f"<!-- BEGIN generated:{name} -->", f"<!-- END generated:{name} -->"
        if begin not in text or end not in text:
            raise SystemExit(f"{path.relative_to(ROOT)}: no {begin} ... {end} block")
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        text = f"{head}{begin}\n{body}\n{end}{tail}"
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.metrics_doc", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a generated table is stale")
    args = parser.parse_args(argv)
    rendered = render(load_spec(DEFAULT_SPEC))
    stale = []
    for path, renderers in BLOCKS.items():
        text = path.read_text(encoding="utf-8")
        new = updated(text, {name: renderer(rendered) for name, renderer in renderers.items()}, path)
        if new != text:
            stale.append(str(path.relative_to(ROOT)))
            if not args.check:
                path.write_text(new, encoding="utf-8")
    if args.check and stale:
        print(f"stale generated tables in {', '.join(stale)} (run `python -m tools.metrics_doc`)", file=sys.stderr)
        return 1
    print(f"{'updated' if stale else 'current'}: {', '.join(str(p.relative_to(ROOT)) for p in BLOCKS)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
