"""A routing change or a rotated key rolls the pods without a window in which their config or keys
are missing: the ConfigMap and Secrets the pods read carry no fixed name, Pulumi names them, and the
pod spec takes those names from the objects' outputs. A changed object is then a *new* object (the
replacement creates before it deletes, which a fixed name would forbid), the pod template changes
with its name, and the Deployment rolls the pods onto it.

On the mocked graph the mock provider plays Pulumi's auto-naming (``tools/pulumi_mocks.py``): a name
follows the object's content, as a replacement's new random suffix would.
"""

from __future__ import annotations

from typing import Any

from pulumi_graph import APPLICATION_SECRETS, AUTO_NAMED, auto_named, container, generated_name, one

from program.generated_tree import load_generated_config
from runtime.engines import LITELLM

GATEWAY = "llm-gateway"
REDIS = "llm-gateway-redis-cache"
STATE = "llm-gateway-redis-state"
CONFIG = "llm-gateway-config"
PROVIDER_KEYS = "llm-gateway-provider-keys"
MASTER_KEY = "llm-gateway-master-key-secret"
REDIS_AUTH = "llm-gateway-redis-cache-auth"
STATE_AUTH = "llm-gateway-redis-state-auth"
REQUEST_LOG_KEYS = "llm-gateway-request-log-keys"


def _pod_template(graph: dict[str, Any], kind: str = "Deployment", name: str = GATEWAY) -> dict[str, Any]:
    template: dict[str, Any] = one(graph, kind, name)["spec"]["template"]
    return template


def _secrets_read(graph: dict[str, Any], kind: str, name: str) -> set[str]:
    """Secrets a pod reads: by environment variable or as a mounted volume."""
    refs = (entry.get("valueFrom", {}).get("secretKeyRef") for entry in container(graph, kind, name).get("env", []))
    volumes = _pod_template(graph, kind, name)["spec"].get("volumes") or []
    return {ref["name"] for ref in refs if ref} | {v["secret"]["secretName"] for v in volumes if "secret" in v}


def _config_map_read(graph: dict[str, Any]) -> str:
    volumes = {v["name"]: v for v in _pod_template(graph)["spec"]["volumes"]}
    name: str = volumes["config"]["configMap"]["name"]
    return name


def test_config_maps_and_secrets_carry_no_fixed_name(stack_graph: dict[str, Any]) -> None:
    for kind, logical in AUTO_NAMED:
        auto_named(stack_graph, kind, logical)  # asserts: no metadata.name in the inputs, a generated one in state


def test_pods_take_the_names_from_the_objects_outputs(stack_graph: dict[str, Any]) -> None:
    assert _config_map_read(stack_graph) == generated_name(stack_graph, "ConfigMap", CONFIG)
    assert _secrets_read(stack_graph, "Deployment", GATEWAY) == {
        generated_name(stack_graph, "Secret", logical)
        for logical in (PROVIDER_KEYS, MASTER_KEY, REDIS_AUTH, STATE_AUTH, REQUEST_LOG_KEYS, *APPLICATION_SECRETS)
    }
    assert _secrets_read(stack_graph, "StatefulSet", REDIS) == {generated_name(stack_graph, "Secret", REDIS_AUTH)}
    assert _secrets_read(stack_graph, "StatefulSet", STATE) == {generated_name(stack_graph, "Secret", STATE_AUTH)}


def test_unchanged_spec_and_keys_change_nothing(offline_runs: Any) -> None:
    # Same bytes in another directory, same keys: same names, same pod templates, nothing to roll.
    before, copy = offline_runs.graph("prod"), offline_runs.graph("prod-unchanged-copy")
    assert _pod_template(copy) == _pod_template(before)
    assert _pod_template(copy, "StatefulSet", REDIS) == _pod_template(before, "StatefulSet", REDIS)
    assert copy["outputs"]["configChecksum"] == before["outputs"]["configChecksum"]


def test_routing_change_is_a_new_config_map_and_rolls_the_gateway(offline_runs: Any) -> None:
    before, after = offline_runs.graph("prod"), offline_runs.graph("prod-routing-changed")
    assert generated_name(after, "ConfigMap", CONFIG) != generated_name(before, "ConfigMap", CONFIG)
    assert _config_map_read(after) == generated_name(after, "ConfigMap", CONFIG)
    assert _pod_template(after) != _pod_template(before)  # the Deployment rolls
    old = auto_named(before, "ConfigMap", CONFIG)["data"]["litellm.config.yaml"]
    assert auto_named(after, "ConfigMap", CONFIG)["data"]["litellm.config.yaml"] != old
    # Reviewers see the change as a new checksum; keys and Redis are untouched.
    assert after["outputs"]["configChecksum"] != before["outputs"]["configChecksum"]
    assert _secrets_read(after, "Deployment", GATEWAY) == _secrets_read(before, "Deployment", GATEWAY)
    assert _pod_template(after, "StatefulSet", REDIS) == _pod_template(before, "StatefulSet", REDIS)


def test_rotating_a_provider_key_is_a_new_secret_and_rolls_the_gateway(offline_runs: Any) -> None:
    before, rotated = offline_runs.graph("prod"), offline_runs.graph("prod-key-rotated")
    assert generated_name(rotated, "Secret", PROVIDER_KEYS) != generated_name(before, "Secret", PROVIDER_KEYS)
    assert generated_name(rotated, "Secret", PROVIDER_KEYS) in _secrets_read(rotated, "Deployment", GATEWAY)
    assert _pod_template(rotated) != _pod_template(before)
    # The routing did not change, nor did the generated keys; Redis reads no provider key: it keeps running.
    assert _config_map_read(rotated) == _config_map_read(before)
    for logical in (MASTER_KEY, REDIS_AUTH, STATE_AUTH):
        assert generated_name(rotated, "Secret", logical) == generated_name(before, "Secret", logical)
    assert _pod_template(rotated, "StatefulSet", REDIS) == _pod_template(before, "StatefulSet", REDIS)


def test_no_checksum_annotations_where_the_name_already_changes(stack_graph: dict[str, Any]) -> None:
    for kind, name in (("Deployment", GATEWAY), ("StatefulSet", REDIS), ("StatefulSet", STATE)):
        assert "annotations" not in _pod_template(stack_graph, kind, name)["metadata"]


def test_portkey_pods_read_no_secret(offline_runs: Any) -> None:
    # OSS Portkey reads no keys, so a key rotation has no reason to restart it.
    assert _secrets_read(offline_runs.graph("staging-portkey"), "Deployment", GATEWAY) == set()


def test_stacks_serve_their_own_environment(offline_runs: Any) -> None:
    staging, prod = offline_runs.graph("staging"), offline_runs.graph("prod")
    assert staging["outputs"]["environment"]["value"] == "staging"
    assert prod["outputs"]["environment"]["value"] == "prod"


def test_checksum_is_the_content_hash(generated_root: Any) -> None:
    first = load_generated_config("prod", LITELLM, generated_root)
    second = load_generated_config("prod", LITELLM, generated_root)
    assert first.checksum == second.checksum and len(first.checksum) == 64
    assert load_generated_config("staging", LITELLM, generated_root).checksum != first.checksum
