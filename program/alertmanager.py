"""The Alertmanager route tree of the gateway's alerts: one route per severity, one receiver each.

The generated alert rules (``gateway_config/generated/<env>/prometheus/alerts.rules.yml``) label every
alert ``severity: page`` (someone is woken: the gateway is failing its users or burning money now) or
``severity: ticket`` (work for office hours). :func:`route_tree` is the policy, as plain data;
:func:`alertmanager_config_spec` writes it as the Prometheus Operator's ``AlertmanagerConfig``
(``monitoring.coreos.com/v1alpha1``, camelCase, receivers' secrets by ``SecretKeySelector``) for the
cluster, and :func:`alertmanager_yaml` as a plain ``alertmanager.yml`` (snake_case, webhook URLs) for
the end-to-end test's real Alertmanager. Both read the same tree, so the test proves the routing the
cluster gets. Pure functions: no Pulumi, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Severity = Literal["page", "ticket"]
ReceiverKind = Literal["pagerduty", "slack", "webhook"]
SEVERITIES: tuple[Severity, ...] = ("page", "ticket")
RECEIVER_KINDS: tuple[ReceiverKind, ...] = ("pagerduty", "slack", "webhook")
# Alerts of one kind, environment and task arrive as one notification; a provider or model label
# would split a task's outage into one notification per target.
GROUP_BY: tuple[str, ...] = ("alertname", "env", "task")


@dataclass(frozen=True)
class SeverityRoute:
    """Where alerts of one severity go, and how often an unresolved one is repeated."""

    severity: Severity
    receiver: str
    # Wait before the first notification of a new group (lets the group's other alerts join it).
    group_wait: str
    # Wait before notifying about alerts added to a group already notified.
    group_interval: str
    repeat_interval: str


@dataclass(frozen=True)
class RouteTree:
    """The root route (anything unlabelled goes to the ticket receiver) and one child per severity."""

    default_receiver: str
    group_by: tuple[str, ...]
    routes: tuple[SeverityRoute, ...]

    @property
    def receivers(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys([self.default_receiver, *(route.receiver for route in self.routes)]))


def receiver_name(severity: Severity) -> str:
    """The receiver of ``severity`` (``llm-gateway-page``)."""
    return f"llm-gateway-{severity}"


def route_tree() -> RouteTree:
    """Pages fast and repeat hourly until resolved; tickets batch for minutes and repeat twice a day."""
    return RouteTree(
        default_receiver=receiver_name("ticket"),
        group_by=GROUP_BY,
        routes=(
            SeverityRoute("page", receiver_name("page"), group_wait="30s", group_interval="5m", repeat_interval="1h"),
            SeverityRoute(
                "ticket", receiver_name("ticket"), group_wait="2m", group_interval="15m", repeat_interval="12h"
            ),
        ),
    )


@dataclass(frozen=True)
class ReceiverSecret:
    """A receiver in the cluster: its kind and the Secret key holding its URL (or PagerDuty routing key)."""

    kind: ReceiverKind
    secret_name: str
    secret_key: str


def _crd_receiver(name: str, secret: ReceiverSecret) -> dict[str, Any]:
    selector = {"name": secret.secret_name, "key": secret.secret_key}
    if secret.kind == "pagerduty":
        # Events API v2: the integration's routing key is the secret.
        return {"name": name, "pagerdutyConfigs": [{"routingKey": selector, "sendResolved": True}]}
    if secret.kind == "slack":
        return {
            "name": name,
            "slackConfigs": [
                {
                    "apiURL": selector,
                    "sendResolved": True,
                    "title": "[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }} ({{ .CommonLabels.env }})",
                    "text": "{{ range .Alerts }}{{ .Annotations.summary }}\n"
                    "runbook: {{ .Annotations.runbook_url }}\n{{ end }}",
                }
            ],
        }
    return {"name": name, "webhookConfigs": [{"urlSecret": selector, "sendResolved": True}]}


def alertmanager_config_spec(tree: RouteTree, secrets: dict[str, ReceiverSecret]) -> dict[str, Any]:
    """``AlertmanagerConfig.spec`` (v1alpha1): the tree, each receiver reading its secret by reference."""
    missing = [name for name in tree.receivers if name not in secrets]
    if missing:
        raise ValueError(f"no secret for receivers {', '.join(missing)}")
    return {
        "route": {
            "receiver": tree.default_receiver,
            "groupBy": list(tree.group_by),
            "routes": [
                {
                    "receiver": route.receiver,
                    "matchers": [{"name": "severity", "value": route.severity, "matchType": "="}],
                    "groupWait": route.group_wait,
                    "groupInterval": route.group_interval,
                    "repeatInterval": route.repeat_interval,
                }
                for route in tree.routes
            ],
        },
        "receivers": [_crd_receiver(name, secrets[name]) for name in tree.receivers],
    }


def alertmanager_yaml(tree: RouteTree, webhook_urls: dict[str, str]) -> dict[str, Any]:
    """A plain ``alertmanager.yml`` for the tree whose receivers are webhooks to ``webhook_urls``."""
    missing = [name for name in tree.receivers if name not in webhook_urls]
    if missing:
        raise ValueError(f"no webhook URL for receivers {', '.join(missing)}")
    return {
        "route": {
            "receiver": tree.default_receiver,
            "group_by": list(tree.group_by),
            "routes": [
                {
                    "receiver": route.receiver,
                    "matchers": [f'severity="{route.severity}"'],
                    "group_wait": route.group_wait,
                    "group_interval": route.group_interval,
                    "repeat_interval": route.repeat_interval,
                }
                for route in tree.routes
            ],
        },
        "receivers": [
            {"name": name, "webhook_configs": [{"url": webhook_urls[name], "send_resolved": True}]}
            for name in tree.receivers
        ],
    }


def with_shorter_waits(tree: RouteTree, group_wait: str, group_interval: str) -> RouteTree:
    """The same routing with shorter waits (a test cannot wait minutes; the matching is unchanged)."""
    return RouteTree(
        tree.default_receiver,
        tree.group_by,
        tuple(
            SeverityRoute(r.severity, r.receiver, group_wait, group_interval, r.repeat_interval) for r in tree.routes
        ),
    )
