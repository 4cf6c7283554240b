"""Prometheus recording and alerting rules for one environment, from its resolved routes.

The LiteLLM proxy exports its own `litellm_*` series (docs/metrics.md lists the ones used here). The
recording rules translate them into the gateway's vocabulary, with the labels `task` (a LiteLLM
model group is a task), `provider`, `model` (the spec's model name) and `deployment` (`<task>/<target>`),
under names `llm_gateway:<quantity>:<window>`. The alerts read only those recorded series, with the
environment's SLOs, budgets and thresholds written into them, and carry the labels Alertmanager
routes on: `severity` (`page` | `ticket`) and `env`.

One Prometheus per environment is assumed: the expressions do not select on a namespace or job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway_config.generators.deployments import Deployment, fallback_deployment_ids
from gateway_config.resolve import ResolvedEnvironment

WINDOW = "5m"
# Status codes the error-rate SLO counts: the gateway's or a provider's failure, not the client's
# own mistake (400, 401, 403, 404, 422 are the caller's to fix and would page nobody usefully).
# "None": LiteLLM counts a request it refuses because every target is cooling down (the client gets
# 503) with no status at all (docs/runtime-facts.md); without it an outage would show one failure
# per target per cooldown, not the failure rate clients see.
ERROR_STATUS = "5..|408|429|None"
QUANTILES = {"p50": 0.5, "p95": 0.95, "p99": 0.99}


def _relabel(expr: str, task_source: str, task_regex: str = "(.+)") -> str:
    """LiteLLM's labels -> ours: task (from `task_source`), provider, deployment and model."""
    expr = f'label_replace({expr}, "task", "$1", "{task_source}", "{task_regex}")'
    expr = f'label_replace({expr}, "provider", "$1", "api_provider", "(.+)")'
    expr = f'label_replace({expr}, "deployment", "$1", "model_id", "(.+/.+)")'
    return f'label_replace({expr}, "model", "$1", "model_id", "[^/]+/([^/]+).*")'


BY_TARGET = "task, provider, model, deployment"
# Cache hits are labelled with the deployment only: the task is the first part of its id.
TASK_FROM_DEPLOYMENT = ("model_id", "([^/]+)/.+")


def _ratio(numerator: str, denominator: str, by: str) -> str:
    """numerator / denominator per `by`, 0 (not absent) where the numerator has no series yet."""
    num = f"sum by ({by}) ({numerator})"
    den = f"sum by ({by}) ({denominator})"
    return f"({num} or {den} * 0) / {den}"


def _fallback_selector(deployments: tuple[Deployment, ...]) -> str:
    ids = fallback_deployment_ids(deployments)
    # No fallback anywhere (every tier has one target): a selector that matches nothing.
    return f'model_id=~"{"|".join(ids)}"' if ids else 'model_id="none"'


def month_to_date(increase_1h: str, rate_now: str, month_clock: str) -> str:
    """Spend since the first of this month (UTC), per task.

    PromQL has no range that starts at a calendar date, so the completed hours are summed from the
    hourly increases (a subquery over the last 31 days) keeping the hours that ended in the month
    of the evaluation (`month(time() - 1)` inside the subquery, against the month of `month_clock`,
    a series recorded at the same evaluation, read `@ end()`); the current, unfinished hour is
    estimated from the recent rate.
    """
    this_month = f"month(timestamp({month_clock} @ end()))"
    completed = (
        f"sum by (task) (sum_over_time(({increase_1h} and on () (month(vector(time() - 1)) == on () {this_month}))"
        "[31d:1h]))"
    )
    partial = f"sum by (task) ({rate_now}) * on () group_left () (vector(time()) % 3600)"
    return f"(({completed}) + on (task) ({partial})) or ({completed}) or ({partial})"


