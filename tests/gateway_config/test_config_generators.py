"""Specific behaviours of the resolved routes and the generated files, on the frozen base spec."""

from __future__ import annotations

import json
import re

import yaml
from spec_edits import REPO_ROOT, base_text, edit, valid

from gateway_config.build import render
from gateway_config.diff import routing_diff
from gateway_config.generators.litellm import HOOK_MODULES
from gateway_config.generators.portkey import portkey_config
from gateway_config.resolve import resolve_environment
from runtime.engines import LITELLM, shipped_files


def _portkey(text: str, environment: str, task: str) -> dict:
    return json.loads(render(valid(text), [environment])[f"{environment}/portkey/{task}.json"])


def _litellm(text: str, environment: str) -> dict:
    return yaml.safe_load(render(valid(text), [environment])[f"{environment}/litellm/config.yaml"])


def _manifest(text: str, environment: str) -> dict:
    return json.loads(render(valid(text), [environment])[f"{environment}/routing.json"])


def test_environment_slos_override_only_the_fields_they_name() -> None:
    text = edit(
        base_text(),
        ("  p95_latency_seconds: 10\n", "  p95_latency_seconds: 12\n"),
        ("  cache_hit_rate_percent: 20\n", "  cache_hit_rate_percent: 25\n"),
        ("        embeddings: 1000\n", "        embeddings: 1000\n    slos:\n      error_rate_percent: 0.5\n"),
    )
    expected = {
        "error_rate_percent": 1.0,
        "p95_latency_seconds": 12.0,
        "cache_hit_rate_percent": 25.0,
        "availability_percent": 99.9,
        "gateway_overhead_ms": 100.0,
    }
    assert _manifest(text, "staging")["slos"] == expected
    # prod changes its error rate only; the rest still comes from the spec-level `slos`.
    assert _manifest(text, "prod")["slos"] == {**expected, "error_rate_percent": 0.5}


def test_semantic_cache_embedder_keeps_its_model_timeout() -> None:
    # The cache embeds every prompt before routing: a hanging embedder must cost its own timeout, not 30 s.
    text = edit(
        base_text(), ("    id: text-embedding-3-small\n", "    id: text-embedding-3-small\n    timeout_seconds: 4\n")
    )
    cache_groups = [
        deployment
        for deployment in _litellm(text, "prod")["model_list"]
        if deployment["model_name"] == "semantic-cache-embedding"
    ]
    assert [group["litellm_params"]["timeout"] for group in cache_groups] == [4.0]


def test_fallback_chain_fails_over_at_once_and_retries_only_the_last_target() -> None:
    config = _portkey(base_text(), "prod", "code_generation")
    codes = [408, 429, 500, 502, 503, 504]
    assert config["strategy"] == {
        "mode": "fallback",
        "on_status_codes": codes,
        # Portkey's hosted circuit breaker: the first failure takes a target out for the cooldown.
        "cb_config": {"failure_threshold": 1, "cooldown_interval": 30000, "failure_status_codes": codes},
    }
    assert "retry" not in config  # a top-level retry applies to every target: 7 s per request in an outage
    assert [target["retry"]["attempts"] for target in config["targets"]] == [0, 3]
    # Model Catalog providers by slug, as Portkey's current config schema names them.
    assert [target["override_params"]["model"] for target in config["targets"]] == [
        "@prod-gpt4-primary/gpt-4o",
        "@prod-claude-primary/claude-sonnet-4-5-20250929",
    ]
    assert not any("virtual_key" in target or "provider" in target for target in config["targets"])
    assert [target["request_timeout"] for target in config["targets"]] == [25000, 30000]


def test_task_overrides_reach_every_runtime() -> None:
    text = edit(
        base_text(),
        ("    tier: tier2\n", "    tier: tier2\n    request_timeout_seconds: 12\n    retry:\n      attempts: 5\n"),
    )
    config = _portkey(text, "staging", "chat")
    leaves = [leaf for branch in config["targets"] for leaf in branch["targets"]]
    assert {leaf["retry"]["attempts"] for leaf in leaves} == {0, 5}
    assert {leaf["request_timeout"] for leaf in leaves} == {12000}
    chat = _manifest(text, "staging")["tasks"]["chat"]
    assert chat["retry"]["attempts"] == 5 and chat["request_timeout_seconds"] == 12


