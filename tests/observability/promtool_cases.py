"""`promtool test rules` files for the generated rules, built from the same resolved environment.

Inputs are LiteLLM's own series (the labels a real proxy exports, docs/metrics.md), so every case
goes through the recording rules before it reaches an alert. For each alert there are three cases:
it fires (at twice its threshold, past its `for`), it stays quiet on the good side of the
threshold, and it stays quiet while the condition has held for less than its `for`. The expected
annotations are the rule's own templates with the hand-computed values written in, formatted the
way Prometheus's `humanize*` functions format them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gateway_config.generators.deployments import Deployment, gateway_deployments
from gateway_config.generators.prometheus import (
    BUDGET,
    CACHE,
    DEPLOYMENT_DOWN,
    ERROR_RATE,
    FALLBACK,
    LATENCY,
    OVERHEAD,
    PROVIDER_DOWN,
    TASK_BUDGET,
)
from gateway_config.resolve import ResolvedEnvironment

# Seconds in January, the month promtool's clock starts in (t = 0 is 1970-01-01T00:00:00Z).
JANUARY_SECONDS = 31 * 86400
MINUTES = 200  # every input series runs this long: past the last eval_time of any case


# --- Prometheus's template functions (prometheus/template/template.go) ------------------------------


def _g4(value: float) -> str:
    return f"{value:.4g}"


def humanize(value: float) -> str:
    if value == 0 or math.isnan(value) or math.isinf(value):
        return _g4(value)
    prefix = ""
    if abs(value) >= 1:
        for candidate in ("k", "M", "G", "T", "P", "E", "Z", "Y"):
            if abs(value) < 1000:
                break
            prefix, value = candidate, value / 1000
    else:
        for candidate in ("m", "u", "n", "p", "f", "a", "z", "y"):
            if abs(value) >= 1:
                break
            prefix, value = candidate, value * 1000
    return _g4(value) + prefix


def humanize_percentage(value: float) -> str:
    return _g4(value * 100) + "%"


def humanize_duration(value: float) -> str:
    if value >= 60:
        raise ValueError("the cases keep durations under a minute")
    if value >= 1:
        return _g4(value) + "s"
    prefix = ""
    for candidate in ("m", "u", "n"):
        if abs(value) >= 1:
            break
        prefix, value = candidate, value * 1000
    return f"{_g4(value)}{prefix}s"


FORMATS: dict[str, Callable[[float], str]] = {
    "humanize": humanize,
    "humanizePercentage": humanize_percentage,
    "humanizeDuration": humanize_duration,
}


def render_template(template: str, value: float, labels: dict[str, str]) -> str:
    """The subset of Go templates the generated annotations use: `$value | fn` and `$labels.name`."""

    def replace(match: re.Match[str]) -> str:
        expression = match.group(1).strip()
        if expression.startswith("$labels."):
            return labels[expression.removeprefix("$labels.")]
        subject, _, function = (part.strip() for part in expression.partition("|"))
        if subject != "$value":
            raise ValueError(f"unsupported template expression {expression!r}")
        return FORMATS[function](value) if function else str(value)

    return re.sub(r"\{\{(.*?)\}\}", replace, template)


# --- LiteLLM's series, as a real proxy labels them --------------------------------------------------


def _selector(name: str, labels: dict[str, str]) -> str:
    return name + "{" + ", ".join(f'{key}="{value}"' for key, value in sorted(labels.items())) + "}"


def counter(name: str, labels: dict[str, str], per_minute: float, minutes: int = MINUTES) -> dict[str, str]:
    return {"series": _selector(name, labels), "values": f"0+{per_minute:g}x{minutes}"}


@dataclass(frozen=True)
class Target:
    """A deployment with the labels its series carry."""

    task: str
    deployment: str
    provider: str
    model: str


def targets(environment: ResolvedEnvironment) -> dict[str, Target]:
    provider_of = {target.model: target.provider for task in environment.tasks for target in task.targets}
    return {
        deployment.deployment_id: Target(
            deployment.task, deployment.deployment_id, provider_of[deployment.target_model], deployment.target_model
        )
        for deployment in gateway_deployments(environment)
    }


def requests(target: Target, per_minute: float, status: str = "200") -> dict[str, str]:
    labels = {
        "requested_model": target.task,
        "api_provider": target.provider,
        "model_id": target.deployment,
        "status_code": status,
    }
    return counter("litellm_proxy_total_requests_metric_total", labels, per_minute)


def histogram(name: str, task_label: str, target: Target, buckets: dict[str, float]) -> list[dict[str, str]]:
    """Cumulative bucket counters: `buckets` maps `le` to observations per minute up to that bound."""
    labels = {task_label: target.task, "api_provider": target.provider, "model_id": target.deployment}
    return [counter(f"{name}_bucket", {**labels, "le": le}, per_minute) for le, per_minute in buckets.items()]


def latency(target: Target, buckets: dict[str, float]) -> list[dict[str, str]]:
    return histogram("litellm_request_total_latency_metric", "requested_model", target, buckets)


def overhead(target: Target, buckets: dict[str, float]) -> list[dict[str, str]]:
    return histogram("litellm_overhead_latency_metric", "model_group", target, buckets)


def cache_hits(target: Target, per_minute: float) -> dict[str, str]:
    labels = {"api_provider": target.provider, "model_id": target.deployment, "model": target.model}
    return counter("litellm_cache_hits_metric_total", labels, per_minute)


def spend(target: Target, usd_per_minute: float) -> dict[str, str]:
    labels = {
        "requested_model": target.task,
        "api_provider": target.provider,
        "model_id": target.deployment,
        "model": target.model,
    }
    return counter("litellm_spend_metric_total", labels, usd_per_minute)


def attempts(target: Target, per_minute: float, failed_per_minute: float) -> list[dict[str, str]]:
    labels = {"model_group": target.task, "api_provider": target.provider, "model_id": target.deployment}
    series = [counter("litellm_deployment_total_requests_total", labels, per_minute)]
    if failed_per_minute:
        series.append(counter("litellm_deployment_failure_responses_total", labels, failed_per_minute))
    return series


# --- the cases --------------------------------------------------------------------------------------


@dataclass
class AlertCase:
    """One alert's three promtool tests."""

    alert: str
    rule: dict[str, Any]
    firing_series: list[dict[str, str]]
    quiet_series: list[dict[str, str]]
    value: float
    labels: dict[str, str]
    fire_at: str
    for_: str = field(init=False)

    def __post_init__(self) -> None:
        self.for_ = self.rule["for"]

    def expected_alert(self) -> dict[str, Any]:
        labels = {**self.labels, **self.rule["labels"]}
        annotations = {key: render_template(text, self.value, labels) for key, text in self.rule["annotations"].items()}
        return {"exp_labels": labels, "exp_annotations": annotations}

    def tests(self) -> list[dict[str, Any]]:
        def test(series: list[dict[str, str]], eval_time: str, alerts: list[dict[str, Any]]) -> dict[str, Any]:
            return {
                "interval": "1m",
                "input_series": series,
                "alert_rule_test": [{"eval_time": eval_time, "alertname": self.alert, "exp_alerts": alerts}],
            }

        return [
            test(self.firing_series, self.fire_at, [self.expected_alert()]),
            test(self.quiet_series, self.fire_at, []),
            # The condition holds from the first minute (two samples make a rate): at `for` it has
            # held for `for` minus a minute, so the alert is pending, not firing.
            test(self.firing_series, self.for_, []),
        ]