def recording_rules(environment: ResolvedEnvironment, deployments: tuple[Deployment, ...]) -> list[dict[str, Any]]:
    requests = f"rate(litellm_proxy_total_requests_metric_total[{WINDOW}])"
    errors = f'rate(litellm_proxy_total_requests_metric_total{{status_code=~"{ERROR_STATUS}"}}[{WINDOW}])'
    fallbacks = (
        f'rate(litellm_proxy_total_requests_metric_total{{status_code=~"2..", {_fallback_selector(deployments)}}}'
        f"[{WINDOW}])"
    )
    latency = f"rate(litellm_request_total_latency_metric_bucket[{WINDOW}])"
    overhead = f"rate(litellm_overhead_latency_metric_bucket[{WINDOW}])"
    cache_hits = f"rate(litellm_cache_hits_metric_total[{WINDOW}])"
    spend = f"rate(litellm_spend_metric_total[{WINDOW}])"
    # A request LiteLLM rejects before routing (every deployment cooled down) is counted without a
    # deployment (`model_id` empty or "None", no `api_provider`): no deployment was tried, so it
    # says nothing about one. Our deployment ids are `<task>/<target>`.
    attempts = f'rate(litellm_deployment_total_requests_total{{model_id=~".+/.+"}}[{WINDOW}])'
    failures = f'rate(litellm_deployment_failure_responses_total{{model_id=~".+/.+"}}[{WINDOW}])'

    traffic = [
        _record("llm_gateway:requests:rate5m", f"sum by ({BY_TARGET}) ({_relabel(requests, 'requested_model')})"),
        _record("llm_gateway:request_errors:rate5m", f"sum by ({BY_TARGET}) ({_relabel(errors, 'requested_model')})"),
        _record(
            "llm_gateway:fallback_requests:rate5m", f"sum by ({BY_TARGET}) ({_relabel(fallbacks, 'requested_model')})"
        ),
        _record(
            "llm_gateway:request_error_ratio:rate5m",
            _ratio("llm_gateway:request_errors:rate5m", "llm_gateway:requests:rate5m", "task"),
        ),
        _record(
            "llm_gateway:fallback_ratio:rate5m",
            _ratio("llm_gateway:fallback_requests:rate5m", "llm_gateway:requests:rate5m", "task"),
        ),
    ]
    latency_rules = [
        _record(
            "llm_gateway:request_duration_seconds_bucket:rate5m",
            f"sum by ({BY_TARGET}, le) ({_relabel(latency, 'requested_model')})",
        ),
        *(
            _record(
                f"llm_gateway:request_duration_seconds:{name}_rate5m",
                f"histogram_quantile({quantile}, "
                "sum by (task, le) (llm_gateway:request_duration_seconds_bucket:rate5m))",
            )
            for name, quantile in QUANTILES.items()
        ),
        _record(
            "llm_gateway:overhead_seconds_bucket:rate5m",
            f"sum by ({BY_TARGET}, le) ({_relabel(overhead, 'model_group')})",
        ),
        _record(
            "llm_gateway:overhead_seconds:p95_rate5m",
            "histogram_quantile(0.95, sum by (task, le) (llm_gateway:overhead_seconds_bucket:rate5m))",
        ),
    ]
    cache = [
        _record(
            "llm_gateway:cache_hits:rate5m", f"sum by ({BY_TARGET}) ({_relabel(cache_hits, *TASK_FROM_DEPLOYMENT)})"
        ),
        _record(
            "llm_gateway:cache_hit_ratio:rate5m",
            _ratio("llm_gateway:cache_hits:rate5m", "llm_gateway:requests:rate5m", "task"),
        ),
    ]
    cost = [
        _record("llm_gateway:spend_usd:rate5m", f"sum by ({BY_TARGET}) ({_relabel(spend, 'requested_model')})"),
        _record(
            "llm_gateway:cost_per_request_usd:rate5m",
            "sum by (task) (llm_gateway:spend_usd:rate5m) / sum by (task) (llm_gateway:requests:rate5m)",
        ),
        _record("llm_gateway:cost_per_1k_requests_usd:rate5m", "1000 * llm_gateway:cost_per_request_usd:rate5m"),
        _record(
            "llm_gateway:spend_usd:rate1h",
            f"sum by (task) ({_relabel('rate(litellm_spend_metric_total[1h])', 'requested_model')})",
        ),
        _record(
            "llm_gateway:spend_usd:increase1h",
            f"sum by (task) ({_relabel('increase(litellm_spend_metric_total[1h])', 'requested_model')})",
        ),
        _record(
            "llm_gateway:spend_usd:increase1d",
            f"sum by (task) ({_relabel('increase(litellm_spend_metric_total[1d])', 'requested_model')})",
        ),
        _record("llm_gateway:month_seconds", "days_in_month() * 86400"),
        _record(
            "llm_gateway:month_seconds_remaining",
            "days_in_month() * 86400 - ((day_of_month() - 1) * 86400 + hour() * 3600 + minute() * 60)",
        ),
        _record(
            "llm_gateway:spend_usd:month_to_date",
            month_to_date(
                "llm_gateway:spend_usd:increase1h", "llm_gateway:spend_usd:rate5m", "llm_gateway:month_seconds"
            ),
        ),
        _record(
            "llm_gateway:spend_usd:month_projection",
            "llm_gateway:spend_usd:month_to_date + on (task) "
            "(llm_gateway:spend_usd:rate1h * on () group_left () llm_gateway:month_seconds_remaining)",
        ),
        _record("llm_gateway:environment_spend_usd:month_to_date", "sum(llm_gateway:spend_usd:month_to_date)"),
        _record("llm_gateway:environment_spend_usd:month_projection", "sum(llm_gateway:spend_usd:month_projection)"),
    ]
    health = [
        _record(
            "llm_gateway:deployment_attempts:rate5m", f"sum by ({BY_TARGET}) ({_relabel(attempts, 'model_group')})"
        ),
        _record(
            "llm_gateway:deployment_failures:rate5m", f"sum by ({BY_TARGET}) ({_relabel(failures, 'model_group')})"
        ),
        _record(
            "llm_gateway:deployment_failure_ratio:rate5m",
            _ratio("llm_gateway:deployment_failures:rate5m", "llm_gateway:deployment_attempts:rate5m", BY_TARGET),
        ),
        _record(
            "llm_gateway:provider_failure_ratio:rate5m",
            _ratio("llm_gateway:deployment_failures:rate5m", "llm_gateway:deployment_attempts:rate5m", "provider"),
        ),
    ]
    # Groups run in parallel, rules inside a group in order: each group records its inputs first.
    return [
        {"name": "llm-gateway-traffic", "rules": traffic},
        {"name": "llm-gateway-latency", "rules": latency_rules},
        {"name": "llm-gateway-cache", "rules": cache},
        {"name": "llm-gateway-cost", "rules": cost},
        {"name": "llm-gateway-deployments", "rules": health},
    ]