def test_experiment_carves_its_share_out_of_the_control() -> None:
    config = _portkey(base_text(), "prod", "chat")
    assert config["strategy"]["mode"] == "loadbalance"
    assert [branch["weight"] for branch in config["targets"]] == [0.9, 0.1]
    litellm = _litellm(base_text(), "prod")
    chat = [d for d in litellm["model_list"] if d["model_name"] == "chat"]
    assert [
        (d["litellm_params"]["model"], d["litellm_params"]["order"], d["litellm_params"].get("weight")) for d in chat
    ] == [
        ("openai/gpt-4o-mini", 1, 90.0),
        ("anthropic/claude-haiku-4-5-20251001", 1, 10.0),
        # The split leaves nothing behind order 1: the control chain's last target is repeated as the
        # single last resort, which is never cooled down quickly (no 429 for the whole group).
        ("anthropic/claude-haiku-4-5-20251001", 2, None),
    ]
    assert [d["model_info"].get("allowed_fails") for d in chat] == [0, 0, None]
    assert chat[2]["model_info"]["id"] == "chat/claude-haiku/last-resort"


def test_experiment_limited_to_one_environment() -> None:
    text = edit(base_text(), ("    traffic_percent: 10\n", "    traffic_percent: 10\n    environments: [staging]\n"))
    assert _portkey(text, "staging", "chat")["strategy"]["mode"] == "loadbalance"
    assert _portkey(text, "prod", "chat")["strategy"]["mode"] == "fallback"


def test_custom_host_environment_names_provider_and_url() -> None:
    config = _portkey(base_text(), "local", "code_generation")
    assert [(t["provider"], t["custom_host"]) for t in config["targets"]] == [
        ("openai", "http://127.0.0.1:8090/openai/v1"),
        ("anthropic", "http://127.0.0.1:8090/anthropic/v1"),
    ]
    assert not any("virtual_key" in target or "@" in target["override_params"]["model"] for target in config["targets"])
    # The OSS gateway never registers a circuit breaker: the local configs do not pretend to have one.
    assert "cb_config" not in config["strategy"]


def test_cortex_task_is_in_the_manifest_but_not_in_the_gateways() -> None:
    files = render(valid(base_text()), ["prod"])
    assert "prod/portkey/embeddings.json" not in files
    assert "embeddings" not in {
        d["model_name"] for d in yaml.safe_load(files["prod/litellm/config.yaml"])["model_list"]
    }
    assert json.loads(files["prod/routing.json"])["tasks"]["embeddings"]["cortex"] == {
        "function": "SNOWFLAKE.CORTEX.EMBED_TEXT_768",
        "model": "snowflake-arctic-embed-m-v1.5",
    }


def test_cache_off_task_has_no_portkey_cache() -> None:
    assert "cache" not in _portkey(base_text(), "prod", "experimental")
    assert _portkey(base_text(), "prod", "code_generation")["cache"] == {"mode": "semantic", "max_age": 86400}
    assert _portkey(base_text(), "local", "code_generation")["cache"] == {"mode": "simple", "max_age": 86400}


def test_loadbalance_weight_zero_target_gets_no_first_choice_traffic() -> None:
    text = edit(base_text(), ("        weight: 1\n", "        weight: 0\n"))
    task = next(t for t in resolve_environment(valid(text), "prod").tasks if t.name == "experimental")
    assert [(branch.percent, branch.chain[0].model) for branch in task.branches] == [(100.0, "llama-3.3-70b")]
    config = portkey_config(task)
    assert config["strategy"]["mode"] == "fallback"
    assert [t["override_params"]["model"] for t in config["targets"]][:2] == [
        "@prod-openrouter-exp/meta-llama/llama-3.3-70b-instruct",
        "@prod-openrouter-exp/deepseek/deepseek-chat",
    ]


def test_litellm_carries_per_task_cache_controls_on_every_deployment() -> None:
    # LiteLLM has one cache per proxy: a task that turns the cache off, or keeps entries longer,
    # says so on each of its deployments (the proxy passes litellm_params into every call).
    deployments = _litellm(base_text(), "prod")["model_list"]
    controls = {(d["model_name"], json.dumps(d["litellm_params"].get("cache"))) for d in deployments}
    by_task: dict[str, set[str]] = {}
    for task, control in controls:
        by_task.setdefault(task, set()).add(control)
    assert by_task["experimental"] == {json.dumps({"no-cache": True, "no-store": True})}
    assert by_task["code_generation"] == {json.dumps({"ttl": 86400})}
    assert by_task["chat"] == {"null"}  # same cache as the environment: nothing to say