def _minutes(duration: str) -> int:
    value, unit = int(duration[:-1]), duration[-1]
    return value * {"m": 1, "h": 60}[unit]


def _after_for(rule: dict[str, Any], extra_minutes: int = 5) -> str:
    return f"{_minutes(rule['for']) + extra_minutes}m"


def _rules_by_alert(alert_groups: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    rules: dict[str, list[dict[str, Any]]] = {}
    for group in alert_groups:
        for rule in group["rules"]:
            rules.setdefault(rule["alert"], []).append(rule)
    return rules


def _pick(environment: ResolvedEnvironment) -> tuple[Target, Target, Target]:
    """A task with a fallback: its first choice, its fallback, and a target of another provider."""
    by_id = targets(environment)
    deployments: tuple[Deployment, ...] = gateway_deployments(environment)
    fallback = next(d for d in deployments if d.order > 1)
    primary = next(d for d in deployments if d.task == fallback.task and d.order == 1)
    first, second = by_id[primary.deployment_id], by_id[fallback.deployment_id]
    other = next(
        t for t in by_id.values() if t.provider not in (first.provider, second.provider) and t.task != first.task
    )
    return first, second, other


def _power_of_ten_above(value: float) -> float:
    return float(10 ** math.ceil(math.log10(value)))


def alert_cases(environment: ResolvedEnvironment, alert_groups: list[dict[str, Any]]) -> list[AlertCase]:
    rules = _rules_by_alert(alert_groups)
    slos, thresholds = environment.slos, environment.observability
    primary, fallback, other = _pick(environment)
    task = {"task": primary.task}
    cases: list[AlertCase] = []

    def add(spec_name: str, **kwargs: Any) -> None:
        (rule,) = [r for r in rules[spec_name] if r["labels"].get("task") in (None, kwargs["labels"].get("task"))]
        cases.append(AlertCase(spec_name, rule, **kwargs))

    def error_series(ratio: float) -> list[dict[str, str]]:
        return [requests(primary, 100 * (1 - ratio)), requests(primary, 100 * ratio, status="503")]

    error = 2 * slos.error_rate_percent / 100
    add(
        ERROR_RATE.name,
        firing_series=error_series(error),
        quiet_series=error_series(error / 4),
        value=error,
        labels=task,
        fire_at=_after_for(rules[ERROR_RATE.name][0]),
    )

    def latency_series(bound: float, spread: float) -> list[dict[str, str]]:
        # Every observation between `bound` and `bound * spread`: p95 = bound + 0.95 * (spread - 1) * bound.
        return [requests(primary, 60), *latency(primary, {f"{bound:g}": 0, f"{bound * spread:g}": 60, "+Inf": 60})]

    p95_slo = slos.p95_latency_seconds
    add(
        LATENCY.name,
        firing_series=latency_series(p95_slo, 3),
        quiet_series=latency_series(p95_slo / 4, 2),
        value=p95_slo + 0.95 * 2 * p95_slo,
        labels=task,
        fire_at=_after_for(rules[LATENCY.name][0]),
    )

    def fallback_series(ratio: float) -> list[dict[str, str]]:
        return [requests(primary, 100 * (1 - ratio)), requests(fallback, 100 * ratio)]

    spike = min(1.0, 2 * thresholds.fallback_rate_percent / 100)
    add(
        FALLBACK.name,
        firing_series=fallback_series(spike),
        quiet_series=fallback_series(thresholds.fallback_rate_percent / 400),
        value=spike,
        labels=task,
        fire_at=_after_for(rules[FALLBACK.name][0]),
    )

    provider_ratio = thresholds.provider_failure_rate_percent / 100
    add(
        PROVIDER_DOWN.name,
        firing_series=attempts(primary, 100, 100),
        quiet_series=[*attempts(primary, 100, 100 * provider_ratio / 2), *attempts(other, 100, 0)],
        value=1.0,
        labels={"provider": primary.provider},
        fire_at=_after_for(rules[PROVIDER_DOWN.name][0]),
    )

    deployment_ratio = min(1.0, 1.5 * thresholds.deployment_failure_rate_percent / 100)
    add(
        DEPLOYMENT_DOWN.name,
        firing_series=attempts(primary, 100, 100 * deployment_ratio),
        quiet_series=attempts(primary, 100, 100 * deployment_ratio / 3),
        value=deployment_ratio,
        labels={
            "task": primary.task,
            "provider": primary.provider,
            "model": primary.model,
            "deployment": primary.deployment,
        },
        fire_at=_after_for(rules[DEPLOYMENT_DOWN.name][0]),
    )

    if CACHE.name in rules:
        cached = next(t for t in environment.gateway_tasks if t.cache.mode != "off")
        cache_target = next(t for t in targets(environment).values() if t.task == cached.name)
        hit_target = slos.cache_hit_rate_percent / 100
        add(
            CACHE.name,
            firing_series=[requests(cache_target, 100), cache_hits(cache_target, 100 * hit_target / 2)],
            quiet_series=[requests(cache_target, 100), cache_hits(cache_target, min(100, 200 * hit_target))],
            value=hit_target / 2,
            labels={"task": cached.name},
            fire_at=_after_for(rules[CACHE.name][0]),
        )

    overhead_slo = slos.gateway_overhead_ms / 1000
    add(
        OVERHEAD.name,
        firing_series=overhead(primary, {f"{overhead_slo:g}": 0, f"{3 * overhead_slo:g}": 60, "+Inf": 60}),
        quiet_series=overhead(primary, {f"{overhead_slo / 2:g}": 60, "+Inf": 60}),
        value=overhead_slo + 0.95 * 2 * overhead_slo,
        labels=task,
        fire_at=_after_for(rules[OVERHEAD.name][0]),
    )

    # Spend at a constant rate r: from the second hour on, month-to-date + r * (rest of the month)
    # is r * (seconds in January) exactly; r is the power of ten that makes it at least twice the budget.
    if BUDGET.name in rules:
        rate = _power_of_ten_above(2 * environment.budget_usd_monthly / JANUARY_SECONDS)
        add(
            BUDGET.name,
            firing_series=[spend(primary, 60 * rate)],
            quiet_series=[spend(primary, 60 * rate / 100)],
            value=rate * JANUARY_SECONDS,
            labels={},
            fire_at="2h",
        )
    if TASK_BUDGET.name in rules:
        budgeted = next(t for t in environment.gateway_tasks if t.budget_usd_monthly and t.name == primary.task)
        assert budgeted.budget_usd_monthly is not None
        rate = _power_of_ten_above(2 * budgeted.budget_usd_monthly / JANUARY_SECONDS)
        add(
            TASK_BUDGET.name,
            firing_series=[spend(primary, 60 * rate)],
            quiet_series=[spend(primary, 60 * rate / 100)],
            value=rate * JANUARY_SECONDS,
            labels=task,
            fire_at="2h",
        )
    return cases


def promtool_file(
    rule_files: list[str], tests: list[dict[str, Any]], evaluation_interval: str = "1m"
) -> dict[str, Any]:
    return {"rule_files": rule_files, "evaluation_interval": evaluation_interval, "tests": tests}