def _record(name: str, expr: str) -> dict[str, Any]:
    return {"record": name, "expr": expr}


@dataclass(frozen=True)
class AlertSpec:
    """An alert's stable name, its severity and the runbook (docs/runbooks/<runbook>.md) it links to."""

    name: str
    severity: str
    runbook: str


ERROR_RATE = AlertSpec("LLMGatewayErrorRateHigh", "page", "error-rate-high")
LATENCY = AlertSpec("LLMGatewayLatencyP95High", "page", "latency-p95-high")
FALLBACK = AlertSpec("LLMGatewayFallbackSpike", "ticket", "fallback-spike")
PROVIDER_DOWN = AlertSpec("LLMGatewayProviderDown", "page", "provider-down")
DEPLOYMENT_DOWN = AlertSpec("LLMGatewayDeploymentDown", "ticket", "deployment-down")
CACHE = AlertSpec("LLMGatewayCacheHitRateLow", "ticket", "cache-hit-rate-low")
OVERHEAD = AlertSpec("LLMGatewayOverheadHigh", "ticket", "gateway-overhead-high")
BUDGET = AlertSpec("LLMGatewayBudgetProjectedOverrun", "page", "budget-projected-overrun")
TASK_BUDGET = AlertSpec("LLMGatewayTaskBudgetBurn", "ticket", "task-budget-burn")
ALERTS = (ERROR_RATE, LATENCY, FALLBACK, PROVIDER_DOWN, DEPLOYMENT_DOWN, CACHE, OVERHEAD, BUDGET, TASK_BUDGET)