def test_litellm_task_cache_control_disappears_when_the_environment_cache_is_off() -> None:
    text = edit(base_text(), ("    mode: semantic\n", '    mode: "off"\n'))
    deployments = _litellm(text, "prod")["model_list"]
    assert all("cache" not in d["litellm_params"] for d in deployments if d["model_name"] == "experimental")


def test_litellm_retries_only_the_exception_classes_of_the_listed_status_codes() -> None:
    # LiteLLM retries by exception class: a task retrying only 429s must not retry 500s or 503s.
    text = edit(
        base_text(),
        (
            "  chat:\n    tier: tier2\n",
            "  chat:\n    tier: tier2\n    retry:\n      attempts: 2\n      on_status_codes: [429]\n",
        ),
    )
    policies = _litellm(text, "prod")["router_settings"]["model_group_retry_policy"]
    assert policies == {
        "chat": {
            "BadRequestErrorRetries": 0,
            "ContentPolicyViolationErrorRetries": 0,
            "DefaultRetries": 2,
            "InternalServerErrorRetries": 0,
            "RateLimitErrorRetries": 2,
            "ServiceUnavailableErrorRetries": 0,
            "TimeoutErrorRetries": 0,
        }
    }
    # Tasks that follow the defaults are described by the router-level num_retries alone.
    assert _litellm(base_text(), "prod")["router_settings"]["model_group_retry_policy"] == {}


def test_model_catalog_manifest_states_each_provider_its_integration_and_credit_limit() -> None:
    providers = _manifest(base_text(), "prod")["portkey_providers"]
    assert sorted(providers) == ["prod-claude-primary", "prod-gpt4-primary", "prod-openrouter-exp"]
    openrouter = providers["prod-openrouter-exp"]
    assert (openrouter["ai_provider_id"], openrouter["integration"], openrouter["api_key_env"]) == (
        "openrouter",
        "llm-gateway-prod-openrouter",
        "OPENROUTER_API_KEY",
    )
    # Only `experimental` reaches OpenRouter, and the base spec gives it no budget: the environment's applies.
    assert openrouter["tasks"] == ["experimental"] and openrouter["credit_limit_usd_monthly"] == 20000
    with_budget = edit(
        base_text(), ("        embeddings: 1000\n", "        embeddings: 1000\n        experimental: 700\n")
    )
    assert _manifest(with_budget, "prod")["portkey_providers"]["prod-openrouter-exp"]["credit_limit_usd_monthly"] == 700
    # A group is one Portkey provider per AI provider; every target names its slug.
    staging = _manifest(base_text(), "staging")
    assert sorted(staging["portkey_providers"]) == [
        f"staging-all-providers-{p}" for p in ("anthropic", "openai", "openrouter")
    ]
    assert {t["portkey_provider"] for t in staging["tasks"]["chat"]["targets"]} == {
        "staging-all-providers-openai",
        "staging-all-providers-anthropic",
    }
    # The OSS gateway has no catalog: nothing to create locally.
    assert _manifest(base_text(), "local")["portkey_providers"] == {}


def test_task_budgets_bound_a_provider_only_when_every_task_reaching_it_has_one() -> None:
    # openai serves code_generation (6000) and chat / business_intelligence (no budget): no tighter ceiling.
    assert _manifest(base_text(), "prod")["portkey_providers"]["prod-gpt4-primary"]["credit_limit_usd_monthly"] == 20000
    text = edit(
        base_text(),
        (
            "        embeddings: 1000\n",
            "        embeddings: 1000\n        chat: 2000\n"
            "        business_intelligence: 3000\n        experimental: 500\n",
        ),
    )
    limits = {slug: p["credit_limit_usd_monthly"] for slug, p in _manifest(text, "prod")["portkey_providers"].items()}
    # openai: 6000 + 3000 + 2000 + 500 (experimental falls back to tier2's gpt-4o-mini)
    assert limits == {"prod-gpt4-primary": 11500, "prod-claude-primary": 11500, "prod-openrouter-exp": 500}


