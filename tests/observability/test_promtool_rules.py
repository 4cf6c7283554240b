"""The generated Prometheus rules, checked and unit-tested by the real promtool.

`promtool check rules` on every generated file; `promtool test rules` with three cases per alert
(promtool_cases.py) and the recording rules' values from hand-computed inputs, including the
month-to-date spend and the budget projection.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from promtool_cases import (
    JANUARY_SECONDS,
    alert_cases,
    attempts,
    cache_hits,
    counter,
    latency,
    overhead,
    promtool_file,
    spend,
    targets,
)
from promtool_cases import requests as request_series

from gateway_config.generators.prometheus import ALERTS
from gateway_config.resolve import resolve_environment
from gateway_config.spec import ENVIRONMENT_NAMES, RoutingSpec

RULE_FILES = ("recording.rules.yml", "alerts.rules.yml")


def _run(promtool: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool, *map(str, args)], capture_output=True, text=True, timeout=300, check=False)


def _test_rules(promtool: str, tmp_path: Path, name: str, data: dict[str, Any]) -> None:
    test_file = tmp_path / f"{name}.test.yml"
    test_file.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    result = _run(promtool, "test", "rules", test_file)
    assert result.returncode == 0, f"promtool test rules {name}:\n{result.stdout}\n{result.stderr}"


def _rule_paths(rules_dir: Path, environment: str) -> list[str]:
    return [str(rules_dir / environment / "prometheus" / name) for name in RULE_FILES]


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_promtool_accepts_every_generated_rule_file(promtool: str, rules_dir: Path, environment: str) -> None:
    for path in _rule_paths(rules_dir, environment):
        result = _run(promtool, "check", "rules", path)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "SUCCESS" in result.stdout


def test_promtool_rejects_a_broken_rule_file(promtool: str, tmp_path: Path) -> None:
    # The check above can fail: a rule file with a PromQL syntax error is refused.
    broken = tmp_path / "broken.rules.yml"
    broken.write_text("groups:\n- name: x\n  rules:\n  - record: a:b:c\n    expr: sum(rate(x[5m])\n", encoding="utf-8")
    assert _run(promtool, "check", "rules", broken).returncode != 0


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_every_alert_fires_stays_quiet_below_threshold_and_inside_its_for(
    promtool: str, rules_dir: Path, rendered: dict[str, str], spec: RoutingSpec, environment: str, tmp_path: Path
) -> None:
    alert_groups = yaml.safe_load(rendered[f"{environment}/prometheus/alerts.rules.yml"])["groups"]
    cases = alert_cases(resolve_environment(spec, environment), alert_groups)
    generated_alerts = {rule["alert"] for group in alert_groups for rule in group["rules"]}
    assert {case.alert for case in cases} == generated_alerts, "an alert without promtool cases"
    tests = [test for case in cases for test in case.tests()]
    _test_rules(promtool, tmp_path, f"{environment}-alerts", promtool_file(_rule_paths(rules_dir, environment), tests))


def test_every_alert_name_is_known_and_has_a_runbook(rendered: dict[str, str]) -> None:
    runbooks = Path(__file__).resolve().parents[2] / "docs" / "runbooks"
    names = {spec.name: spec for spec in ALERTS}
    for environment in ENVIRONMENT_NAMES:
        groups = yaml.safe_load(rendered[f"{environment}/prometheus/alerts.rules.yml"])["groups"]
        for rule in (rule for group in groups for rule in group["rules"]):
            spec = names[rule["alert"]]
            assert rule["labels"]["severity"] == spec.severity in ("page", "ticket")
            assert rule["labels"]["env"] == environment
            assert rule["annotations"]["runbook_url"].endswith(f"/docs/runbooks/{spec.runbook}.md")
            assert (runbooks / f"{spec.runbook}.md").is_file(), f"no runbook docs/runbooks/{spec.runbook}.md"
            assert "{{ $value | humanize }}" in rule["annotations"]["description"]


@dataclass(frozen=True)
class Expected:
    """A recorded series' value; promtool compares floats exactly, so the test asks Prometheus whether
    the value is within a relative 1e-9 of the hand-computed one (1 if so, 0 if not, absent if missing)."""

    name: str
    value: float
    labels: dict[str, str]

    def promql_test(self, eval_time: str) -> dict[str, Any]:
        matchers = ", ".join(f'{key}="{label}"' for key, label in sorted(self.labels.items()))
        tolerance = max(abs(self.value), 1.0) * 1e-9
        expr = f"abs({self.name}{{{matchers}}} - {self.value!r}) <= bool {tolerance!r}"
        return {"expr": expr, "eval_time": eval_time, "exp_samples": [{"labels": f"{{{matchers}}}", "value": 1}]}


def _sample(name: str, value: float, **labels: str) -> Expected:
    return Expected(name, value, labels)


def test_recording_rules_compute_the_hand_computed_values(
    promtool: str, rules_dir: Path, spec: RoutingSpec, tmp_path: Path
) -> None:
    """One task, one minute-by-minute minute traffic mix, read at 02:30 on January 1st (9,000 s).

    chat: 48 requests a minute answered by its first choice, 6 by its fallback, 6 failed (503): 1/s,
    10 % errors, 10 % fallbacks. Latency: half the requests within 0.5-1 s, half within 1-2 s.
    Overhead: all within 10-20 ms. 15 cache hits a minute. Spend $0.06 a minute ($0.001/s).
    Attempts: the first choice 60 a minute with 6 failures; the fallback 6 a minute, none failed;
    3 a minute rejected before routing (no deployment).
    """
    environment = resolve_environment(spec, "staging")
    by_id = targets(environment)
    primary = next(t for t in by_id.values() if t.deployment == "chat/gpt-4o-mini")
    fallback = next(t for t in by_id.values() if t.deployment == "chat/claude-haiku/last-resort")
    series = [
        request_series(primary, 48),
        request_series(fallback, 6),
        request_series(primary, 6, status="503"),
        *latency(primary, {"0.5": 0, "1": 30, "2": 60, "+Inf": 60}),
        *overhead(primary, {"0.01": 0, "0.02": 60, "+Inf": 60}),
        cache_hits(primary, 15),
        spend(primary, 0.06),
        *attempts(primary, 60, 6),
        *attempts(fallback, 6, 0),
        # Rejected before routing (every deployment cooled down): no deployment, no provider.
        *(
            counter("litellm_deployment_failure_responses_total", {"model_group": "chat", "model_id": model_id}, 3)
            for model_id in ("", "None")
        ),
    ]
    at = "150m"
    primary_labels = {"task": "chat", "provider": "openai", "model": "gpt-4o-mini", "deployment": "chat/gpt-4o-mini"}
    fallback_labels = {
        "task": "chat",
        "provider": "anthropic",
        "model": "claude-haiku",
        "deployment": "chat/claude-haiku/last-resort",
    }
    # Month to date at 02:30: the hours ending 01:00 and 02:00 ($3.60 each) plus half an hour at
    # $0.001/s ($1.80) = $9.00. Projection: $9.00 + $0.001/s * (31 days - 9,000 s) = $2,678.40.
    month_remaining = JANUARY_SECONDS - 9000
    expected = {
        "llm_gateway:requests:rate5m": [
            _sample("llm_gateway:requests:rate5m", 0.9, **primary_labels),
            _sample("llm_gateway:requests:rate5m", 0.1, **fallback_labels),
        ],
        "llm_gateway:request_error_ratio:rate5m": [_sample("llm_gateway:request_error_ratio:rate5m", 0.1, task="chat")],
        "llm_gateway:fallback_ratio:rate5m": [_sample("llm_gateway:fallback_ratio:rate5m", 0.1, task="chat")],
        "llm_gateway:request_duration_seconds:p50_rate5m": [
            _sample("llm_gateway:request_duration_seconds:p50_rate5m", 1.0, task="chat")
        ],
        "llm_gateway:request_duration_seconds:p95_rate5m": [
            _sample("llm_gateway:request_duration_seconds:p95_rate5m", 1.9, task="chat")
        ],
        "llm_gateway:request_duration_seconds:p99_rate5m": [
            _sample("llm_gateway:request_duration_seconds:p99_rate5m", 1.98, task="chat")
        ],
        "llm_gateway:overhead_seconds:p95_rate5m": [
            _sample("llm_gateway:overhead_seconds:p95_rate5m", 0.0195, task="chat")
        ],
        "llm_gateway:cache_hit_ratio:rate5m": [_sample("llm_gateway:cache_hit_ratio:rate5m", 0.25, task="chat")],
        "llm_gateway:cost_per_request_usd:rate5m": [
            _sample("llm_gateway:cost_per_request_usd:rate5m", 0.001, task="chat")
        ],
        "llm_gateway:cost_per_1k_requests_usd:rate5m": [
            _sample("llm_gateway:cost_per_1k_requests_usd:rate5m", 1.0, task="chat")
        ],
        "llm_gateway:spend_usd:rate1h": [_sample("llm_gateway:spend_usd:rate1h", 0.001, task="chat")],
        "llm_gateway:spend_usd:increase1d": [_sample("llm_gateway:spend_usd:increase1d", 9.0, task="chat")],
        "llm_gateway:month_seconds": [_sample("llm_gateway:month_seconds", JANUARY_SECONDS)],
        "llm_gateway:month_seconds_remaining": [_sample("llm_gateway:month_seconds_remaining", month_remaining)],
        "llm_gateway:spend_usd:month_to_date": [_sample("llm_gateway:spend_usd:month_to_date", 9.0, task="chat")],
        "llm_gateway:spend_usd:month_projection": [
            _sample("llm_gateway:spend_usd:month_projection", 9.0 + 0.001 * month_remaining, task="chat")
        ],
        "llm_gateway:environment_spend_usd:month_projection": [
            _sample("llm_gateway:environment_spend_usd:month_projection", 2678.4)
        ],
        "llm_gateway:deployment_failure_ratio:rate5m": [
            _sample("llm_gateway:deployment_failure_ratio:rate5m", 0.1, **primary_labels),
            _sample("llm_gateway:deployment_failure_ratio:rate5m", 0.0, **fallback_labels),
        ],
        "llm_gateway:provider_failure_ratio:rate5m": [
            _sample("llm_gateway:provider_failure_ratio:rate5m", 0.1, provider="openai"),
            _sample("llm_gateway:provider_failure_ratio:rate5m", 0.0, provider="anthropic"),
        ],
    }
    test = {
        "interval": "1m",
        "input_series": series,
        "promql_expr_test": [
            *(sample.promql_test(at) for samples in expected.values() for sample in samples),
            # ... and nothing else: the rejects before routing are nobody's deployment or provider.
            *(
                {"expr": f"count({name})", "eval_time": at, "exp_samples": [{"labels": "{}", "value": 2}]}
                for name in ("llm_gateway:deployment_failure_ratio:rate5m", "llm_gateway:provider_failure_ratio:rate5m")
            ),
        ],
    }
    _test_rules(promtool, tmp_path, "recording-values", promtool_file(_rule_paths(rules_dir, "staging"), [test]))


def test_month_to_date_counts_only_the_current_calendar_month(
    promtool: str, rules_dir: Path, spec: RoutingSpec, tmp_path: Path
) -> None:
    """$1 an hour, sampled hourly, from 1970-01-01T00:00Z. On January 31st at 23:00 the month holds
    743 hours; on February 1st at 01:00 and 02:00 only February's one and two hours count (the hour
    that ended at midnight belongs to January)."""
    environment = resolve_environment(spec, "staging")
    primary = targets(environment)["chat/gpt-4o-mini"]
    hourly = {**spend(primary, 1), "values": "0+1x800"}
    month_to_date = "llm_gateway:spend_usd:month_to_date"
    test = {
        "interval": "1h",
        "input_series": [hourly],
        "promql_expr_test": [
            _sample(month_to_date, 743, task="chat").promql_test("743h"),
            _sample(month_to_date, 1, task="chat").promql_test("745h"),
            _sample(month_to_date, 2, task="chat").promql_test("746h"),
        ],
    }
    data = promtool_file(_rule_paths(rules_dir, "staging"), [test], evaluation_interval="1h")
    _test_rules(promtool, tmp_path, "month-boundary", data)
