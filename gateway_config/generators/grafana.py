"""Grafana dashboards for one environment, built with the official grafana-foundation-sdk.

Five dashboards (provider comparison, cost optimization, performance trending, cache effectiveness,
experiments), each with the variables `datasource`, `provider` and `task`; every panel query selects
`task=~"$task"` and, where the series has a provider, `provider=~"$provider"`. The queries read the
recorded series of gateway_config/generators/prometheus.py (docs/metrics.md), plus a few LiteLLM
series directly. Each dashboard starts with the routing the spec gives the environment today.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from grafana_foundation_sdk.builders import dashboard, prometheus, stat, text, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import DataSourceRef, GridPos, VariableRefresh, VariableSort
from grafana_foundation_sdk.models.text import TextMode

from gateway_config.generators.deployments import Deployment, experiment_arms
from gateway_config.resolve import ResolvedEnvironment

DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")
TASK = 'task=~"$task"'
TASK_PROVIDER = 'task=~"$task", provider=~"$provider"'
# The dashboard names, in the order the README lists them.
DASHBOARDS = ("provider-comparison", "cost-optimization", "performance-trending", "cache-effectiveness", "experiments")
FULL_WIDTH, HALF_WIDTH, PANEL_HEIGHT = 24, 12, 8


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str


@dataclass
class _Layout:
    """Panel ids and grid positions: two panels a row, in the order they are added."""

    next_id: int = 1
    x: int = 0
    y: int = 0

    def place(self, width: int, height: int) -> tuple[int, GridPos]:
        if self.x + width > FULL_WIDTH:
            self.x, self.y = 0, self.y + PANEL_HEIGHT
        position = GridPos(h=height, w=width, x=self.x, y=self.y)
        self.x += width
        panel_id, self.next_id = self.next_id, self.next_id + 1
        return panel_id, position

    def new_row(self) -> tuple[int, GridPos]:
        if self.x:
            self.x, self.y = 0, self.y + PANEL_HEIGHT
        position = GridPos(h=1, w=FULL_WIDTH, x=0, y=self.y)
        self.y += 1
        panel_id, self.next_id = self.next_id, self.next_id + 1
        return panel_id, position


def _targets(builder: Any, queries: Sequence[Query]) -> Any:
    for index, query in enumerate(queries):
        builder = builder.with_target(
            prometheus.Dataquery().expr(query.expr).legend_format(query.legend).ref_id(chr(ord("A") + index))
        )
    return builder


def _timeseries(layout: _Layout, title: str, unit: str, queries: Sequence[Query], description: str) -> Any:
    panel_id, position = layout.place(HALF_WIDTH, PANEL_HEIGHT)
    panel = (
        timeseries.Panel()
        .id(panel_id)
        .grid_pos(position)
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .min(0)
    )
    return _targets(panel, queries)


def _stat(layout: _Layout, title: str, unit: str, queries: Sequence[Query], description: str) -> Any:
    panel_id, position = layout.place(HALF_WIDTH, PANEL_HEIGHT)
    panel = (
        stat.Panel()
        .id(panel_id)
        .grid_pos(position)
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
    )
    return _targets(panel, queries)


def _row(layout: _Layout, title: str) -> Any:
    panel_id, position = layout.new_row()
    return dashboard.Row(title).id(panel_id).grid_pos(position)


def routing_markdown(environment: ResolvedEnvironment) -> str:
    """What the spec routes in this environment today: task -> tier -> traffic branches and their chains."""
    lines = [
        f"Routing of **{environment.name}** as the spec states it (gateway_config/routing.yaml). "
        "Change it by pull request; `make diff` shows the change.",
        "",
        "| task | tier | branch | traffic | targets, in fallback order |",
        "| --- | --- | --- | --- | --- |",
    ]
    for task in environment.tasks:
        for branch in task.branches:
            chain = " -> ".join(target.label for target in branch.chain)
            lines.append(f"| {task.name} | {task.tier} | {branch.label} | {branch.percent:g}% | {chain} |")
    return "\n".join(lines) + "\n"


def _routing_panel(layout: _Layout, environment: ResolvedEnvironment) -> Any:
    panel_id, position = layout.place(FULL_WIDTH, PANEL_HEIGHT)
    return (
        text.Panel()
        .id(panel_id)
        .grid_pos(position)
        .title(f"Routing today ({environment.name})")
        .mode(TextMode.MARKDOWN)
        .content(routing_markdown(environment))
    )


def _variable(name: str, label: str) -> Any:
    return (
        dashboard.QueryVariable(name)
        .label(label)
        .datasource(DATASOURCE)
        .query(f"label_values(llm_gateway:requests:rate5m, {name})")
        .multi(True)
        .include_all(True)
        .all_value(".*")
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(VariableSort.ALPHABETICAL_ASC)
    )


def _dashboard(
    environment: ResolvedEnvironment,
    layout: _Layout,
    name: str,
    title: str,
    description: str,
    first_row: str | None = None,
) -> Any:
    """A dashboard with the shared variables, opening with the routing panel (then ``first_row``)."""
    board = (
        dashboard.Dashboard(f"LLM gateway / {title} ({environment.name})")
        .uid(f"llm-gateway-{environment.name}-{name}")
        .description(description)
        .tags(["llm-gateway", environment.name])
        .refresh("1m")
        .time("now-6h", "now")
        .timezone("utc")
        .with_variable(dashboard.DatasourceVariable("datasource").label("Data source").type("prometheus"))
        .with_variable(_variable("provider", "Provider"))
        .with_variable(_variable("task", "Task"))
        .with_panel(_routing_panel(layout, environment))
    )
    return board if first_row is None else board.with_row(_row(layout, first_row))


def _with_panels(board: Any, panels: Sequence[Any]) -> Any:
    for panel in panels:
        board = board.with_panel(panel)
    return board


def provider_comparison(environment: ResolvedEnvironment) -> Any:
    layout = _Layout()
    board = _dashboard(
        environment,
        layout,
        "provider-comparison",
        "Provider comparison",
        "Traffic, errors, latency and cost per provider",
        first_row="Providers",
    )
    panels = [
        _timeseries(
            layout,
            "Requests per second by provider",
            "reqps",
            [Query(f"sum by (provider) (llm_gateway:requests:rate5m{{{TASK_PROVIDER}}})", "{{provider}}")],
            "Client requests answered by each provider (the deployment that served them).",
        ),
        _timeseries(
            layout,
            "Error ratio by provider",
            "percentunit",
            [
                Query(
                    f"(sum by (provider) (llm_gateway:request_errors:rate5m{{{TASK_PROVIDER}}}) or "
                    f"sum by (provider) (llm_gateway:requests:rate5m{{{TASK_PROVIDER}}}) * 0) / "
                    f"sum by (provider) (llm_gateway:requests:rate5m{{{TASK_PROVIDER}}})",
                    "{{provider}}",
                )
            ],
            "Requests answered 5xx, 408 or 429 or refused while every target cools down, by the provider of "
            "the last deployment tried.",
        ),
        _timeseries(
            layout,
            "p95 latency by provider",
            "s",
            [
                Query(
                    "histogram_quantile(0.95, sum by (provider, le) "
                    f"(llm_gateway:request_duration_seconds_bucket:rate5m{{{TASK_PROVIDER}}}))",
                    "{{provider}}",
                )
            ],
            "End-to-end latency of successful requests.",
        ),
        _timeseries(
            layout,
            "Cost per request by provider",
            "currencyUSD",
            [
                Query(
                    f"sum by (provider) (llm_gateway:spend_usd:rate5m{{{TASK_PROVIDER}}}) / "
                    f"sum by (provider) (llm_gateway:requests:rate5m{{{TASK_PROVIDER}}})",
                    "{{provider}}",
                )
            ],
            "Spend at the prices the generated LiteLLM config states, per request.",
        ),
        _timeseries(
            layout,
            "Failed attempts by deployment",
            "percentunit",
            [Query(f"llm_gateway:deployment_failure_ratio:rate5m{{{TASK_PROVIDER}}}", "{{deployment}}")],
            "Share of attempts on each deployment (task/target) that failed, fallbacks and retries included.",
        ),
        _timeseries(
            layout,
            "Deployment state (0 healthy, 1 partial outage, 2 outage)",
            "short",
            [
                Query(
                    'max by (model_id, api_provider) (litellm_deployment_state{model_id=~"($task)/.*", '
                    'api_provider=~"$provider"})',
                    "{{model_id}}",
                )
            ],
            "LiteLLM's own view of each deployment.",
        ),
    ]
    return _with_panels(board, panels)


def cost_optimization(environment: ResolvedEnvironment) -> Any:
    layout = _Layout()
    board = _dashboard(
        environment,
        layout,
        "cost-optimization",
        "Cost optimization",
        "Spend, budgets and cost per request",
        first_row="Spend",
    )
    budget = environment.budget_usd_monthly
    panels = [
        _stat(
            layout,
            f"Month to date and projection (budget ${budget:g})",
            "currencyUSD",
            [
                Query(f"sum(llm_gateway:spend_usd:month_to_date{{{TASK}}})", "month to date"),
                Query(f"sum(llm_gateway:spend_usd:month_projection{{{TASK}}})", "projected month"),
            ],
            f"Spend this calendar month (UTC) and the month at the last hour's rate; the {environment.name} "
            f"budget is ${budget:g} a month.",
        ),
        _timeseries(
            layout,
            "Spend per hour by task",
            "currencyUSD",
            [Query(f"sum by (task) (llm_gateway:spend_usd:rate5m{{{TASK_PROVIDER}}}) * 3600", "{{task}}")],
            "USD an hour at the last 5 minutes' rate.",
        ),
        _timeseries(
            layout,
            "Spend over the last 24 hours by task",
            "currencyUSD",
            [Query(f"llm_gateway:spend_usd:increase1d{{{TASK}}}", "{{task}}")],
            "Rolling one-day spend.",
        ),
        _timeseries(
            layout,
            "Cost per 1K requests by task",
            "currencyUSD",
            [Query(f"llm_gateway:cost_per_1k_requests_usd:rate5m{{{TASK}}}", "{{task}}")],
            "What a thousand requests of each task cost at the current mix of targets.",
        ),
        _timeseries(
            layout,
            "Spend per hour by model",
            "currencyUSD",
            [
                Query(
                    f"sum by (provider, model) (llm_gateway:spend_usd:rate5m{{{TASK_PROVIDER}}}) * 3600",
                    "{{provider}}/{{model}}",
                )
            ],
            "Which models the money goes to.",
        ),
        _timeseries(
            layout,
            "Tokens per second by model",
            "short",
            [
                Query(
                    'sum by (api_provider, model) (rate(litellm_total_tokens_metric_total{requested_model=~"$task", '
                    'api_provider=~"$provider"}[$__rate_interval]))',
                    "{{api_provider}}/{{model}}",
                )
            ],
            "Input plus output tokens, from LiteLLM's counter.",
        ),
    ]
    return _with_panels(board, panels)


def performance_trending(environment: ResolvedEnvironment) -> Any:
    layout = _Layout()
    slos = environment.slos
    board = _dashboard(
        environment,
        layout,
        "performance-trending",
        "Performance trending",
        "Latency, errors, fallbacks and overhead",
        first_row="Latency and errors",
    )
    panels = [
        _timeseries(
            layout,
            f"Latency p50 / p95 / p99 by task (SLO p95 {slos.p95_latency_seconds:g} s)",
            "s",
            [
                Query(f"llm_gateway:request_duration_seconds:{name}_rate5m{{{TASK}}}", "{{task}} " + name)
                for name in ("p50", "p95", "p99")
            ],
            "End-to-end latency of successful requests, from LiteLLM's histogram.",
        ),
        _timeseries(
            layout,
            f"Error ratio by task (SLO {slos.error_rate_percent:g}%)",
            "percentunit",
            [Query(f"llm_gateway:request_error_ratio:rate5m{{{TASK}}}", "{{task}}")],
            "Requests answered 5xx, 408 or 429 or refused while every target cools down.",
        ),
        _timeseries(
            layout,
            f"Fallback ratio by task (alert at {environment.observability.fallback_rate_percent:g}%)",
            "percentunit",
            [Query(f"llm_gateway:fallback_ratio:rate5m{{{TASK}}}", "{{task}}")],
            "Requests served by a fallback target (LiteLLM order > 1) instead of a first choice.",
        ),
        _timeseries(
            layout,
            f"Gateway overhead p95 by task (SLO {slos.gateway_overhead_ms:g} ms)",
            "s",
            [Query(f"llm_gateway:overhead_seconds:p95_rate5m{{{TASK}}}", "{{task}}")],
            "Time LiteLLM itself adds to a request, without the provider call.",
        ),
        _timeseries(
            layout,
            "Requests per second by task",
            "reqps",
            [Query(f"sum by (task) (llm_gateway:requests:rate5m{{{TASK_PROVIDER}}})", "{{task}}")],
            "Client requests, by task.",
        ),
        _timeseries(
            layout,
            "Requests per second by model",
            "reqps",
            [
                Query(
                    f"sum by (provider, model) (llm_gateway:requests:rate5m{{{TASK_PROVIDER}}})",
                    "{{provider}}/{{model}}",
                )
            ],
            "Client requests, by the model that answered.",
        ),
    ]
    return _with_panels(board, panels)


def cache_effectiveness(environment: ResolvedEnvironment) -> Any:
    layout = _Layout()
    target = environment.slos.cache_hit_rate_percent
    board = _dashboard(
        environment,
        layout,
        "cache-effectiveness",
        "Cache effectiveness",
        "Cache hits and what they save",
        first_row="Cache",
    )
    modes = ", ".join(f"{task.name}: {task.cache.mode}" for task in environment.gateway_tasks)
    panels = [
        _timeseries(
            layout,
            f"Cache hit ratio by task (target {target:g}%)",
            "percentunit",
            [Query(f"llm_gateway:cache_hit_ratio:rate5m{{{TASK}}}", "{{task}}")],
            f"Requests answered from the cache. Cache per task in {environment.name}: {modes}.",
        ),
        _timeseries(
            layout,
            "Cache hits per second by task",
            "reqps",
            [Query(f"sum by (task) (llm_gateway:cache_hits:rate5m{{{TASK_PROVIDER}}})", "{{task}}")],
            "Hits counted by LiteLLM.",
        ),
        _timeseries(
            layout,
            "Estimated spend saved per hour by task",
            "currencyUSD",
            [
                Query(
                    f"sum by (task) (llm_gateway:cache_hits:rate5m{{{TASK_PROVIDER}}}) * on (task) "
                    f"llm_gateway:cost_per_request_usd:rate5m{{{TASK}}} * 3600",
                    "{{task}}",
                )
            ],
            "Hits priced at the task's current cost per request.",
        ),
        _timeseries(
            layout,
            "Requests answered by the cache and by providers",
            "reqps",
            [
                Query(f"sum(llm_gateway:cache_hits:rate5m{{{TASK_PROVIDER}}})", "cache"),
                Query(
                    f"sum(llm_gateway:requests:rate5m{{{TASK_PROVIDER}}}) - "
                    f"(sum(llm_gateway:cache_hits:rate5m{{{TASK_PROVIDER}}}) or vector(0))",
                    "providers",
                ),
            ],
            "What the cache takes off the providers.",
        ),
    ]
    return _with_panels(board, panels)


def _arm_queries(task: str, ids: list[str], label: str) -> dict[str, Query]:
    # Two matchers on `task`: the experiment's own, and the dashboard's `$task` (which can hide it).
    selector = f'task="{task}", {TASK}, deployment=~"{"|".join(ids)}"'
    return {
        "share": Query(
            f"sum(llm_gateway:requests:rate5m{{{selector}}}) / "
            f'sum(llm_gateway:requests:rate5m{{task="{task}", {TASK}}})',
            label,
        ),
        "errors": Query(
            f"(sum(llm_gateway:request_errors:rate5m{{{selector}}}) or vector(0)) / "
            f"sum(llm_gateway:requests:rate5m{{{selector}}})",
            label,
        ),
        "latency": Query(
            f"histogram_quantile(0.95, sum by (le) (llm_gateway:request_duration_seconds_bucket:rate5m{{{selector}}}))",
            label,
        ),
        "cost": Query(
            f"sum(llm_gateway:spend_usd:rate5m{{{selector}}}) / sum(llm_gateway:requests:rate5m{{{selector}}})", label
        ),
    }


def experiments(environment: ResolvedEnvironment, deployments: tuple[Deployment, ...]) -> Any:
    layout = _Layout()
    board = _dashboard(
        environment, layout, "experiments", "Experiments", "Each experiment's variant against its control"
    )
    running = [(task, experiment) for task in environment.gateway_tasks for experiment in task.experiments]
    if not running:
        panel_id, position = layout.place(FULL_WIDTH, 4)
        return board.with_panel(
            text.Panel()
            .id(panel_id)
            .grid_pos(position)
            .title("No experiments")
            .mode(TextMode.MARKDOWN)
            .content(f"The spec runs no experiment in {environment.name}.\n")
        )
    for task, experiment in running:
        arms = experiment_arms(deployments, task.name, experiment.name)
        variant = _arm_queries(task.name, arms["variant"], "variant")
        control = _arm_queries(task.name, arms["control"], "control")
        share = f"{experiment.traffic_percent:g}%"
        title = f"{experiment.name}: {task.name}, {experiment.variant} on {share} ({experiment.kind})"
        board = board.with_row(_row(layout, title))
        for key, name, unit in (
            ("share", "Traffic share", "percentunit"),
            ("errors", "Error ratio", "percentunit"),
            ("latency", "p95 latency", "s"),
            ("cost", "Cost per request", "currencyUSD"),
        ):
            board = board.with_panel(
                _timeseries(
                    layout,
                    f"{name}: variant vs control",
                    unit,
                    [variant[key], control[key]],
                    f"Variant deployments: {', '.join(arms['variant'])}; control: {', '.join(arms['control'])}.",
                )
            )
    return board


def dashboards(environment: ResolvedEnvironment, deployments: tuple[Deployment, ...]) -> dict[str, str]:
    """`<dashboard>.json` -> dashboard JSON text, for one environment.

    The file names are the same in every environment (so `make diff` folds environments whose
    change is the same); the dashboards' uids (`llm-gateway-<env>-<dashboard>`) are not, so one
    Grafana can hold every environment's."""
    built = {
        "provider-comparison": provider_comparison(environment),
        "cost-optimization": cost_optimization(environment),
        "performance-trending": performance_trending(environment),
        "cache-effectiveness": cache_effectiveness(environment),
        "experiments": experiments(environment, deployments),
    }
    encoder = JSONEncoder(sort_keys=True, indent=2, ensure_ascii=False)
    return {f"{name}.json": encoder.encode(built[name].build()) + "\n" for name in DASHBOARDS}
