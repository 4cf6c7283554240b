"""The Portkey control plane and the ESC app environment in each stack's graph (the program under mocks).

A stack registers exactly what its environment's generated configs name, from routing.json: prod
only prod providers and integrations, staging only staging ones; one saved config per
Portkey-routed task whose body is the generated file; budgets as routing.json states them; the ESC
app environments with no secret in them, and each application's key, marked secret, in the
credential environment its own app environment imports.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from pulumi_graph import APPLICATIONS

from components.app_environment import config_variable
from components.portkey import alert_threshold
from gateway_config.runtime_env import application_key_env
from program.generated_tree import load_hosted_portkey
from tools.pulumi_mocks import ASSET_MARKER, SECRET_MARKER

DYNAMIC = "pulumi-python:dynamic/portkey:"
EXPECTED_PROVIDERS = {
    "prod": {"prod-gpt4-primary", "prod-claude-primary", "prod-openrouter-exp"},
    "staging": {"staging-all-providers-openai", "staging-all-providers-anthropic", "staging-all-providers-openrouter"},
}


def _of(graph: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [resource for resource in graph["resources"] if resource["type"] == DYNAMIC + kind]


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {SECRET_MARKER}:
            return _plain(value[SECRET_MARKER])
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


@pytest.mark.parametrize("stack", ["prod", "staging"])
def test_stack_registers_exactly_its_environments_providers_and_integrations(
    offline_runs: Any, stack: str, generated_root: Any
) -> None:
    graph = offline_runs.graph(stack)
    providers = {resource["inputs"]["slug"]: resource["inputs"] for resource in _of(graph, "Provider")}
    assert set(providers) == EXPECTED_PROVIDERS[stack]
    integrations = {resource["inputs"]["slug"]: resource["inputs"] for resource in _of(graph, "Integration")}
    assert set(integrations) == {f"llm-gateway-{stack}-{p}" for p in ("openai", "anthropic", "openrouter")}
    assert {p["integration_id"] for p in providers.values()} == set(integrations)
    access = {resource["inputs"]["integration_slug"] for resource in _of(graph, "IntegrationWorkspaceAccess")}
    assert access == set(integrations)
    workspace = f"llm-gateway-{stack}"
    assert {p["workspace_id"] for p in providers.values()} == {workspace}
    # Budgets and rate limits as routing.json states them.
    hosted = load_hosted_portkey(stack, generated_root)
    assert hosted is not None
    for facts in hosted.providers:
        limits = providers[facts.slug]["usage_limits"]
        assert limits["credit_limit"] == facts.credit_limit_usd_monthly and limits["periodic_reset"] == "monthly"
        assert 1 <= limits["alert_threshold"] < limits["credit_limit"]
        assert providers[facts.slug].get("rate_limits") == facts.rate_limit
    # Each integration holds this stack's key for its provider, as a secret input.
    for slug, inputs in integrations.items():
        assert set(inputs["key"]) == {SECRET_MARKER}, slug
        assert f"managed-by: pulumi llm-gateway/{stack}" in inputs["description"]


@pytest.mark.parametrize("stack", ["prod", "staging"])
def test_one_saved_config_per_portkey_routed_task_with_the_generated_body(
    offline_runs: Any, stack: str, generated_root: Any
) -> None:
    graph = offline_runs.graph(stack)
    configs = {resource["inputs"]["name"]: resource for resource in _of(graph, "Config")}
    routed = {
        name
        for name, task in json.loads((generated_root / stack / "routing.json").read_text())["tasks"].items()
        if task["route"] == "gateway"
    }
    assert set(configs) == {f"llm-gateway-{stack}-{task}" for task in routed}
    for task in routed:
        body = json.loads((generated_root / stack / "portkey" / f"{task}.json").read_text())
        assert configs[f"llm-gateway-{stack}-{task}"]["inputs"]["config"] == body
    slugs = graph["outputs"]["portkeyConfigSlugs"]["value"]
    assert set(slugs) == routed and all(slug.startswith("pc-") for slug in slugs.values())
    assert set(graph["outputs"]["portkeyProviders"]["value"]) == EXPECTED_PROVIDERS[stack]


@pytest.mark.parametrize("stack", ["prod", "staging"])
def test_budget_policies_per_task_and_for_the_environment(offline_runs: Any, stack: str, generated_root: Any) -> None:
    graph = offline_runs.graph(stack)
    hosted = load_hosted_portkey(stack, generated_root)
    assert hosted is not None
    policies = {resource["inputs"]["name"]: resource["inputs"] for resource in _of(graph, "UsageLimitsPolicy")}
    slugs = graph["outputs"]["portkeyConfigSlugs"]["value"]
    expected = {f"llm-gateway-{stack}-task-{task}" for task in hosted.task_budgets_usd_monthly}
    assert set(policies) == expected | {f"llm-gateway-{stack}-environment"}
    for task, budget in hosted.task_budgets_usd_monthly.items():
        policy = policies[f"llm-gateway-{stack}-task-{task}"]
        # A request carries its task by naming the task's saved config.
        assert policy["conditions"] == [{"key": "config", "value": slugs[task]}]
        assert policy["group_by"] == [{"key": "config"}] and policy["credit_limit"] == budget
    environment = policies[f"llm-gateway-{stack}-environment"]
    assert environment["group_by"] == [{"key": "workspace_id"}]
    assert environment["credit_limit"] == hosted.budget_usd_monthly


def test_usage_policies_can_be_switched_off(offline_runs: Any) -> None:
    graph = offline_runs.graph("prod-no-usage-policies")
    assert _of(graph, "UsageLimitsPolicy") == []
    assert len(_of(graph, "Provider")) == 3  # the providers' credit limits still apply


@pytest.mark.parametrize("stack", ["prod", "staging"])
def test_esc_app_environments_hold_no_secret_and_each_application_imports_its_own_key(
    offline_runs: Any, stack: str
) -> None:
    graph = offline_runs.graph(stack)
    environments = {
        r["inputs"]["name"]: r for r in graph["resources"] if r["type"] == "pulumiservice:index:Environment"
    }
    assert set(environments) == {f"{stack}-app", *(f"{stack}-app-{name}" for name in APPLICATIONS)}
    for resource in environments.values():
        assert (resource["inputs"]["organization"], resource["inputs"]["project"]) == ("organization", "llm-gateway")
        text = resource["inputs"]["yaml"][ASSET_MARKER]
        assert "fn::secret" not in text and "sk-" not in text
        variables = yaml.safe_load(text)["values"]["environmentVariables"]
        # Only strings under environmentVariables (the ESC SDK rejects anything else there).
        assert all(isinstance(value, str) for value in variables.values())

    # The shared part: no key, no import.
    shared = yaml.safe_load(environments[f"{stack}-app"]["inputs"]["yaml"][ASSET_MARKER])
    assert "imports" not in shared and "LLM_GATEWAY_KEY" not in shared["values"]["environmentVariables"]
    gateway = shared["values"]["gateway"]
    assert gateway["url"] == graph["outputs"]["gatewayUrl"]["value"]
    assert gateway["portkeyConfigs"] == graph["outputs"]["portkeyConfigSlugs"]["value"]
    assert (
        shared["values"]["environmentVariables"]["LLM_GATEWAY_PORTKEY_CONFIG_CHAT"] == "${gateway.portkeyConfigs.chat}"
    )
    assert json.loads(gateway["routingJson"])["environment"] == stack

    credentials = {
        r["inputs"]["name"]: r
        for r in graph["resources"]
        if r["type"] == "pulumi-python:dynamic/esc:CredentialEnvironment"
    }
    assert set(credentials) == {f"{stack}-credential-{name}" for name in APPLICATIONS}
    master = [r for r in graph["resources"] if r["name"] == "llm-gateway-master-key-secret"]
    master_key = _plain(master[0]["inputs"]["stringData"])["LITELLM_MASTER_KEY"]
    for name in APPLICATIONS:
        document = yaml.safe_load(environments[f"{stack}-app-{name}"]["inputs"]["yaml"][ASSET_MARKER])
        assert document["imports"] == [f"llm-gateway/{stack}-app", f"llm-gateway/{stack}-credential-{name}"]
        assert document["values"]["environmentVariables"] == {
            "LLM_GATEWAY_KEY": "${gateway.applicationKey}",
            "LLM_GATEWAY_APPLICATION": "${gateway.application}",
        }
        assert document["values"]["gateway"] == {"application": name}
        inputs = credentials[f"{stack}-credential-{name}"]["inputs"]
        assert inputs["path"] == ["gateway", "applicationKey"] and set(inputs["value"]) == {SECRET_MARKER}
        # Each application's ESC key is the one the gateway checks for it (its own Secret), never the master key.
        secret = [r for r in graph["resources"] if r["name"] == f"llm-gateway-app-{name}-secret"]
        assert _plain(inputs["value"]) == _plain(secret[0]["inputs"]["stringData"])[application_key_env(name)]
        assert _plain(inputs["value"]) != master_key
    assert len({_plain(c["inputs"]["value"]) for c in credentials.values()}) == len(APPLICATIONS)
    assert graph["outputs"]["escAppEnvironment"]["value"] == f"llm-gateway/{stack}-app"
    assert graph["outputs"]["escApplicationEnvironments"]["value"] == {
        name: f"llm-gateway/{stack}-app-{name}" for name in APPLICATIONS
    }


def test_rotated_key_changes_only_its_integrations_key(offline_runs: Any) -> None:
    before, rotated = offline_runs.graph("prod"), offline_runs.graph("prod-key-rotated")

    def integrations(graph: dict[str, Any]) -> dict[str, dict[str, Any]]:
        return {r["inputs"]["slug"]: r["inputs"] for r in _of(graph, "Integration")}

    old, new = integrations(before), integrations(rotated)
    changed = {slug for slug in old if old[slug] != new[slug]}
    assert changed == {"llm-gateway-prod-openai"}
    assert {
        k
        for k in old["llm-gateway-prod-openai"]
        if old["llm-gateway-prod-openai"][k] != new["llm-gateway-prod-openai"][k]
    } == {"key"}
    # The slug, the providers on it and the configs stay: the dynamic provider updates the key in place
    # (tests/portkey: `diff` answers an update without replacement for a changed key).
    for kind in ("Provider", "Config", "IntegrationWorkspaceAccess", "UsageLimitsPolicy"):
        # By name: the SDK registers from a thread pool, so the order of registration may differ.
        assert {r["name"]: r["inputs"] for r in _of(before, kind)} == {
            r["name"]: r["inputs"] for r in _of(rotated, kind)
        }


def test_missing_workspace_is_refused_naming_the_setting(offline_runs: Any) -> None:
    run = offline_runs.get("prod-no-workspace")
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "llm-gateway:portkeyWorkspaceId: required while llm-gateway:portkeyControlPlane is true" in run.stderr


def test_missing_admin_key_is_refused_naming_its_esc_path(offline_runs: Any) -> None:
    run = offline_runs.get("prod-admin-key-placeholder")
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "esc env set llm-gateway/prod portkey.adminKey --secret --string --file - < <file>" in run.stderr


def test_without_the_control_plane_no_portkey_object_and_no_admin_key_needed(offline_runs: Any) -> None:
    graph = offline_runs.graph("prod-no-control-plane")
    assert not [r for r in graph["resources"] if r["type"].startswith(DYNAMIC)]
    environments = [r for r in graph["resources"] if r["type"] == "pulumiservice:index:Environment"]
    assert len(environments) == 1 + len(APPLICATIONS)  # the shared one and one per application
    for app in environments:
        variables = yaml.safe_load(app["inputs"]["yaml"][ASSET_MARKER])["values"]["environmentVariables"]
        assert not any(name.startswith("LLM_GATEWAY_PORTKEY") for name in variables)


def test_alert_thresholds_stay_inside_portkeys_bounds() -> None:
    # Whole units, at least 1, below the limit (Portkey rejects an alert at or above its limit).
    assert alert_threshold(20000, 80) == 16000 and alert_threshold(1000, 99) == 990
    assert alert_threshold(1, 80) is None and alert_threshold(2, 99) == 1


def test_task_variables_are_environment_variable_names() -> None:
    assert config_variable("code_generation") == "LLM_GATEWAY_PORTKEY_CONFIG_CODE_GENERATION"
    assert config_variable("eval.v2-beta") == "LLM_GATEWAY_PORTKEY_CONFIG_EVAL_V2_BETA"
