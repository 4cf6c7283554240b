"""Canary provider keys and generated passwords appear only as secrets: never in a ConfigMap,
a plain (non-secret) input, or a stack output. A changed secret value rolls the pods that read it,
through a hash on the pod template that reveals none of the values."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from pulumi_graph import container, objects, one

from components.gateway import CHECKSUM_ANNOTATION
from components.secrets import SECRETS_CHECKSUM_ANNOTATION, secret_data_digest
from tools.offline import MOCK_PASSWORD_PREFIX, SECRET_MARKER


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
    for canary in canary_secrets.values():
        assert canary in everything
    secrets = {s["metadata"]["name"]: s for s in objects(graph, "Secret")}
    provider = secrets["llm-gateway-provider-keys"]["stringData"]
    assert sorted(provider.values()) == sorted(canary_secrets.values())
    assert secrets["llm-gateway-master-key"]["stringData"]["LITELLM_MASTER_KEY"].startswith(
        "sk-" + MOCK_PASSWORD_PREFIX
    )
    assert secrets["llm-gateway-redis-auth"]["stringData"]["REDIS_PASSWORD"].startswith(MOCK_PASSWORD_PREFIX)


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
        "llm-gateway:anthropicApiKey: still the ESC placeholder; set the real key with "
        "esc env set llm-gateway/prod providerKeys.anthropic '<key>' --secret"
    ]
    for canary in canary_secrets.values():
        assert canary not in run.stderr + run.stdout


# --- Secret rotation rolls the pods -------------------------------------------------------------

GATEWAY = "llm-gateway"
REDIS = "llm-gateway-redis"


def _pod_annotations(graph: dict[str, Any], kind: str = "Deployment", name: str = GATEWAY) -> dict[str, str]:
    return one(graph, kind, name)["spec"]["template"]["metadata"]["annotations"]


def _consumed_secret_data(graph: dict[str, Any], kind: str, name: str) -> dict[str, str]:
    """env var → value of every Secret key the workload's container reads, from the Secrets themselves."""
    secrets = {s["metadata"]["name"]: s["stringData"] for s in objects(graph, "Secret")}
    consumed = {}
    for entry in container(graph, kind, name).get("env", []):
        ref = entry.get("valueFrom", {}).get("secretKeyRef")
        if ref:
            consumed[entry["name"]] = secrets[ref["name"]][ref["key"]]
    return consumed


@pytest.mark.parametrize("run", ["staging", "prod"])
def test_secrets_checksum_covers_the_secret_data_the_pods_read(offline_runs: Any, run: str) -> None:
    graph = offline_runs.graph(run)
    consumed = _consumed_secret_data(graph, "Deployment", GATEWAY)
    assert {"OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENROUTER_API_KEY", "LITELLM_MASTER_KEY", "REDIS_PASSWORD"} <= set(
        consumed
    )
    assert _pod_annotations(graph)[SECRETS_CHECKSUM_ANNOTATION] == secret_data_digest(consumed)
    # Redis reads its password twice (server and redis-cli): same value, one entry per env var.
    redis_consumed = {"REDIS_PASSWORD": _consumed_secret_data(graph, "StatefulSet", REDIS)["REDIS_PASSWORD"]}
    assert _pod_annotations(graph, "StatefulSet", REDIS)[SECRETS_CHECKSUM_ANNOTATION] == secret_data_digest(
        redis_consumed
    )


@pytest.mark.parametrize("run", ["staging", "prod"])
def test_secrets_checksum_is_a_plain_hash_with_no_secret_in_it(offline_runs: Any, run: str, needles: list[str]) -> None:
    graph = offline_runs.graph(run)
    for kind, name in (("Deployment", GATEWAY), ("StatefulSet", REDIS)):
        value = _pod_annotations(graph, kind, name)[SECRETS_CHECKSUM_ANNOTATION]
        assert re.fullmatch(r"[0-9a-f]{64}", value), value
        for needle in needles:
            assert needle not in value
    # Recorded as a plain input (not secret-marked), so previews and `make plan` show it change.
    deployment = next(r for r in graph["resources"] if r["type"] == "kubernetes:apps/v1:Deployment")
    recorded = deployment["inputs"]["spec"]["template"]["metadata"]["annotations"]
    assert isinstance(recorded[SECRETS_CHECKSUM_ANNOTATION], str)


def test_rotating_a_provider_key_rolls_the_gateway_pods(offline_runs: Any) -> None:
    before = _pod_annotations(offline_runs.graph("prod"))
    rotated = _pod_annotations(offline_runs.graph("prod-key-rotated"))
    assert rotated[SECRETS_CHECKSUM_ANNOTATION] != before[SECRETS_CHECKSUM_ANNOTATION]
    assert rotated[CHECKSUM_ANNOTATION] == before[CHECKSUM_ANNOTATION]  # the routing did not change
    # Redis does not read provider keys: it keeps running.
    assert _pod_annotations(offline_runs.graph("prod-key-rotated"), "StatefulSet", REDIS) == _pod_annotations(
        offline_runs.graph("prod"), "StatefulSet", REDIS
    )


def test_unchanged_secrets_keep_the_pods(offline_runs: Any) -> None:
    # Same keys (and the same generated passwords) in a second run: nothing to roll.
    assert _pod_annotations(offline_runs.graph("prod")) == _pod_annotations(offline_runs.graph("prod-unchanged-copy"))


def test_portkey_pods_carry_no_secrets_checksum(offline_runs: Any) -> None:
    # They mount no Secret, so a key rotation has no reason to restart them.
    assert set(_pod_annotations(offline_runs.graph("staging-portkey"))) == {CHECKSUM_ANNOTATION}
