"""What the generated rules and dashboards read, for the docs and the tests: the metric names of a
PromQL expression, and a panel query as Grafana sends it to Prometheus."""

from __future__ import annotations

import re

import promql_parser

# Grafana's "All" for the dashboards' provider and task variables (docs/metrics.md).
ALL_VALUES = ".*"
# Grafana's built-in interval variables, by default as a dashboard over the last hour fills them in.
DEFAULT_INTERVALS = {"__rate_interval": "5m", "__interval": "1m", "__range": "1h"}


def metric_names(expr: str) -> set[str]:
    """The metric names ``expr`` selects (recorded series and raw ones alike)."""
    names: set[str] = set()

    def visit(node: object) -> None:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            names.add(node.name)

    promql_parser.walk(promql_parser.parse(expr), pre_visit=visit)
    return names


def grafana_query(expr: str, intervals: dict[str, str] | None = None) -> str:
    """``expr`` with Grafana's variables filled in (``$var`` and ``${var}``/``${var:format}``): the
    interval variables from ``intervals`` (default: :data:`DEFAULT_INTERVALS`), every other variable
    (provider, task) as "All"."""
    values = DEFAULT_INTERVALS | (intervals or {})

    def value(match: re.Match[str]) -> str:
        return values.get(match["braced"] or match["plain"], ALL_VALUES)

    return re.sub(r"\$\{(?P<braced>\w+)(?::\w+)?\}|\$(?P<plain>\w+)", value, expr)
