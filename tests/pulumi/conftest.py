"""Fixtures of the Pulumi tests: the real program run offline under Pulumi's mocks, once per scenario.

The runner is ``tools/offline.py`` (the one ``make plan`` uses), so the tests prove the graph a
reviewer is shown. Pulumi's runtime state is global to a process, so every scenario runs in a
process of its own; all of them run from one batch (``tests/pulumi/offline_batch.py``: Pulumi
imported once, one forked child per run) started at session start and awaited on first use, which
keeps the suite to a few seconds.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway_config.build import render, write_tree
from gateway_config.loader import load_spec_text
from program.stack_settings import ESC_PLACEHOLDER
from tools.offline import ROOT

COMMITTED_TREE = ROOT / "gateway_config" / "generated"
# Fake provider and request-log keys: tests prove these never reach a ConfigMap, a plain input or an output.
KEY_CANARIES: dict[str, str] = {
    "openaiApiKey": "sk-canary-openai-5b1f0c9e2d7a",
    "anthropicApiKey": "sk-canary-anthropic-8c3e6a1f4b20",
    "openrouterApiKey": "sk-canary-openrouter-2e9d7c5a0f13",
    "requestLogAwsAccessKeyId": "canary-aws-key-id-7c21e9",
    "requestLogAwsSecretAccessKey": "canary-aws-secret-3f8a5d0b61",
}
# A real-looking kubeconfig for the staging cluster, handed to the prod stack by mistake.
STAGING_KUBECONFIG = yaml.safe_dump(
    {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "staging", "cluster": {"server": "https://kubernetes.staging.example.internal"}}],
        "contexts": [{"name": "staging", "context": {"cluster": "staging", "user": "deployer"}}],
        "users": [{"name": "deployer", "user": {"token": "token-canary-3f9a"}}],
        "current-context": "staging",
    }
)
# The Portkey admin key: read by the dynamic providers from the stack config, never a resource input.
ADMIN_KEY_CANARY = "pk-canary-admin-9e41b7d03c"
# The alert receivers' secrets (a PagerDuty routing key, a Slack webhook URL): only in their Kubernetes Secret.
ALERT_CANARIES: dict[str, str] = {
    "alertPageSecret": "pd-routing-key-canary-61c0a9",
    "alertTicketSecret": "https://hooks.slack.com/services/T0CANARY/B0CANARY/canary4d2f7e",
}
CANARY_SECRETS: dict[str, str] = {**KEY_CANARIES, **ALERT_CANARIES, "portkeyAdminKey": ADMIN_KEY_CANARY}
# The Grafana service account token of the run that manages dashboards through Grafana's API.
GRAFANA_TOKEN_CANARY = "glsa_canary_grafana_0d5e3b7a91"
# A provider key rotated in ESC: a new value for one key, everything else as in the prod run.
ROTATED_SECRETS: dict[str, str] = {**CANARY_SECRETS, "openaiApiKey": "sk-canary-openai-rotated-7d4a19"}


@dataclass
class OfflineRun:
    """Result of running the program offline for one scenario."""

    returncode: int
    stdout: str
    stderr: str
    graph: dict[str, Any] | None


class OfflineRuns:
    """Named program runs, executed together by ``python -m tests.pulumi.offline_batch``;
    ``get(name)`` waits for the batch."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self._runs: dict[str, dict[str, Any]] = {}
        self._process: subprocess.Popen[str] | None = None
        self._results: dict[str, OfflineRun] = {}

    def add(
        self,
        name: str,
        stack: str,
        generated_dir: Path,
        settings: dict[str, str] | None = None,
        secrets: dict[str, str] | None = None,
        unset: list[str] | None = None,
    ) -> None:
        self._runs[name] = {
            "stack": stack,
            "generated_dir": str(generated_dir),
            "set": settings or {},
            "secret": CANARY_SECRETS if secrets is None else secrets,
            "unset": unset or [],
        }

    def launch(self) -> None:
        batch = self.workdir / "batch.json"
        batch.write_text(json.dumps(self._runs))
        self._process = subprocess.Popen(
            [sys.executable, "-m", "tests.pulumi.offline_batch", str(batch)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def get(self, name: str) -> OfflineRun:
        if not self._results:
            assert self._process is not None, "launch() first"
            stdout, stderr = self._process.communicate(timeout=180)
            assert self._process.returncode == 0, f"offline batch failed:\n{stdout}\n{stderr}"
            for run in self._runs:
                rc = int((self.workdir / f"{run}.rc").read_text())
                graph_file = self.workdir / f"{run}.json"
                self._results[run] = OfflineRun(
                    returncode=rc,
                    stdout=(self.workdir / f"{run}.stdout").read_text(),
                    stderr=(self.workdir / f"{run}.stderr").read_text(),
                    graph=json.loads(graph_file.read_text()) if rc == 0 else None,
                )
        return self._results[name]

    def graph(self, name: str) -> dict[str, Any]:
        run = self.get(name)
        assert run.returncode == 0 and run.graph is not None, f"run {name!r} failed:\n{run.stderr}"
        return run.graph

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()


@pytest.fixture(scope="session")
def canary_secrets() -> dict[str, str]:
    """The fake provider keys every offline run is given (config key → value)."""
    return dict(CANARY_SECRETS)


@pytest.fixture(scope="session")
def generated_root() -> Path:
    """The committed generated tree (`make check` keeps it current)."""
    assert all((COMMITTED_TREE / env / "routing.json").is_file() for env in ("staging", "prod")), "make generate"
    return COMMITTED_TREE


@pytest.fixture(scope="session")
def changed_routing_root(generated_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the generated tree whose prod routing differs by one appended comment/key."""
    copy = tmp_path_factory.mktemp("generated-changed") / "generated"
    shutil.copytree(generated_root, copy)
    config = copy / "prod" / "litellm" / "config.yaml"
    config.write_text(config.read_text() + "\n# routing change: a reviewer-visible edit\n")
    return copy


@pytest.fixture(scope="session")
def unchanged_copy_root(generated_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A byte-identical copy elsewhere: names and checksum must depend on content, not location."""
    copy = tmp_path_factory.mktemp("generated-copy") / "generated"
    shutil.copytree(generated_root, copy)
    return copy


@pytest.fixture(scope="session")
def custom_host_staging_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated staging tree whose Portkey configs use custom_host targets (what the OSS
    Portkey image can serve), built by the real generator from an edited copy of the routing spec."""
    spec = yaml.safe_load((ROOT / "gateway_config" / "routing.yaml").read_text())
    spec["environments"]["staging"]["portkey_targets"] = "custom_host"
    out = tmp_path_factory.mktemp("custom-host") / "generated"
    write_tree(
        render(load_spec_text(yaml.safe_dump(spec, sort_keys=False), "routing.yaml"), ["staging"]), out, ["staging"]
    )
    return out


@pytest.fixture(scope="session")
def offline_runs(
    tmp_path_factory: pytest.TempPathFactory,
    generated_root: Path,
    changed_routing_root: Path,
    unchanged_copy_root: Path,
    custom_host_staging_root: Path,
) -> Iterator[OfflineRuns]:
    """Every program run the Pulumi tests need, started in parallel."""
    runs = OfflineRuns(tmp_path_factory.mktemp("offline-runs"))
    runs.add("staging", "staging", generated_root)
    runs.add("prod", "prod", generated_root)
    runs.add("prod-unchanged-copy", "prod", unchanged_copy_root)
    runs.add("prod-routing-changed", "prod", changed_routing_root)
    runs.add("prod-key-rotated", "prod", generated_root, secrets=ROTATED_SECRETS)
    # The committed staging configs target the Model Catalog: the OSS Portkey image cannot serve them.
    runs.add("staging-portkey-model-catalog", "staging", generated_root, settings={"engine": "portkey"})
    runs.add("staging-portkey", "staging", custom_host_staging_root, settings={"engine": "portkey"})
    runs.add("prod-bad-settings", "prod", generated_root, settings={"replicaz": "3", "maxReplicas": "three"})
    runs.add("prod-plain-key", "prod", generated_root, secrets={}, settings=CANARY_SECRETS)
    runs.add(
        "prod-esc-placeholder", "prod", generated_root, secrets={**CANARY_SECRETS, "anthropicApiKey": ESC_PLACEHOLDER}
    )
    runs.add(
        "prod-other-cluster",
        "prod",
        generated_root,
        settings={"kubeContext": ""},
        secrets={**CANARY_SECRETS, "kubeconfig": STAGING_KUBECONFIG},
    )
    runs.add(
        "staging-egress-proxy",
        "staging",
        generated_root,
        settings={
            "egressProxy": "http://squid.egress.svc.cluster.local:3128",
            "corsOrigins": '["https://app.example.com","https://admin.example.com"]',
        },
    )
    runs.add("prod-no-usage-policies", "prod", generated_root, settings={"portkeyUsagePolicies": "false"})
    runs.add("prod-no-workspace", "prod", generated_root, settings={"portkeyWorkspaceId": ""})
    runs.add(
        "prod-admin-key-placeholder",
        "prod",
        generated_root,
        secrets={**CANARY_SECRETS, "portkeyAdminKey": ESC_PLACEHOLDER},
    )
    # Without a control plane to manage, no admin key is needed at all.
    no_admin_key = {key: value for key, value in CANARY_SECRETS.items() if key != "portkeyAdminKey"}
    runs.add(
        "prod-no-control-plane",
        "prod",
        generated_root,
        settings={"portkeyControlPlane": "false"},
        secrets=no_admin_key,
        unset=["portkeyAdminKey"],
    )
    # Observability: dashboards through Grafana's API (its token from ESC), no alert delivery, bad settings.
    runs.add(
        "staging-grafana-api",
        "staging",
        generated_root,
        settings={"grafanaUrl": "https://grafana.example.internal", "grafanaFolder": "Gateway staging"},
        secrets={**CANARY_SECRETS, "grafanaToken": GRAFANA_TOKEN_CANARY},
    )
    runs.add(
        "prod-grafana-no-token",
        "prod",
        generated_root,
        settings={"grafanaUrl": "https://grafana.example.internal"},
        unset=["grafanaToken"],
    )
    no_receivers = {key: value for key, value in CANARY_SECRETS.items() if key not in ALERT_CANARIES}
    runs.add("prod-no-alerting", "prod", generated_root, settings={"alerting": "false"}, secrets=no_receivers)
    runs.add(
        "prod-bad-observability",
        "prod",
        generated_root,
        settings={
            "alertPageReceiver": "email",
            "prometheusSelectorLabels": '["release"]',
            "grafanaUrl": "http://grafana.example.internal",
        },
    )
    runs.add("prod-no-receiver-secret", "prod", generated_root, secrets=no_receivers, unset=list(ALERT_CANARIES))
    runs.launch()
    yield runs
    runs.stop()


@pytest.fixture(scope="session", params=["staging", "prod"])
def stack_graph(request: pytest.FixtureRequest, offline_runs: OfflineRuns) -> dict[str, Any]:
    """The recorded resource graph of one stack (runs once per stack per session)."""
    return offline_runs.graph(request.param)