def _number(value: float) -> str:
    """A threshold as PromQL and people read it: 0.01, 10, 1500 (no trailing .0)."""
    return f"{value:g}" if value == int(value) or abs(value) >= 1e-4 else repr(value)


def _alert(
    spec: AlertSpec,
    environment: ResolvedEnvironment,
    expr: str,
    for_: str,
    summary: str,
    description: str,
    extra_labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "alert": spec.name,
        "expr": expr,
        "for": for_,
        "labels": {"severity": spec.severity, "env": environment.name, **(extra_labels or {})},
        "annotations": {
            "summary": summary,
            "description": description,
            "runbook_url": f"{environment.observability.runbook_base_url}/{spec.runbook}.md",
        },
    }


def alert_rules(environment: ResolvedEnvironment) -> list[dict[str, Any]]:
    slos = environment.slos
    thresholds = environment.observability
    env = environment.name
    error_ratio = slos.error_rate_percent / 100
    fallback_ratio = thresholds.fallback_rate_percent / 100
    cache_ratio = slos.cache_hit_rate_percent / 100
    overhead_seconds = slos.gateway_overhead_ms / 1000
    cached_tasks = sorted(task.name for task in environment.gateway_tasks if task.cache.mode != "off")

    service = [
        _alert(
            ERROR_RATE,
            environment,
            f"llm_gateway:request_error_ratio:rate5m > {_number(error_ratio)}",
            "5m",
            "{{ $labels.task }}: " + f"{{{{ $value | humanizePercentage }}}} of requests fail in {env}",
            "{{ $value | humanizePercentage }} of the requests of task {{ $labels.task }} answered 5xx, 408 or 429 "
            "or refused while every target cools down "
            "over the last 5 minutes (value {{ $value | humanize }}); "
            f"the SLO is {_number(slos.error_rate_percent)}%.",
        ),
        _alert(
            LATENCY,
            environment,
            f"llm_gateway:request_duration_seconds:p95_rate5m > {_number(slos.p95_latency_seconds)}",
            "10m",
            "{{ $labels.task }}: p95 latency {{ $value | humanizeDuration }} in " + env,
            "The 95th percentile of the end-to-end latency of task {{ $labels.task }} is {{ $value | humanize }} s "
            f"over the last 5 minutes; the SLO is {_number(slos.p95_latency_seconds)} s.",
        ),
        _alert(
            FALLBACK,
            environment,
            f"llm_gateway:fallback_ratio:rate5m > {_number(fallback_ratio)}",
            "5m",
            "{{ $labels.task }}: {{ $value | humanizePercentage }} of requests served by a fallback in " + env,
            "{{ $value | humanizePercentage }} (value {{ $value | humanize }}) of the requests of task "
            "{{ $labels.task }} were answered by a fallback target rather than their first choice over the "
            f"last 5 minutes; the threshold is {_number(thresholds.fallback_rate_percent)}%. A first-choice "
            "target is failing or cooled down.",
        ),
        _alert(
            PROVIDER_DOWN,
            environment,
            f"llm_gateway:provider_failure_ratio:rate5m > {_number(thresholds.provider_failure_rate_percent / 100)}",
            "2m",
            "{{ $labels.provider }} is down in " + env + ": {{ $value | humanizePercentage }} of attempts fail",
            "{{ $value | humanizePercentage }} (value {{ $value | humanize }}) of the gateway's attempts on provider "
            "{{ $labels.provider }} failed over the last 5 minutes; the threshold is "
            f"{_number(thresholds.provider_failure_rate_percent)}%. Every task whose route reaches it is "
            "running on its fallbacks, or failing where it has none.",
        ),
        _alert(
            DEPLOYMENT_DOWN,
            environment,
            "llm_gateway:deployment_failure_ratio:rate5m > "
            f"{_number(thresholds.deployment_failure_rate_percent / 100)}",
            "5m",
            "{{ $labels.deployment }} fails {{ $value | humanizePercentage }} of attempts in " + env,
            "Deployment {{ $labels.deployment }} (task {{ $labels.task }}, provider {{ $labels.provider }}, model "
            "{{ $labels.model }}) failed {{ $value | humanizePercentage }} (value {{ $value | humanize }}) of its "
            "attempts over the last 5 minutes; "
            f"the threshold is {_number(thresholds.deployment_failure_rate_percent)}%.",
        ),
        _alert(
            OVERHEAD,
            environment,
            f"llm_gateway:overhead_seconds:p95_rate5m > {_number(overhead_seconds)}",
            "15m",
            "{{ $labels.task }}: gateway overhead p95 {{ $value | humanizeDuration }} in " + env,
            "The gateway's own processing time (LiteLLM overhead, without the provider call) for task "
            "{{ $labels.task }} has a p95 of {{ $value | humanize }} s over the last 5 minutes; the SLO is "
            f"{_number(slos.gateway_overhead_ms)} ms.",
        ),
    ]
    if cached_tasks:
        service.append(
            _alert(
                CACHE,
                environment,
                f'llm_gateway:cache_hit_ratio:rate5m{{task=~"{"|".join(cached_tasks)}"}} < {_number(cache_ratio)}'
                " and on (task) sum by (task) (llm_gateway:requests:rate5m) > 0",
                "1h",
                "{{ $labels.task }}: cache hit ratio {{ $value | humanizePercentage }} in " + env,
                "{{ $value | humanizePercentage }} (value {{ $value | humanize }}) of the requests of task "
                "{{ $labels.task }} were answered from the cache over the last 5 minutes, for an hour; the target "
                f"is {_number(slos.cache_hit_rate_percent)}%.",
            )
        )
    return [
        {"name": "llm-gateway-service-alerts", "rules": service},
        {"name": "llm-gateway-cost-alerts", "rules": _budget_alerts(environment)},
    ]


