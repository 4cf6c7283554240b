"""What on-call engineers get from the first ``pulumi up``: dashboards, recording and alert rules, paging.

Everything comes from the generated tree (``gateway_config/generated/<env>/prometheus`` and
``grafana``, read by :mod:`program.observability_tree`) and lands where kube-prometheus-stack looks:

- the dashboards as ConfigMaps labelled ``grafana_dashboard: "1"`` with the sidecar's folder
  annotation, or, when the stack names a Grafana URL, as ``grafana.oss.Dashboard`` resources in a
  ``grafana.oss.Folder`` through an explicit Grafana provider (its token from ESC);
- every rule file as one ``PrometheusRule`` carrying the labels the stack's Prometheus selects rules
  by (its alerts labelled with the gateway's namespace: :func:`program.observability_tree.alerts_in_namespace`);
- the Alertmanager route per severity (:mod:`program.alertmanager`) as an ``AlertmanagerConfig``
  whose receivers read their PagerDuty key or webhook URL from a Secret written from ESC values.

The scrape itself is the gateway's (its ServiceMonitor targets the metrics port only the
monitoring namespace reaches: components/gateway.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
import pulumiverse_grafana as grafana

from program.alertmanager import (
    ReceiverKind,
    ReceiverSecret,
    Severity,
    alertmanager_config_spec,
    receiver_name,
    route_tree,
)
from program.kube import object_labels, opaque_secret
from program.observability_tree import ObservabilityFiles, alerts_in_namespace

# The kube-prometheus-stack Grafana sidecar loads ConfigMaps with this label, into the folder the annotation names.
DASHBOARD_LABEL = {"grafana_dashboard": "1"}
FOLDER_ANNOTATION = "k8s-sidecar-target-directory"


@dataclass(frozen=True)
class GrafanaApi:
    """A Grafana whose API manages the dashboards instead of the sidecar: its URL and a secret token."""

    url: str
    token: pulumi.Output[str]


@dataclass(frozen=True)
class AlertReceiver:
    """One severity's receiver: its kind and its secret (routing key or URL), a secret Output from ESC."""

    kind: ReceiverKind
    secret: pulumi.Output[str]


@dataclass(frozen=True)
class ObservabilityArgs:
    """Arguments of :class:`Observability`."""

    files: ObservabilityFiles
    # The gateway's namespace: the PrometheusRule, the AlertmanagerConfig and its Secret live there.
    namespace: pulumi.Input[str]
    namespace_name: str
    # Where the dashboard ConfigMaps go (where the sidecar looks), and their Grafana folder.
    dashboards_namespace: str
    folder: str
    # The labels the stack's Prometheus selects PrometheusRules by.
    rule_labels: dict[str, str]
    # None: ConfigMaps for the sidecar.
    grafana_api: GrafanaApi | None
    # severity → receiver; empty: no alert delivery from this stack.
    receivers: Mapping[Severity, AlertReceiver]


