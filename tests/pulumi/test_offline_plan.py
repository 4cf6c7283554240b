"""`make plan STACK=…`: the resource tree with key fields and no credentials, plus manifests."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tools.offline import OFFLINE_SECRET_PLACEHOLDER, ROOT
from tools.plan import print_tree
from tools.pulumi_mocks import MOCK_PASSWORD_PREFIX


@pytest.fixture(scope="module")
def canary_values(canary_secrets: dict[str, str]) -> list[str]:
    return list(canary_secrets.values())


@pytest.fixture(scope="module")
def plans(generated_root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, Path, float]]:
    """The prod plan run exactly as `make plan` runs it (staging's tree is printed in-process below)."""
    started = {}
    for stack in ("prod",):
        out = tmp_path_factory.mktemp(f"plan-{stack}")
        cmd = [
            sys.executable,
            "-m",
            "tools.plan",
            "--stack",
            stack,
            "--out",
            str(out),
            "--generated-dir",
            str(generated_root),
        ]
        started[stack] = (
            subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True),
            out,
            time.monotonic(),
        )
    results = {}
    for stack, (process, out, start) in started.items():
        stdout, stderr = process.communicate(timeout=60)
        assert process.returncode == 0, stderr
        results[stack] = (stdout, out, time.monotonic() - start)
    return results


def test_prod_plan_lists_the_acceptance_objects(plans: dict[str, tuple[str, Path, float]]) -> None:
    stdout, _, _ = plans["prod"]
    for needle in (
        "kubernetes:apps/v1:Deployment  llm-gateway-deployment",
        "kubernetes:core/v1:Service  llm-gateway-service",
        "kubernetes:autoscaling/v2:HorizontalPodAutoscaler  llm-gateway-hpa",
        "kubernetes:policy/v1:PodDisruptionBudget  llm-gateway-pdb",
        "kubernetes:networking.k8s.io/v1:NetworkPolicy  llm-gateway-netpol",
        "kubernetes:core/v1:ConfigMap  llm-gateway-config",
        "kubernetes:core/v1:Secret  llm-gateway-provider-keys",
        "kubernetes:core/v1:Secret  llm-gateway-master-key-secret",
        "kubernetes:apps/v1:StatefulSet  llm-gateway-redis-cache-statefulset",
        "kubernetes:apps/v1:StatefulSet  llm-gateway-redis-state-statefulset",
        "kubernetes:core/v1:Secret  llm-gateway-redis-cache-auth",
        "kubernetes:core/v1:ServiceAccount  llm-gateway-serviceaccount",
        "pulumi:providers:kubernetes  llm-gateway-cluster",
        "PVC template data: 10Gi",
        "replicas 3..10",
        "maxUnavailable=1",
        "(offline placeholder: ESC holds the verified digest)",
        "gatewayUrl = http://llm-gateway.llm-gateway-prod.svc.cluster.local",
    ):
        assert needle in stdout, needle


def test_prod_plan_lists_the_portkey_control_plane_and_the_esc_app_environment(
    plans: dict[str, tuple[str, Path, float]],
) -> None:
    stdout, _, _ = plans["prod"]
    for needle in (
        "pulumi-python:dynamic/portkey:Integration  llm-gateway-portkey-integration-openai",
        "slug=llm-gateway-prod-openai ai_provider=openai key=[secret]",
        "integration llm-gateway-prod-openai enabled in workspace llm-gateway-prod",
        "pulumi-python:dynamic/portkey:Provider  llm-gateway-portkey-provider-prod-openrouter-exp",
        "@prod-openrouter-exp on integration llm-gateway-prod-openrouter in llm-gateway-prod",
        "budget: 1000 USD/monthly, alert at 800",
        "rate limit: 300 requests rpm",
        "pulumi-python:dynamic/portkey:Config  llm-gateway-portkey-config-chat",
        "targets: @prod-gpt4-primary/gpt-4o-mini, @prod-claude-primary/claude-haiku-4-5-20251001",
        "circuit breaker: 1 failure(s) → out for 30 s",
        "pulumi-python:dynamic/portkey:UsageLimitsPolicy  llm-gateway-portkey-budget-environment",
        "budget: 20000 USD/monthly, alert at 16000",
        "pulumiservice:index:Environment  llm-gateway-app-environment-environment",
        "ESC organization/llm-gateway/prod-app, imports nothing",
        "pulumiservice:index:Environment  llm-gateway-app-environment-support-assistant-environment",
        "ESC organization/llm-gateway/prod-app-support-assistant, imports llm-gateway/prod-app, "
        "llm-gateway/prod-credential-support-assistant",
        "environmentVariables: LLM_GATEWAY_APPLICATION, LLM_GATEWAY_KEY",
        "ESC organization/llm-gateway/prod-credential-support-assistant: values.gateway.applicationKey = [secret]",
        "escAppEnvironment = llm-gateway/prod-app",
    ):
        assert needle in stdout, needle
    # The staging environment's objects are not in the prod plan.
    assert "staging-all-providers" not in stdout and "llm-gateway-staging-" not in stdout
    slugs = re.search(r"portkeyConfigSlugs = (\{.*\})", stdout)
    assert slugs and "None" not in slugs.group(1)