def test_rate_limit_reaches_the_manifest_and_the_diff() -> None:
    text = edit(
        base_text(),
        (
            "    providers: [openrouter]\n",
            "    providers: [openrouter]\n    rate_limit:\n      unit: rpm\n      value: 60\n",
        ),
    )
    entry = _manifest(text, "prod")["portkey_providers"]["prod-openrouter-exp"]
    assert entry["rate_limit"] == {"type": "requests", "unit": "rpm", "value": 60}
    report = routing_diff(valid(base_text()), valid(text), ["prod"])
    assert "Portkey provider `@prod-openrouter-exp` rate limit: none → 60 requests rpm" in report
    budget = edit(base_text(), ("        embeddings: 1000\n", "        embeddings: 1000\n        experimental: 700\n"))
    assert "Portkey provider `@prod-openrouter-exp` credit limit: 20000 → 700 USD/month" in routing_diff(
        valid(base_text()), valid(budget), ["prod"]
    )


def test_litellm_cools_a_target_only_on_the_tasks_retry_codes_and_timeouts() -> None:
    # A task that retries only 429s: a 500 or 503 no longer takes its target out of rotation, a 404 or
    # 401 never does, a timeout always does; BadRequest is not named (naming it would opt it in).
    text = edit(
        base_text(),
        ("  chat:\n    tier: tier2\n", "  chat:\n    tier: tier2\n    retry:\n      on_status_codes: [429]\n"),
    )
    never = 1_000_000_000
    deployments = {d["model_info"]["id"]: d["model_info"] for d in _litellm(text, "prod")["model_list"]}
    assert deployments["chat/gpt-4o-mini"]["allowed_fails_policy"] == {
        "AuthenticationErrorAllowedFails": never,
        "BadGatewayErrorAllowedFails": never,
        "InternalServerErrorAllowedFails": never,
        "NotFoundErrorAllowedFails": never,
        "RateLimitErrorAllowedFails": 0,
        "ServiceUnavailableErrorAllowedFails": never,
        "TimeoutErrorAllowedFails": 0,
    }
    default = deployments["code_generation/gpt-4o"]["allowed_fails_policy"]
    assert {name for name, count in default.items() if count == 0} == {
        "BadGatewayErrorAllowedFails",
        "InternalServerErrorAllowedFails",
        "RateLimitErrorAllowedFails",
        "ServiceUnavailableErrorAllowedFails",
        "TimeoutErrorAllowedFails",
    }
    for info in deployments.values():
        assert "BadRequestErrorAllowedFails" not in info.get("allowed_fails_policy", {})
        # The last resort keeps LiteLLM's own rule (it is never cooled down quickly).
        assert ("allowed_fails_policy" in info) == ("allowed_fails" in info)


def test_litellm_loads_the_client_contract_hooks_it_is_shipped_with() -> None:
    config = _litellm(base_text(), "prod")
    assert config["general_settings"]["custom_auth"] == "gateway_auth.user_api_key_auth"
    settings = config["litellm_settings"]
    # Metrics, the request log, then the client contract's callback.
    assert settings["callbacks"] == ["prometheus", "s3_v2", "gateway_hooks.proxy_handler_instance"]
    assert settings["use_chat_completions_url_for_anthropic_messages"] is True
    shipped = {destination.removeprefix("litellm/") for destination in shipped_files(LITELLM)}
    assert set(HOOK_MODULES) <= shipped
    for hook in (config["general_settings"]["custom_auth"], settings["callbacks"][-1]):
        module, attribute = hook.split(".")
        source = (REPO_ROOT / "runtime" / "litellm" / "hooks" / f"{module}.py").read_text()
        assert re.search(rf"^(async def {attribute}\(|{attribute} = )", source, re.MULTILINE), hook


def test_manifest_names_each_applications_tasks_and_key_variable() -> None:
    text = base_text() + "applications:\n  support-bot:\n    description: Support.\n    tasks: [chat]\n"
    for environment in ("staging", "prod", "local"):
        assert _manifest(text, environment)["applications"] == {
            "support-bot": {"description": "Support.", "tasks": ["chat"], "key_env": "LLM_GATEWAY_APP_KEY_SUPPORT_BOT"}
        }
    assert _manifest(base_text(), "prod")["applications"] == {}
