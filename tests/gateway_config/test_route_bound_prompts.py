"""A task can keep its prompts on its own route's providers (`prompts_stay_on_route: true`).

The semantic cache embeds every prompt with the environment's embedding model (another provider,
for a task routed elsewhere) and one cache serves every caller of the gateway. For such a task the
generators turn both off, and validation rejects a spec that would send its prompts anywhere else.
"""

from __future__ import annotations

import json

import pytest
import yaml
from spec_edits import base_text, edit, problems, valid

from gateway_config.build import render

BOUND = (
    "  business_intelligence:\n    tier: tier1\n",
    "  business_intelligence:\n    tier: tier1\n    prompts_stay_on_route: true\n",
)


def _rendered(text: str, environment: str = "prod") -> dict[str, str]:
    return render(valid(text), [environment])


def test_the_generators_give_a_route_bound_task_no_cache_and_no_embedding() -> None:
    files = _rendered(edit(base_text(), BOUND))
    routing = json.loads(files["prod/routing.json"])
    task = routing["tasks"]["business_intelligence"]
    assert task["prompts_stay_on_route"] is True
    assert task["cache"]["mode"] == "off" and task["cache"]["embedding_model"] is None
    # The environment's semantic cache stays on for everyone else.
    assert routing["shared_cache"]["mode"] == "semantic"
    assert routing["tasks"]["code_generation"]["cache"]["mode"] == "semantic"
    # LiteLLM: every deployment of the group skips the shared cache (no lookup, so no embedding; no store).
    config = yaml.safe_load(files["prod/litellm/config.yaml"])
    group = [d for d in config["model_list"] if d["model_name"] == "business_intelligence"]
    assert group and all(d["litellm_params"]["cache"] == {"no-cache": True, "no-store": True} for d in group)
    # Portkey: no cache in the task's config.
    assert "cache" not in json.loads(files["prod/portkey/business_intelligence.json"])


def test_without_the_field_the_task_shares_the_semantic_cache() -> None:
    routing = json.loads(_rendered(base_text())["prod/routing.json"])
    assert routing["tasks"]["business_intelligence"]["cache"]["mode"] == "semantic"
    assert routing["tasks"]["business_intelligence"]["prompts_stay_on_route"] is False


@pytest.mark.parametrize(
    ("cache", "key"),
    [
        ("    cache:\n      mode: semantic\n", "mode"),
        ("    cache:\n      mode: simple\n", "mode"),
        ("    cache:\n      embedding_model: text-embedding-3-small\n", "embedding_model"),
    ],
)
def test_validation_rejects_a_cache_for_a_route_bound_task(cache: str, key: str) -> None:
    text = edit(base_text(), (BOUND[0], BOUND[1] + cache))
    assert any(
        line.startswith("spec.yaml:")
        and f"tasks.business_intelligence.cache.{key}:" in line
        and "prompts_stay_on_route" in line
        for line in problems(text)
    ), problems(text)


def test_validation_rejects_an_experiment_sending_the_prompts_to_another_provider() -> None:
    outside = edit(
        base_text(),
        BOUND,
        (
            "    task: chat\n    variant:\n      model: claude-haiku\n",
            "    task: business_intelligence\n    variant:\n      model: llama-3.3-70b\n",
        ),
    )
    lines = problems(outside)
    assert any(
        "experiments.chat-haiku-first.variant.model:" in line and "sends them to openrouter" in line for line in lines
    ), lines
    # A variant served by a provider the route already uses keeps the prompts on the route.
    inside = edit(
        base_text(),
        BOUND,
        (
            "    task: chat\n    variant:\n      model: claude-haiku\n",
            "    task: business_intelligence\n    variant:\n      model: claude-haiku\n",
        ),
    )
    valid(inside)


def test_the_field_is_strict() -> None:
    text = edit(base_text(), (BOUND[0], BOUND[0] + '    prompts_stay_on_route: "yes"\n'))
    assert any("tasks.business_intelligence.prompts_stay_on_route:" in line for line in problems(text)), problems(text)