class Observability(pulumi.ComponentResource):
    """Dashboards (sidecar ConfigMaps or Grafana API), one PrometheusRule, one AlertmanagerConfig."""

    dashboard_uids: list[str]
    prometheus_rule_name: str
    alertmanager_config_name: str | None
    # Where a person finds the dashboards: the Grafana folder (and URL, when managed through the API).
    dashboards_location: str

    def __init__(self, name: str, args: ObservabilityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llm-gateway:index:Observability", name, None, opts)
        self._name = name
        self._args = args
        self._labels = object_labels("observability")
        self._child = pulumi.ResourceOptions(parent=self)
        environment = args.files.environment

        self.dashboard_uids = [dashboard.uid for dashboard in args.files.dashboards]
        if args.grafana_api is None:
            self._dashboard_config_maps()
            self.dashboards_location = (
                f"Grafana folder {args.folder!r} (sidecar, namespace {args.dashboards_namespace})"
            )
        else:
            self._grafana_dashboards(args.grafana_api)
            self.dashboards_location = f"{args.grafana_api.url} folder {args.folder!r}"

        # Fixed names: one of each per stack, and what runbooks and kubectl refer to.
        self.prometheus_rule_name = f"llm-gateway-{environment}"
        k8s.apiextensions.CustomResource(
            f"{name}-prometheusrule",
            api_version="monitoring.coreos.com/v1",
            kind="PrometheusRule",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=self.prometheus_rule_name, namespace=args.namespace, labels={**self._labels, **args.rule_labels}
            ),
            spec={"groups": alerts_in_namespace(args.files.rule_groups, args.namespace_name)},
            opts=self._child,
        )
        self.alertmanager_config_name = None
        if args.receivers:
            self.alertmanager_config_name = f"llm-gateway-{environment}"
            self._alertmanager_config(self.alertmanager_config_name)

        self.register_outputs(
            {
                "dashboard_uids": self.dashboard_uids,
                "prometheus_rule_name": self.prometheus_rule_name,
                "alertmanager_config_name": self.alertmanager_config_name,
                "dashboards_location": self.dashboards_location,
            }
        )

    def _dashboard_config_maps(self) -> None:
        args = self._args
        for dashboard in args.files.dashboards:
            # Named per environment: two stacks may share the monitoring namespace of one cluster.
            k8s.core.v1.ConfigMap(
                f"{self._name}-dashboard-{dashboard.uid}",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=f"llm-gateway-{args.files.environment}-{dashboard.uid}",
                    namespace=args.dashboards_namespace,
                    labels={**self._labels, **DASHBOARD_LABEL},
                    annotations={FOLDER_ANNOTATION: args.folder},
                ),
                data={f"{dashboard.uid}.json": dashboard.json_text},
                opts=self._child,
            )

    def _grafana_dashboards(self, api: GrafanaApi) -> None:
        args = self._args
        # Explicit: a default provider would read GRAFANA_URL / GRAFANA_AUTH from whoever runs `pulumi up`.
        provider = grafana.Provider(
            f"{self._name}-grafana",
            url=api.url,
            auth=api.token,  # secret: read with require_secret
            opts=self._child,
        )
        on_grafana = pulumi.ResourceOptions(parent=self, provider=provider)
        folder = grafana.oss.Folder(
            f"{self._name}-folder",
            title=args.folder,
            uid=f"llm-gateway-{args.files.environment}",
            opts=on_grafana,
        )
        for dashboard in args.files.dashboards:
            grafana.oss.Dashboard(
                f"{self._name}-dashboard-{dashboard.uid}",
                config_json=dashboard.json_text,
                folder=folder.uid,
                overwrite=True,
                message="pulumi up: generated from gateway_config/routing.yaml",
                opts=on_grafana,
            )

    def _alertmanager_config(self, config_name: str) -> None:
        args = self._args
        tree = route_tree()
        # One Secret, a key per severity: the AlertmanagerConfig names the key, never the value.
        refs = opaque_secret(
            f"{self._name}-alert-receivers",
            args.namespace,
            self._labels,
            {severity: receiver.secret for severity, receiver in args.receivers.items()},
            self,
        )
        spec = pulumi.Output.all(*(refs[severity].secret_name for severity in args.receivers)).apply(
            lambda names: alertmanager_config_spec(
                tree,
                {
                    receiver_name(severity): ReceiverSecret(args.receivers[severity].kind, secret_name, severity)
                    for severity, secret_name in zip(args.receivers, names, strict=True)
                },
            )
        )
        k8s.apiextensions.CustomResource(
            f"{self._name}-alertmanagerconfig",
            api_version="monitoring.coreos.com/v1alpha1",
            kind="AlertmanagerConfig",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=config_name, namespace=args.namespace, labels={**self._labels, **args.rule_labels}
            ),
            spec=spec,
            opts=self._child,
        )
