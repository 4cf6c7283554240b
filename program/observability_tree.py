"""Reads the generated observability files of one environment: Prometheus rules and Grafana dashboards.

The generator writes ``gateway_config/generated/<env>/prometheus/*.rules.yml`` (plain Prometheus rule
files: recording rules, alerts) and ``gateway_config/generated/<env>/grafana/<dashboard>.json`` (dashboard
models). This module only reads them, checks each parses into what its consumer needs, and makes
the one change the cluster's routing needs (:func:`alerts_in_namespace`). Pure apart from reading files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from program.generated_tree import GeneratedConfigError, generated_root

RULE_FILE_SUFFIXES = (".yml", ".yaml")


@dataclass(frozen=True)
class Dashboard:
    """One generated dashboard: its uid, title and the model JSON as the generator wrote it."""

    uid: str
    title: str
    json_text: str


@dataclass(frozen=True)
class ObservabilityFiles:
    """An environment's rule groups (every rule file, in file-name order) and dashboards (by uid)."""

    environment: str
    rule_groups: list[dict[str, Any]]
    dashboards: list[Dashboard]

    @property
    def alert_names(self) -> list[str]:
        return sorted({str(rule["alert"]) for group in self.rule_groups for rule in group["rules"] if "alert" in rule})

    @property
    def recorded_series(self) -> list[str]:
        return sorted(
            {str(rule["record"]) for group in self.rule_groups for rule in group["rules"] if "record" in rule}
        )


def load_observability_files(environment: str, root: Path | None = None) -> ObservabilityFiles:
    """The rules and dashboards generated for ``environment``; raises :class:`GeneratedConfigError`."""
    base = (root or generated_root()) / environment
    rules_dir, dashboards_dir = base / "prometheus", base / "grafana"
    rule_files = sorted(path for path in rules_dir.glob("*") if path.suffix in RULE_FILE_SUFFIXES)
    dashboard_files = sorted(dashboards_dir.glob("*.json"))
    if not rule_files or not dashboard_files:
        raise GeneratedConfigError(
            f"{base}: no generated Prometheus rules (prometheus/*.rules.yml) or Grafana dashboards "
            "(grafana/*.json); run `make generate`"
        )
    groups: list[dict[str, Any]] = []
    for path in rule_files:
        document = yaml.safe_load(path.read_text())
        if not isinstance(document, dict) or not isinstance(document.get("groups"), list):
            raise GeneratedConfigError(f"{path}: not a Prometheus rule file (a mapping with `groups`)")
        groups.extend(document["groups"])
    dashboards = []
    for path in dashboard_files:
        text = path.read_text()
        model = json.loads(text)
        if not isinstance(model, dict) or not model.get("uid") or not model.get("title"):
            raise GeneratedConfigError(f"{path}: not a Grafana dashboard model (needs `uid` and `title`)")
        dashboards.append(Dashboard(str(model["uid"]), str(model["title"]), text))
    return ObservabilityFiles(environment, groups, dashboards)


def alerts_in_namespace(groups: list[dict[str, Any]], namespace: str) -> list[dict[str, Any]]:
    """The rule groups with every alert labelled ``namespace``.

    The Prometheus Operator scopes an AlertmanagerConfig to alerts carrying its own namespace (its
    default ``OnNamespace`` matcher strategy), and the generated alerts aggregate the label away, so
    without it the gateway's routes would never match its own alerts. Recording rules are unchanged.
    """
    return [
        {
            **group,
            "rules": [
                {**rule, "labels": {**(rule.get("labels") or {}), "namespace": namespace}} if "alert" in rule else rule
                for rule in group["rules"]
            ],
        }
        for group in groups
    ]
