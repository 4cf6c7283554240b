"""Observability policies: every alert has a runbook, and every environment is alerted on cost,
latency and error rate.

Written against the Prometheus Operator's ``PrometheusRule`` (monitoring.coreos.com/v1:
``spec.groups[].rules[]`` with ``alert``, ``expr``, ``labels`` and ``annotations``); an alert's
environment is its ``env`` label, as the observability component labels them (``severity``, ``env``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from policies.model import PROMETHEUS_RULE, Resource, Violation, get, items, of_type, stack_outputs

# What an alert watches, recognised from its name and expression (metric names of LiteLLM and the plan).
ALERT_KINDS: dict[str, re.Pattern[str]] = {
    "cost": re.compile(r"cost|spend|budget", re.IGNORECASE),
    "latency": re.compile(r"latency|duration|slow", re.IGNORECASE),
    "error-rate": re.compile(r"error|fail", re.IGNORECASE),
}
RUNBOOK_URL = re.compile(r"^https?://\S+$")


def alerts(rule_resource: Resource) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(group/alert, rule) of every alerting rule of a PrometheusRule."""
    for group in items(get(rule_resource.props, "spec", "groups")):
        for rule in items(get(group, "rules")):
            if isinstance(rule, Mapping) and rule.get("alert"):
                yield f"{get(group, 'name')}/{rule['alert']}", rule


def alert_runbook(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    """Every alert carries ``annotations.runbook_url`` (an http(s) URL): whoever is paged knows what to do."""
    if resource.type != PROMETHEUS_RULE:
        return
    for where, rule in alerts(resource):
        url = get(rule, "annotations", "runbook_url")
        if not isinstance(url, str) or not RUNBOOK_URL.match(url):
            yield (
                f"{resource.display}: alert {where} has no runbook_url annotation; "
                "fix: add annotations.runbook_url pointing at its runbook (docs/runbooks/)"
            )


def environment_alert_coverage(resources: Sequence[Resource], config: Mapping[str, Any]) -> Iterator[Violation]:
    """The stack's environment (its ``environment`` output) has cost, latency and error-rate alerts
    (rules labelled ``env: <environment>``)."""
    environment = stack_outputs(resources).get("environment")
    rules = of_type(resources, PROMETHEUS_RULE)
    if not rules:
        yield Violation(
            f"the stack deploys no PrometheusRule, so environment {environment!r} has no alerts; "
            "fix: deploy the observability component's alert rules"
        )
        return
    covered: set[str] = set()
    for rule_resource in rules:
        for where, rule in alerts(rule_resource):
            if environment is not None and get(rule, "labels", "env") not in (environment, None):
                continue
            text = f"{where} {rule.get('expr', '')}"
            covered.update(kind for kind, pattern in ALERT_KINDS.items() if pattern.search(text))
    for kind in ALERT_KINDS:
        if kind not in covered:
            yield Violation(
                f"environment {environment!r} has no {kind} alert; fix: add one labelled env: {environment} "
                "(with a runbook_url) to the observability component's rules",
                rules[0],
            )
