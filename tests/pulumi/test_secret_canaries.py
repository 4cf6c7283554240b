"""Canary provider keys and generated passwords appear only as secrets: never in a ConfigMap,
a plain (non-secret) input, or a stack output. (How a rotated key rolls the pods without revealing
anything: tests/pulumi/test_rollout_naming.py.)"""

from __future__ import annotations

import json
from typing import Any

import pytest
from pulumi_graph import APPLICATIONS, auto_named, objects

from gateway_config.runtime_env import application_key_env
from program.stack_settings import PROVIDER_KEY_SETTINGS, REQUEST_LOG_KEY_SETTINGS
from tools.pulumi_mocks import MOCK_PASSWORD_PREFIX, SECRET_MARKER


def _strip_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {SECRET_MARKER}:
            return "<secret>"
        return {k: _strip_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strip_secrets(v) for v in value]
    return value


@pytest.fixture(scope="module")
def needles(canary_secrets: dict[str, str]) -> list[str]:
    """The canaries, and the mocked RandomPassword results (master key and Redis password)."""
    return [*canary_secrets.values(), MOCK_PASSWORD_PREFIX]


@pytest.mark.parametrize("run", ["staging", "prod", "staging-portkey"])
def test_no_secret_in_plain_inputs_or_outputs(offline_runs: Any, run: str, needles: list[str]) -> None:
    graph = offline_runs.graph(run)
    for resource in graph["resources"]:
        if resource["type"] == "random:index/randomPassword:RandomPassword":
            continue  # its inputs are only the length/charset
        plain = json.dumps(_strip_secrets(resource["inputs"]))
        for needle in needles:
            assert needle not in plain, f"{needle!r} in plain inputs of {resource['name']}"
    outputs = json.dumps(graph["outputs"])
    for needle in needles:
        assert needle not in outputs


@pytest.mark.parametrize("run", ["staging", "prod"])
def test_secrets_do_reach_their_kubernetes_secrets(offline_runs: Any, run: str, canary_secrets: dict[str, str]) -> None:
    # The negative test above only means something if the values are really there, as secrets.
    graph = offline_runs.graph(run)
    everything = json.dumps(graph["resources"])
    # Provider and request-log keys, each in its Kubernetes Secret.
    written = {key: value for key, value in canary_secrets.items() if key != "portkeyAdminKey"}
    for canary in written.values():
        assert canary in everything
    # The Portkey admin key is nowhere in the graph, not even as a secret: the dynamic providers read it
    # from the stack config themselves (program/portkey/base.py).
    assert canary_secrets["portkeyAdminKey"] not in everything
    provider = auto_named(graph, "Secret", "llm-gateway-provider-keys")["stringData"]
    assert sorted(provider.values()) == sorted(canary_secrets[key] for key in PROVIDER_KEY_SETTINGS)
    request_log = auto_named(graph, "Secret", "llm-gateway-request-log-keys")["stringData"]
    assert request_log == {var: canary_secrets[key] for key, var in REQUEST_LOG_KEY_SETTINGS.items()}
    master = auto_named(graph, "Secret", "llm-gateway-master-key-secret")["stringData"]
    assert master["LITELLM_MASTER_KEY"].startswith("sk-" + MOCK_PASSWORD_PREFIX)
    for role in ("cache", "state"):
        redis = auto_named(graph, "Secret", f"llm-gateway-redis-{role}-auth")["stringData"]
        assert redis["password"].startswith(MOCK_PASSWORD_PREFIX)
        # The ACL file holds only the password's hash.
        assert MOCK_PASSWORD_PREFIX not in redis["users.acl"] and "#" in redis["users.acl"]
    for application in APPLICATIONS:
        key = auto_named(graph, "Secret", f"llm-gateway-app-{application}-secret")["stringData"]
        assert list(key) == [application_key_env(application)]
        assert key[application_key_env(application)].startswith("sk-app-" + MOCK_PASSWORD_PREFIX)


@pytest.mark.parametrize("run", ["staging", "prod", "staging-portkey"])
def test_no_secret_in_any_configmap(offline_runs: Any, run: str, needles: list[str]) -> None:
    for config_map in objects(offline_runs.graph(run), "ConfigMap"):
        text = json.dumps(config_map)
        for needle in needles:
            assert needle not in text


def test_plain_provider_key_is_refused(offline_runs: Any, canary_secrets: dict[str, str]) -> None:
    run = offline_runs.get("prod-plain-key")
    assert run.returncode == 2
    assert "llm-gateway:openaiApiKey: must be a secret" in run.stderr
    assert "Traceback" not in run.stderr
    for canary in canary_secrets.values():
        assert canary not in run.stderr + run.stdout


def test_esc_placeholder_is_refused_as_a_key(offline_runs: Any, canary_secrets: dict[str, str]) -> None:
    run = offline_runs.get("prod-esc-placeholder")
    assert run.returncode == 2, run.stderr
    assert run.stderr.splitlines()[1:] == [
        "llm-gateway:anthropicApiKey: still the ESC placeholder; set the real value with "
        "esc env set llm-gateway/prod providerKeys.anthropic --secret --string --file - < <file>"
    ]
    for canary in canary_secrets.values():
        assert canary not in run.stderr + run.stdout