def _budget_alerts(environment: ResolvedEnvironment) -> list[dict[str, Any]]:
    """A budget of 0 (the `local` environment) means no money is budgeted: no cost alerts."""
    env = environment.name
    alerts = []
    budget = environment.budget_usd_monthly
    if budget > 0:
        alerts.append(
            _alert(
                BUDGET,
                environment,
                f"llm_gateway:environment_spend_usd:month_projection > {_number(budget)}",
                "30m",
                f"{env} is projected to spend " + "${{ $value | humanize }} this month, "
                f"over its ${_number(budget)} budget",
                f"Month-to-date spend plus the last hour's rate for the rest of the month comes to "
                f"${{{{ $value | humanize }}}}; the {env} budget is ${_number(budget)} a month "
                "(spent so far: see llm_gateway:environment_spend_usd:month_to_date).",
            )
        )
    for task in environment.tasks:
        task_budget = task.budget_usd_monthly
        if task_budget is None or task_budget <= 0 or task.route != "gateway":
            continue
        alerts.append(
            _alert(
                TASK_BUDGET,
                environment,
                f'llm_gateway:spend_usd:rate1h{{task="{task.name}"}} * on () group_left () llm_gateway:month_seconds'
                f" > {_number(task_budget)}",
                "1h",
                f"{task.name} burns its ${_number(task_budget)} monthly budget too fast in {env}",
                f"At the last hour's rate task {task.name} would spend ${{{{ $value | humanize }}}} in a month; "
                f"its {env} budget is ${_number(task_budget)} a month.",
                {"task": task.name},
            )
        )
    return alerts


def rule_files(environment: ResolvedEnvironment, deployments: tuple[Deployment, ...]) -> dict[str, dict[str, Any]]:
    """`<file>` -> rule file data (`groups:`), for one environment and its LiteLLM deployments."""
    return {
        "recording.rules.yml": {"groups": recording_rules(environment, deployments)},
        "alerts.rules.yml": {"groups": alert_rules(environment)},
    }