def test_staging_plan_shows_the_smaller_sizing(
    offline_runs: Any, capsys: pytest.CaptureFixture[str], canary_values: list[str]
) -> None:
    print_tree(offline_runs.graph("staging"))
    stdout = capsys.readouterr().out
    assert "replicas 1..2" in stdout and "storage: emptyDir (no persistence)" in stdout
    assert "PVC template" not in stdout
    for canary in canary_values:
        assert canary not in stdout


def test_plan_shows_no_secret_values(plans: dict[str, tuple[str, Path, float]]) -> None:
    stdout, out, _ = plans["prod"]
    texts = [stdout, *(path.read_text() for path in out.glob("*.yaml"))]
    for text in texts:
        assert OFFLINE_SECRET_PLACEHOLDER not in text
        assert MOCK_PASSWORD_PREFIX not in text


def test_plan_shows_the_generated_names_the_pods_read(plans: dict[str, tuple[str, Path, float]]) -> None:
    # A routing change or a rotated key shows as a new name here: a reviewer sees it roll the pods.
    stdout, _, _ = plans["prod"]
    gateway = re.search(r"reads (.*ConfigMap llm-gateway-config-[0-9a-f]{8}.*)", stdout)
    assert gateway, stdout
    for logical in (
        "llm-gateway-provider-keys",
        "llm-gateway-master-key-secret",
        "llm-gateway-redis-cache-auth",
        "llm-gateway-redis-state-auth",
    ):
        assert re.search(rf"Secret {logical}-[0-9a-f]{{8}}", gateway.group(1)), logical
    for role in ("cache", "state"):  # each Redis reads its ACL file from its own Secret
        assert re.search(rf"reads Secret llm-gateway-redis-{role}-auth-[0-9a-f]{{8}}$", stdout, re.MULTILINE), role
    assert re.search(r"configChecksum = [0-9a-f]{64}", stdout)


def test_plan_writes_one_manifest_per_object(plans: dict[str, tuple[str, Path, float]]) -> None:
    _, out, _ = plans["prod"]
    documents = [yaml.safe_load(path.read_text()) for path in sorted(out.glob("*.yaml"))]
    kinds = {doc["kind"] for doc in documents}
    assert {"Deployment", "StatefulSet", "Secret", "ConfigMap", "ServiceMonitor"} <= kinds
    secret = next(doc for doc in documents if doc["metadata"]["name"].startswith("llm-gateway-provider-keys-"))
    assert set(secret["stringData"].values()) == {"[secret]"}


def test_plan_refuses_a_folder_it_did_not_write(tmp_path: Path) -> None:
    from tools.plan import write_manifests

    (tmp_path / "precious.yaml").write_text("keep: me\n")
    with pytest.raises(SystemExit):
        write_manifests({"resources": []}, tmp_path)
    assert (tmp_path / "precious.yaml").exists()


def test_makefile_has_the_plan_target() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "\nplan: " in makefile and "-m tools.plan --stack $(STACK)" in makefile
