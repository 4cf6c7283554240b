"""The pod template carries a checksum of the generated config: a routing change rolls the pods."""

from __future__ import annotations

from typing import Any

from pulumi_graph import one

ANNOTATION = "llm-gateway/config-checksum"


def _pod_checksum(graph: dict[str, Any]) -> str:
    return one(graph, "Deployment", "llm-gateway")["spec"]["template"]["metadata"]["annotations"][ANNOTATION]


def test_unchanged_spec_keeps_the_checksum(offline_runs: Any) -> None:
    # Same bytes in another directory: nothing to roll.
    assert _pod_checksum(offline_runs.graph("prod")) == _pod_checksum(offline_runs.graph("prod-unchanged-copy"))


def test_routing_change_changes_the_checksum(offline_runs: Any) -> None:
    before, after = offline_runs.graph("prod"), offline_runs.graph("prod-routing-changed")
    assert _pod_checksum(before) != _pod_checksum(after)
    assert after["outputs"]["configChecksum"]["value"] == _pod_checksum(after)
    config_before = one(before, "ConfigMap", "llm-gateway-config")["data"]["litellm.config.yaml"]
    config_after = one(after, "ConfigMap", "llm-gateway-config")["data"]["litellm.config.yaml"]
    assert config_after != config_before


def test_stacks_serve_their_own_environment(offline_runs: Any) -> None:
    staging, prod = offline_runs.graph("staging"), offline_runs.graph("prod")
    assert staging["outputs"]["environment"]["value"] == "staging"
    assert prod["outputs"]["environment"]["value"] == "prod"


def test_checksum_is_the_content_hash(generated_root: Any) -> None:
    from components.generated_config import load_generated_config

    first = load_generated_config("prod", "litellm", generated_root)
    second = load_generated_config("prod", "litellm", generated_root)
    assert first.checksum == second.checksum and len(first.checksum) == 64
    portkey = load_generated_config("prod", "portkey", generated_root)
    assert portkey.checksum != first.checksum
