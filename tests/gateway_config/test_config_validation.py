"""Every validation rule of the routing spec (spec.py shape rules, rules.py whole-document rules).

Each case edits the frozen base spec (`base.yaml`) and asserts the complete list of error lines:
file, line number, key path and message. Line numbers are looked up from a needle in the edited
text, so a case states *which* line is meant rather than a number that drifts with the base spec.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from spec_edits import SPEC_FILE, base_text, edit, line_of, problems, valid

from gateway_config.build import render
from gateway_config.rules import PORTKEY_SLUG_MESSAGE

SEMANTIC_LAYER = "a semantic cache needs an embedding_model"
TIERS = "cortex-embeddings, experimental, tier1, tier2"
MODELS = (
    "arctic-embed-m, claude-haiku, claude-sonnet, deepseek-chat, gpt-4o, gpt-4o-mini, llama-3.3-70b, "
    "text-embedding-3-small"
)
PROVIDERS = "anthropic, cortex, openai, openrouter"
TASKS = "business_intelligence, chat, code_generation, embeddings, experimental"
KEYS = "dev-test-keys, prod-claude-primary, prod-gpt4-primary, prod-openrouter-exp, staging-all-providers"
UNKNOWN_KEY = "unknown key (check the spelling; see routing.schema.json for the allowed keys)"
MISSING = "required key is missing"


@dataclass(frozen=True)
class Case:
    id: str
    edits: tuple[tuple[str, str], ...]
    # (needle that is on the reported line, key path, message)
    expected: tuple[tuple[str, str, str], ...]


def case(id: str, edits: list[tuple[str, str]] | tuple[str, str], *expected: tuple[str, str, str]) -> Case:
    return Case(id, tuple(edits) if isinstance(edits, list) else (edits,), expected)


# --- spec.py: shape, types (strict mode), ranges, unknown keys ------------------------------------
SHAPE_CASES = [
    case(
        "unknown-top-level-key",
        ("version: 1\n", "version: 1\nrouting_overrides: {}\n"),
        ("routing_overrides:", "routing_overrides", UNKNOWN_KEY),
    ),
    case(
        "unknown-task-key",
        ("    tier: tier2\n", "    tier: tier2\n    teir: tier1\n"),
        ("teir: tier1", "tasks.chat.teir", UNKNOWN_KEY),
    ),
    case(
        "unknown-key-in-target-mapping",
        ("        weight: 3\n", "        weight: 3\n        priority: 1\n"),
        ("priority: 1", "tiers.experimental.targets[0].priority", UNKNOWN_KEY),
    ),
    case(
        "unknown-key-in-env-provider-override",
        (
            "        base_url: http://127.0.0.1:8090/openai/v1\n",
            "        base_url: http://127.0.0.1:8090/openai/v1\n        api_key_env: LOCAL_KEY\n",
        ),
        ("LOCAL_KEY", "environments.local.providers.openai.api_key_env", UNKNOWN_KEY),
    ),
    case(
        "wrong-version",
        ("version: 1\n", "version: 2\n"),
        ("version: 2", "version", "Input should be 1 (got 2)"),
    ),
    case(
        "missing-required-section",
        [("  cache:\n    mode: semantic\n", "  cache_settings:\n    mode: semantic\n")],
        ("defaults:\n  cache_settings:", "defaults.cache", MISSING),
        ("  cache_settings:", "defaults.cache_settings", UNKNOWN_KEY),
    ),
    case(
        "missing-required-task-tier",
        ("    tier: tier2\n", "    description: no tier\n"),
        ("  chat:\n    description: no tier", "tasks.chat.tier", MISSING),
    ),
    case(
        "missing-budgets",
        ("    budgets:\n      monthly_usd: 0\n", "    budgets: null\n"),
        ("budgets: null", "environments.local.budgets", "Input should be a valid dictionary or instance of Budgets"),
    ),
    case(
        "provider-kind",
        ("    kind: openrouter\n", "    kind: together\n"),
        (
            "kind: together",
            "providers.openrouter.kind",
            "Input should be 'openai', 'anthropic', 'openrouter' or 'snowflake_cortex' (got 'together')",
        ),
    ),
    case(
        "provider-base-url-not-a-url",
        ("    base_url: https://openrouter.ai/api/v1\n", "    base_url: openrouter.ai/api/v1\n"),
        (
            "openrouter.ai/api/v1",
            "providers.openrouter.base_url",
            "must be an http(s) URL without credentials (user:password@), query or fragment",
        ),
    ),
    case(
        "provider-api-key-env-lowercase",
        ("api_key_env: OPENAI_API_KEY", "api_key_env: openai_key"),
        (
            "openai_key",
            "providers.openai.api_key_env",
            "must be an environment variable name: A-Z, 0-9 and '_' (got 'openai_key')",
        ),
    ),
    case(
        "gateway-provider-without-key",
        ("    api_key_env: ANTHROPIC_API_KEY\n", ""),
        (
            "  anthropic:\n    kind: anthropic",
            "providers.anthropic",
            "a 'anthropic' provider needs api_key_env",
        ),
    ),
    case(
        "model-id-with-space",
        ("    id: deepseek/deepseek-chat\n", "    id: deepseek chat\n"),
        ("deepseek chat", "models.deepseek-chat.id", "String should match pattern '^\\S+$' (got 'deepseek chat')"),
    ),
    case(
        "model-kind",
        ("    kind: embedding\n    embedding_dimensions: 768", "    kind: rerank\n    embedding_dimensions: 768"),
        ("kind: rerank", "models.arctic-embed-m.kind", "Input should be 'chat' or 'embedding' (got 'rerank')"),
    ),
    case(
        "model-timeout-zero",
        ("    timeout_seconds: 25\n", "    timeout_seconds: 0\n"),
        (
            "timeout_seconds: 0",
            "models.gpt-4o.timeout_seconds",
            "Input should be greater than or equal to 0.01 (got 0)",
        ),
    ),
    case(
        "model-timeout-string",
        ("    timeout_seconds: 25\n", "    timeout_seconds: 25s\n"),
        ("timeout_seconds: 25s", "models.gpt-4o.timeout_seconds", "Input should be a valid number (got '25s')"),
    ),
    case(
        "target-weight-negative",
        ("        weight: 1\n", "        weight: -1\n"),
        (
            "weight: -1",
            "tiers.experimental.targets[1].weight",
            "Input should be greater than or equal to 0 (got -1)",
        ),
    ),
    case(
        "target-weight-string",
        ("        weight: 3\n", '        weight: "3"\n'),
        ('weight: "3"', "tiers.experimental.targets[0].weight", "Input should be a valid number (got '3')"),
    ),
    case(
        "target-not-a-name",
        ("    targets: [gpt-4o, claude-sonnet]\n", "    targets: [gpt-4o, 42]\n"),
        (
            "targets: [gpt-4o, 42]",
            "tiers.tier1.targets[1]",
            "Input should be a valid dictionary or instance of Target",
        ),
    ),
    case(
        "tier-without-targets",
        ("    targets: [arctic-embed-m]\n", "    targets: []\n"),
        (
            "targets: []",
            "tiers.cortex-embeddings.targets",
            "List should have at least 1 item after validation, not 0 (got [])",
        ),
    ),
    case(
        "tier-strategy",
        ("    strategy: loadbalance\n", "    strategy: round_robin\n"),
        (
            "round_robin",
            "tiers.experimental.strategy",
            "Input should be 'fallback' or 'loadbalance' (got 'round_robin')",
        ),
    ),
    case(
        "cache-threshold-zero",
        ("    similarity_threshold: 0.95\n", "    similarity_threshold: 0\n"),
        ("similarity_threshold: 0", "defaults.cache.similarity_threshold", "Input should be greater than 0 (got 0)"),
    ),
    case(
        "cache-threshold-above-one",
        ("    similarity_threshold: 0.95\n", "    similarity_threshold: 1.01\n"),
        (
            "similarity_threshold: 1.01",
            "defaults.cache.similarity_threshold",
            "Input should be less than or equal to 1 (got 1.01)",
        ),
    ),
    case(
        "cache-mode",
        ('      mode: "off"\n', "      mode: false\n"),
        (
            "mode: false",
            "tasks.experimental.cache.mode",
            "Input should be 'semantic', 'simple' or 'off' (got False)",
        ),
    ),
    case(
        "cache-ttl-zero",
        ("      ttl_seconds: 86400\n", "      ttl_seconds: 0\n"),
        (
            "ttl_seconds: 0",
            "tasks.code_generation.cache.ttl_seconds",
            "Input should be greater than or equal to 1 (got 0)",
        ),
    ),
    case(
        "retry-attempts-negative",
        ("    attempts: 3\n", "    attempts: -1\n"),
        ("attempts: -1", "defaults.retry.attempts", "Input should be greater than or equal to 0 (got -1)"),
    ),
    case(
        "retry-attempts-eleven",
        ("    attempts: 3\n", "    attempts: 11\n"),
        ("attempts: 11", "defaults.retry.attempts", "Input should be less than or equal to 10 (got 11)"),
    ),
    case(
        "retry-attempts-word",
        ("    attempts: 3\n", "    attempts: three\n"),
        ("attempts: three", "defaults.retry.attempts", "Input should be a valid integer (got 'three')"),
    ),
    case(
        "retry-attempts-float",
        ("    attempts: 3\n", "    attempts: 3.0\n"),
        ("attempts: 3.0", "defaults.retry.attempts", "Input should be a valid integer (got 3.0)"),
    ),
    case(
        "retry-attempts-bool",
        ("    attempts: 3\n", "    attempts: yes\n"),
        ("attempts: yes", "defaults.retry.attempts", "Input should be a valid integer (got True)"),
    ),
    case(
        "retry-backoff",
        ("    backoff: exponential\n", "    backoff: linear\n"),
        ("backoff: linear", "defaults.retry.backoff", "Input should be 'exponential' (got 'linear')"),
    ),
    case(
        "retry-status-code-out-of-range",
        ("[429, 500, 502, 503, 504]", "[429, 200]"),
        (
            "[429, 200]",
            "defaults.retry.on_status_codes[1]",
            "Input should be greater than or equal to 400 (got 200)",
        ),
    ),
    case(
        "retry-status-codes-empty",
        ("[429, 500, 502, 503, 504]", "[]"),
        (
            "on_status_codes: []",
            "defaults.retry.on_status_codes",
            "List should have at least 1 item after validation, not 0 (got [])",
        ),
    ),
    case(
        "task-timeout-too-long",
        ("    request_timeout_seconds: 60\n", "    request_timeout_seconds: 601\n"),
        (
            "request_timeout_seconds: 601",
            "tasks.business_intelligence.request_timeout_seconds",
            "Input should be less than or equal to 600 (got 601)",
        ),
    ),
    case(
        "connection-pool-zero",
        ("  connection_pool: 100\n", "  connection_pool: 0\n"),
        ("connection_pool: 0", "defaults.connection_pool", "Input should be greater than or equal to 1 (got 0)"),
    ),
    case(
        "cooldown-zero",
        ("  cooldown_seconds: 30\n", "  cooldown_seconds: 0\n"),
        ("cooldown_seconds: 0", "defaults.cooldown_seconds", "Input should be greater than or equal to 1 (got 0)"),
    ),
    case(
        "variant-model-and-tier",
        ("      model: claude-haiku\n", "      model: claude-haiku\n      tier: tier1\n"),
        (
            "    variant:",
            "experiments.chat-haiku-first.variant",
            "give exactly one of 'model' or 'tier'",
        ),
    ),
    case(
        "experiment-kind",
        ("    kind: ab\n", "    kind: shadow\n"),
        ("kind: shadow", "experiments.chat-haiku-first.kind", "Input should be 'ab' or 'canary' (got 'shadow')"),
    ),
    case(
        "experiment-percent-zero",
        ("    traffic_percent: 10\n", "    traffic_percent: 0\n"),
        (
            "traffic_percent: 0",
            "experiments.chat-haiku-first.traffic_percent",
            "Input should be greater than 0 (got 0)",
        ),
    ),
    case(
        "experiment-percent-over-100",
        ("    traffic_percent: 10\n", "    traffic_percent: 100.5\n"),
        (
            "traffic_percent: 100.5",
            "experiments.chat-haiku-first.traffic_percent",
            "Input should be less than or equal to 100 (got 100.5)",
        ),
    ),
    case(
        "experiment-unknown-environment",
        ("    traffic_percent: 10\n", "    traffic_percent: 10\n    environments: [staging, dev]\n"),
        (
            "environments: [staging, dev]",
            "experiments.chat-haiku-first.environments[1]",
            "Input should be 'staging', 'prod' or 'local' (got 'dev')",
        ),
    ),
    case(
        "portkey-provider-environment",
        ("    environment: local\n", "    environment: dev\n"),
        (
            "environment: dev",
            "portkey_providers.dev-test-keys.environment",
            "Input should be 'staging', 'prod' or 'local' (got 'dev')",
        ),
    ),
    case(
        "budget-negative",
        ("      monthly_usd: 1500\n", "      monthly_usd: -5\n"),
        (
            "monthly_usd: -5",
            "environments.staging.budgets.monthly_usd",
            "Input should be greater than or equal to 0 (got -5)",
        ),
    ),
    case(
        "task-budget-string",
        ("        code_generation: 6000\n", '        code_generation: "6000 USD"\n'),
        (
            "6000 USD",
            "environments.prod.budgets.tasks.code_generation",
            "Input should be a valid number (got '6000 USD')",
        ),
    ),
    case(
        "slo-percent-over-100",
        ("  cache_hit_rate_percent: 20\n", "  cache_hit_rate_percent: 120\n"),
        (
            "cache_hit_rate_percent: 120",
            "slos.cache_hit_rate_percent",
            "Input should be less than or equal to 100 (got 120)",
        ),
    ),
    case(
        "slo-error-rate-zero",
        ("  error_rate_percent: 1.0\n", "  error_rate_percent: 0\n"),
        ("error_rate_percent: 0", "slos.error_rate_percent", "Input should be greater than 0 (got 0)"),
    ),
    case(
        "unknown-environment",
        ("  local:\n    portkey_targets", "  dev:\n    portkey_targets"),
        ("  dev:", "environments.dev", "Input should be 'staging', 'prod' or 'local' (got 'dev')"),
    ),
    case(
        "portkey-targets",
        ("    portkey_targets: custom_host\n", "    portkey_targets: base_url\n"),
        (
            "portkey_targets: base_url",
            "environments.local.portkey_targets",
            "Input should be 'model_catalog' or 'custom_host' (got 'base_url')",
        ),
    ),
    case(
        "task-name-pattern",
        ("  chat:\n    tier: tier2", "  Chat Bot:\n    tier: tier2"),
        (
            "Chat Bot:",
            "tasks.Chat Bot",
            "must be a lower-case name: letters, digits, '_', '-', '.'; at most 63 characters (got 'Chat Bot')",
        ),
    ),
]

# --- loader.py: duplicate names (PyYAML would keep the last silently) -----------------------------
DUPLICATE_CASES = [
    case(
        "duplicate-task",
        ("  chat:\n    tier: tier2", "  code_generation:\n    tier: tier2"),
        (
            "  code_generation:\n    tier: tier2",
            "tasks.code_generation",
            "duplicate key: each name may appear only once",
        ),
    ),
    case(
        "duplicate-model",
        ("  deepseek-chat:\n", "  llama-3.3-70b:\n"),
        (
            "  llama-3.3-70b:\n    provider: openrouter\n    id: deepseek",
            "models.llama-3.3-70b",
            "duplicate key: each name may appear only once",
        ),
    ),
    case(
        "duplicate-nested-key",
        ("    request_timeout_seconds: 60\n", "    request_timeout_seconds: 60\n    request_timeout_seconds: 90\n"),
        (
            "request_timeout_seconds: 90",
            "tasks.business_intelligence.request_timeout_seconds",
            "duplicate key: each name may appear only once",
        ),
    ),
    case(
        "duplicate-environment",
        ("  local:\n    portkey_targets", "  prod:\n    portkey_targets"),
        (
            "  prod:\n    portkey_targets: custom_host",
            "environments.prod",
            "duplicate key: each name may appear only once",
        ),
    ),
]


# --- rules.py: references, cycles, keys per environment, budgets, experiments ---------------------
RULE_CASES = [
    case(
        "model-unknown-provider",
        ("    provider: openrouter\n    id: deepseek", "    provider: open-router\n    id: deepseek"),
        (
            "provider: open-router",
            "models.deepseek-chat.provider",
            f"unknown provider 'open-router' (defined: {PROVIDERS})",
        ),
    ),
    case(
        "cortex-embedding-dimensions",
        ("    embedding_dimensions: 768\n", "    embedding_dimensions: 512\n"),
        (
            "embedding_dimensions: 512",
            "models.arctic-embed-m.embedding_dimensions",
            "a Snowflake Cortex embedding model needs embedding_dimensions 768 or 1024",
        ),
    ),
    case(
        "tier-unknown-model",
        ("    targets: [gpt-4o-mini, claude-haiku]\n", "    targets: [gpt-4o-mini, claude-haiku-3]\n"),
        (
            "claude-haiku-3]",
            "tiers.tier2.targets[1].model",
            f"unknown model 'claude-haiku-3' (defined: {MODELS})",
        ),
    ),
    case(
        "tier-model-twice",
        ("    targets: [gpt-4o, claude-sonnet]\n", "    targets: [gpt-4o, claude-sonnet, gpt-4o]\n"),
        (
            "targets: [gpt-4o, claude-sonnet, gpt-4o]",
            "tiers.tier1.targets[2].model",
            "model 'gpt-4o' is listed twice in this tier",
        ),
    ),
    case(
        "tier-mixes-chat-and-embedding",
        ("    targets: [gpt-4o, claude-sonnet]\n", "    targets: [gpt-4o, text-embedding-3-small]\n"),
        (
            "targets: [gpt-4o, text-embedding-3-small]",
            "tiers.tier1.targets",
            "a tier mixes chat and embedding models, or Snowflake Cortex with gateway providers",
        ),
    ),
    case(
        "tier-mixes-cortex-and-gateway",
        ("    targets: [arctic-embed-m]\n", "    targets: [arctic-embed-m, text-embedding-3-small]\n"),
        (
            "targets: [arctic-embed-m, text-embedding-3-small]",
            "tiers.cortex-embeddings.targets",
            "a tier mixes chat and embedding models, or Snowflake Cortex with gateway providers",
        ),
    ),
    case(
        "weight-on-fallback-tier",
        (
            "    targets: [gpt-4o, claude-sonnet]\n",
            "    targets:\n      - gpt-4o\n      - {model: claude-sonnet, weight: 2}\n",
        ),
        ("weight: 2", "tiers.tier1.targets[1].weight", "weight only applies to a 'loadbalance' tier"),
    ),
    case(
        "loadbalance-zero-total",
        [("        weight: 3\n", "        weight: 0\n"), ("        weight: 1\n", "        weight: 0.0\n")],
        ("    targets:\n", "tiers.experimental.targets", "loadbalance weights must have a positive total"),
    ),
    case(
        "unknown-fallback-tier",
        ("    fallback_tier: tier2\n", "    fallback_tier: tier-2\n"),
        ("fallback_tier: tier-2", "tiers.experimental.fallback_tier", f"unknown tier 'tier-2' (defined: {TIERS})"),
    ),
    case(
        "fallback-cycle",
        (
            "    targets: [gpt-4o-mini, claude-haiku]\n",
            "    targets: [gpt-4o-mini, claude-haiku]\n    fallback_tier: experimental\n",
        ),
        (
            "fallback_tier: experimental",
            "tiers.tier2.fallback_tier",
            "fallback cycle: experimental -> tier2 -> experimental",
        ),
    ),
    case(
        "fallback-self-cycle",
        ("    targets: [gpt-4o, claude-sonnet]\n", "    targets: [gpt-4o, claude-sonnet]\n    fallback_tier: tier1\n"),
        ("fallback_tier: tier1", "tiers.tier1.fallback_tier", "fallback cycle: tier1 -> tier1"),
    ),
    case(
        "fallback-tier-into-cortex",
        (
            "    targets: [gpt-4o-mini, claude-haiku]\n",
            "    targets: [gpt-4o-mini, claude-haiku]\n    fallback_tier: cortex-embeddings\n",
        ),
        (
            "fallback_tier: cortex-embeddings",
            "tiers.tier2.fallback_tier",
            "tier 'cortex-embeddings' mixes chat and embedding models, or Snowflake Cortex with gateway providers, "
            "with this tier",
        ),
    ),
    case(
        "cortex-tier-falls-back-to-gateway",
        ("    targets: [arctic-embed-m]\n", "    targets: [arctic-embed-m]\n    fallback_tier: tier1\n"),
        (
            "fallback_tier: tier1",
            "tiers.cortex-embeddings.fallback_tier",
            "tier 'tier1' mixes chat and embedding models, or Snowflake Cortex with gateway providers, with this tier",
        ),
    ),
    case(
        "provider-base-url-without-v1",
        ("    base_url: https://api.openai.com/v1\n", "    base_url: https://api.openai.com\n"),
        (
            "base_url: https://api.openai.com\n",
            "providers.openai.base_url",
            "a gateway provider's base_url must end in /v1 (Portkey's custom_host and the OpenAI wire format need it)",
        ),
    ),
    case(
        "env-base-url-without-v1",
        ("http://127.0.0.1:8090/anthropic/v1", "http://127.0.0.1:8090/anthropic"),
        (
            "http://127.0.0.1:8090/anthropic\n",
            "environments.local.providers.anthropic.base_url",
            "a gateway provider's base_url must end in /v1 (Portkey's custom_host and the OpenAI wire format need it)",
        ),
    ),
    case(
        "task-unknown-tier",
        ("    tier: tier2\n", "    tier: tier3\n"),
        ("tier: tier3", "tasks.chat.tier", f"unknown tier 'tier3' (defined: {TIERS})"),
    ),
    case(
        "cache-embedding-model-unknown",
        ("    embedding_model: text-embedding-3-small\n", "    embedding_model: ada-002\n"),
        ("ada-002", "defaults.cache.embedding_model", f"unknown model 'ada-002' (defined: {MODELS})"),
    ),
    case(
        "cache-embedding-model-is-chat",
        ("      ttl_seconds: 86400\n", "      ttl_seconds: 86400\n      embedding_model: gpt-4o\n"),
        (
            "embedding_model: gpt-4o",
            "tasks.code_generation.cache.embedding_model",
            "model 'gpt-4o' is not an embedding model",
        ),
    ),
    case(
        "cache-embedding-model-cortex",
        ("        mode: simple\n", "        mode: semantic\n        embedding_model: arctic-embed-m\n"),
        (
            "embedding_model: arctic-embed-m",
            "environments.local.defaults.cache.embedding_model",
            "the gateway cannot call Snowflake Cortex for its cache",
        ),
    ),
    case(
        "semantic-cache-without-embedding-model",
        ("    embedding_model: text-embedding-3-small\n", ""),
        ("  cache:\n    mode: semantic", "defaults.cache.embedding_model", SEMANTIC_LAYER),
    ),
    case(
        "env-turns-on-semantic-cache-without-embedding-model",
        [
            ("    mode: semantic\n", "    mode: simple\n"),
            ("    embedding_model: text-embedding-3-small\n", ""),
            ("        mode: simple\n", "        mode: semantic\n"),
        ],
        ("      cache:\n        mode: semantic", "environments.local.defaults.cache.embedding_model", SEMANTIC_LAYER),
    ),
    case(
        "retry-codes-twice",
        ("    tier: tier2\n", "    tier: tier2\n    retry:\n      on_status_codes: [429, 429]\n"),
        ("[429, 429]", "tasks.chat.retry.on_status_codes", "status codes are listed twice"),
    ),
    case(
        "default-retry-codes-twice",
        ("[429, 500, 502, 503, 504]", "[429, 500, 500]"),
        ("[429, 500, 500]", "defaults.retry.on_status_codes", "status codes are listed twice"),
    ),
    case(
        "experiment-unknown-task",
        ("    task: chat\n", "    task: chats\n"),
        ("task: chats", "experiments.chat-haiku-first.task", f"unknown task 'chats' (defined: {TASKS})"),
    ),
    case(
        "experiment-on-cortex-task",
        ("    task: chat\n", "    task: embeddings\n"),
        ("task: embeddings", "experiments.chat-haiku-first.task", "experiments need a task routed through the gateway"),
    ),
    case(
        "experiment-unknown-variant-model",
        ("      model: claude-haiku\n", "      model: claude-opus\n"),
        (
            "model: claude-opus",
            "experiments.chat-haiku-first.variant.model",
            f"unknown model 'claude-opus' (defined: {MODELS})",
        ),
    ),
    case(
        "experiment-variant-model-cortex",
        ("      model: claude-haiku\n", "      model: arctic-embed-m\n"),
        (
            "model: arctic-embed-m",
            "experiments.chat-haiku-first.variant.model",
            "a variant must be served through the gateway",
        ),
    ),
    case(
        "experiment-unknown-variant-tier",
        ("      model: claude-haiku\n", "      tier: tier9\n"),
        ("tier: tier9", "experiments.chat-haiku-first.variant.tier", f"unknown tier 'tier9' (defined: {TIERS})"),
    ),
    case(
        "experiment-variant-model-kind",
        ("      model: claude-haiku\n", "      model: text-embedding-3-small\n"),
        (
            "      model: text-embedding-3-small",
            "experiments.chat-haiku-first.variant.model",
            "the variant serves embedding requests; task 'chat' serves chat requests",
        ),
    ),
    case(
        "experiment-variant-tier-is-cortex",
        ("      model: claude-haiku\n", "      tier: cortex-embeddings\n"),
        (
            "      tier: cortex-embeddings",
            "experiments.chat-haiku-first.variant.tier",
            "a variant must be served through the gateway",
        ),
    ),
    case(
        "experiment-variant-is-own-tier",
        ("      model: claude-haiku\n", "      tier: tier2\n"),
        ("      tier: tier2", "experiments.chat-haiku-first.variant.tier", "the variant is the task's own tier"),
    ),
    case(
        "experiment-environment-twice",
        ("    traffic_percent: 10\n", "    traffic_percent: 10\n    environments: [prod, prod]\n"),
        ("[prod, prod]", "experiments.chat-haiku-first.environments", "an environment is listed twice"),
    ),
    case(
        "experiments-over-100-percent",
        (
            "    traffic_percent: 10\n",
            "    traffic_percent: 10\n  chat-llama:\n    kind: canary\n    task: chat\n    variant:\n"
            "      model: llama-3.3-70b\n    traffic_percent: 95\n    environments: [prod]\n",
        ),
        (
            "traffic_percent: 95",
            "experiments.chat-llama.traffic_percent",
            "experiments on task 'chat' in prod take 105% > 100%",
        ),
    ),
    case(
        "portkey-provider-unknown-provider",
        ("    providers: [openrouter]\n", "    providers: [openrouter, openrouterr]\n"),
        (
            "[openrouter, openrouterr]",
            "portkey_providers.prod-openrouter-exp.providers[1]",
            f"unknown provider 'openrouterr' (defined: {PROVIDERS})",
        ),
    ),
    case(
        "portkey-provider-for-cortex",
        ("    providers: [openrouter]\n", "    providers: [openrouter, cortex]\n"),
        (
            "[openrouter, cortex]",
            "portkey_providers.prod-openrouter-exp.providers[1]",
            "Snowflake Cortex is not reached through Portkey's Model Catalog",
        ),
    ),
    case(
        "portkey-provider-provider-twice",
        ("    providers: [anthropic]\n", "    providers: [anthropic, anthropic]\n"),
        ("[anthropic, anthropic]", "portkey_providers.prod-claude-primary.providers", "a provider is listed twice"),
    ),
    case(
        "portkey-provider-group-name-clash",
        (
            "  dev-test-keys:\n",
            "  staging-all-providers-openai:\n    environment: staging\n    providers: [openai]\n  dev-test-keys:\n",
        ),
        (
            "  staging-all-providers-openai:",
            "portkey_providers.staging-all-providers-openai",
            "name clashes with the per-provider slug of group 'staging-all-providers'",
        ),
    ),
    case(
        "missing-environment",
        ("  local:\n    portkey_targets: custom_host\n", "  local-disabled:\n    portkey_targets: custom_host\n"),
        (
            "local-disabled:",
            "environments.local-disabled",
            "Input should be 'staging', 'prod' or 'local' (got 'local-disabled')",
        ),
    ),
    case(
        "env-override-unknown-provider",
        ("      openrouter:\n        base_url", "      open-router:\n        base_url"),
        (
            "open-router:",
            "environments.local.providers.open-router",
            f"unknown provider 'open-router' (defined: {PROVIDERS})",
        ),
    ),
    case(
        "env-key-for-unknown-provider",
        (
            "      openrouter: prod-openrouter-exp\n",
            "      openrouter: prod-openrouter-exp\n      mistral: prod-openrouter-exp\n",
        ),
        (
            "mistral:",
            "environments.prod.portkey_providers.mistral",
            f"unknown provider 'mistral' (defined: {PROVIDERS})",
        ),
    ),
    case(
        "env-unknown-key",
        ("      anthropic: prod-claude-primary\n", "      anthropic: prod-claude-secondary\n"),
        (
            "prod-claude-secondary",
            "environments.prod.portkey_providers.anthropic",
            f"unknown Portkey provider 'prod-claude-secondary' (defined: {KEYS})",
        ),
    ),
    case(
        "prod-route-on-staging-key",
        ("      openai: prod-gpt4-primary\n", "      openai: staging-all-providers\n"),
        (
            "      openai: staging-all-providers\n      anthropic: prod",
            "environments.prod.portkey_providers.openai",
            "prod routes must not use the staging provider 'staging-all-providers'",
        ),
    ),
    case(
        "staging-route-on-prod-key",
        ("      anthropic: staging-all-providers\n", "      anthropic: prod-claude-primary  # staging\n"),
        (
            "prod-claude-primary  # staging",
            "environments.staging.portkey_providers.anthropic",
            "staging routes must not use the prod provider 'prod-claude-primary'",
        ),
    ),
    case(
        "key-does-not-cover-provider",
        ("      anthropic: prod-claude-primary\n", "      anthropic: prod-gpt4-primary\n"),
        (
            "anthropic: prod-gpt4-primary",
            "environments.prod.portkey_providers.anthropic",
            "Portkey provider 'prod-gpt4-primary' does not cover provider 'anthropic'",
        ),
    ),
    case(
        "no-key-for-a-routed-provider",
        ("      openrouter: prod-openrouter-exp\n", ""),
        (
            "    portkey_providers:\n      openai: prod-gpt4-primary",
            "environments.prod.portkey_providers",
            "no Portkey provider for provider 'openrouter' (task 'experimental' routes to it)",
        ),
    ),
    case(
        "no-key-for-a-variant-only-provider",
        [
            ("    tier: experimental\n", "    tier: tier1\n"),
            ("      openrouter: prod-openrouter-exp\n", ""),
            ("      model: claude-haiku\n", "      model: deepseek-chat\n"),
        ],
        (
            "    portkey_providers:\n      openai: prod-gpt4-primary",
            "environments.prod.portkey_providers",
            "no Portkey provider for provider 'openrouter' (task 'chat' routes to it)",
        ),
    ),
    case(
        "budget-for-unknown-task",
        ("        embeddings: 1000\n", "        embedding: 1000\n"),
        (
            "embedding: 1000",
            "environments.prod.budgets.tasks.embedding",
            f"unknown task 'embedding' (defined: {TASKS})",
        ),
    ),
    case(
        "portkey-provider-name-not-a-slug",
        ("  prod-openrouter-exp:\n    environment: prod", "  prod.openrouter-exp:\n    environment: prod"),
        ("  prod.openrouter-exp:", "portkey_providers.prod.openrouter-exp", PORTKEY_SLUG_MESSAGE),
        (
            "openrouter: prod-openrouter-exp",
            "environments.prod.portkey_providers.openrouter",
            "unknown Portkey provider 'prod-openrouter-exp' (defined: dev-test-keys, prod-claude-primary, "
            "prod-gpt4-primary, prod.openrouter-exp, staging-all-providers)",
        ),
    ),
    case(
        "portkey-budget-below-minimum",
        ("        code_generation: 6000\n", "        code_generation: 0.5\n"),
        (
            "code_generation: 0.5",
            "environments.prod.budgets.tasks.code_generation",
            "Portkey enforces this budget and its smallest limit is 1 USD",
        ),
    ),
    case(
        "portkey-rate-limit-zero",
        (
            "    providers: [openrouter]\n",
            "    providers: [openrouter]\n    rate_limit:\n      unit: rpm\n      value: 0\n",
        ),
        (
            "value: 0",
            "portkey_providers.prod-openrouter-exp.rate_limit.value",
            "Input should be greater than or equal to 1 (got 0)",
        ),
    ),
    case(
        "task-budgets-over-monthly",
        ("        chat: 400\n", "        chat: 1200\n"),
        (
            "      tasks:\n        code_generation: 400",
            "environments.staging.budgets.tasks",
            "task budgets add up to 1600 USD, more than monthly_usd 1500",
        ),
    ),
    # --- applications: the keys of the in-cluster gateway and their tasks ---
    case(
        "application-unknown-task",
        ("      monthly_usd: 0", "      monthly_usd: 0\napplications:\n  bi-app:\n    tasks: [chat, reporting]"),
        (
            "tasks: [chat, reporting]",
            "applications.bi-app.tasks[1]",
            "unknown task 'reporting' "
            "(defined: business_intelligence, chat, code_generation, embeddings, experimental)",
        ),
    ),
    case(
        "application-cortex-task",
        ("      monthly_usd: 0", "      monthly_usd: 0\napplications:\n  search:\n    tasks: [embeddings]"),
        (
            "tasks: [embeddings]",
            "applications.search.tasks[0]",
            "task 'embeddings' runs in Snowflake Cortex, not through the gateway: an application queries it there "
            "with its Snowflake role",
        ),
    ),
    case(
        "application-task-twice",
        ("      monthly_usd: 0", "      monthly_usd: 0\napplications:\n  bot:\n    tasks: [chat, chat]"),
        ("tasks: [chat, chat]", "applications.bot.tasks", "a task is listed twice"),
    ),
    case(
        "application-key-variable-clash",
        (
            "      monthly_usd: 0",
            "      monthly_usd: 0\napplications:\n  support-bot:\n    tasks: [chat]\n  support_bot:\n    tasks: [chat]",
        ),
        (
            "  support_bot:",
            "applications.support_bot",
            "application 'support-bot' has the same key variable LLM_GATEWAY_APP_KEY_SUPPORT_BOT: rename one",
        ),
    ),
]


def _expected_lines(text: str, expected: tuple[tuple[str, str, str], ...]) -> list[str]:
    lines = []
    for needle, path, message in expected:
        # A multi-line needle names the line its first line is on.
        first = needle.split("\n")[0]
        line = line_of(text, first) if "\n" not in needle else _line_of_block(text, needle)
        lines.append(f"{SPEC_FILE}:{line}: {path}: {message}")
    return lines


def _line_of_block(text: str, block: str) -> int:
    assert text.count(block) == 1, f"{block!r} occurs {text.count(block)} times"
    return text[: text.index(block)].count("\n") + 1


@pytest.mark.parametrize("rule", SHAPE_CASES + DUPLICATE_CASES + RULE_CASES, ids=lambda rule: rule.id)
def test_rule_reports_exact_path_and_line(rule: Case) -> None:
    text = edit(base_text(), *rule.edits)
    assert problems(text) == _expected_lines(text, rule.expected)


def test_case_ids_are_unique() -> None:
    ids = [rule.id for rule in SHAPE_CASES + DUPLICATE_CASES + RULE_CASES]
    assert len(ids) == len(set(ids))


def test_base_spec_is_valid_and_renders() -> None:
    # Every case above is one edit away from this spec: its errors come from the edit alone.
    files = render(valid(base_text()))
    assert "prod/portkey/chat.json" in files


@pytest.mark.parametrize(
    ("edits", "path"),
    [
        pytest.param(
            ("    similarity_threshold: 0.95\n", "    similarity_threshold: 1\n"), "threshold-one", id="threshold-1"
        ),
        pytest.param(("    attempts: 3\n", "    attempts: 0\n"), "attempts-0", id="attempts-0"),
        pytest.param(("    attempts: 3\n", "    attempts: 10\n"), "attempts-10", id="attempts-10"),
        pytest.param(("    traffic_percent: 10\n", "    traffic_percent: 100\n"), "percent-100", id="percent-100"),
        pytest.param(("        weight: 1\n", "        weight: 0\n"), "weight-0", id="one-weight-0"),
        pytest.param(("  cache_hit_rate_percent: 20\n", "  cache_hit_rate_percent: 0\n"), "slo-0", id="cache-hit-0"),
        pytest.param(("      monthly_usd: 0\n", "      monthly_usd: 0.0\n"), "budget-0", id="budget-0-float"),
    ],
)
def test_boundary_values_are_accepted(edits: tuple[str, str], path: str) -> None:
    valid(edit(base_text(), edits))


def test_every_problem_is_reported_not_only_the_first() -> None:
    text = edit(
        base_text(),
        ("    tier: tier2\n", "    tier: tier3\n"),
        ("    request_timeout_seconds: 60\n", "    request_timeout_seconds: 60\n    tier: tier4\n"),
    )
    # A duplicate key is caught before the model: the second `tier` of business_intelligence.
    assert problems(text) == [
        f"{SPEC_FILE}:{line_of(text, 'tier: tier4')}: tasks.business_intelligence.tier: "
        "duplicate key: each name may appear only once"
    ]
    text = edit(
        base_text(),
        ("    tier: tier2\n", "    tier: tier3\n"),
        ("    attempts: 3\n", "    attempts: many\n"),
        ("    connection_pool: 100\n".strip() + "\n", "connection_pool: -1\n"),
    )
    assert problems(text) == [
        f"{SPEC_FILE}:{line_of(text, 'attempts: many')}: defaults.retry.attempts: "
        "Input should be a valid integer (got 'many')",
        f"{SPEC_FILE}:{line_of(text, 'connection_pool: -1')}: defaults.connection_pool: "
        "Input should be greater than or equal to 1 (got -1)",
    ]


def test_reference_problems_in_several_sections_are_all_reported() -> None:
    text = edit(
        base_text(),
        ("    tier: tier2\n", "    tier: tier3\n"),
        ("    request_timeout_seconds: 60\n", "    request_timeout_seconds: 60\n    cache: {embedding_model: nope}\n"),
    )
    assert problems(text) == [
        f"{SPEC_FILE}:{line_of(text, 'embedding_model: nope')}: tasks.business_intelligence.cache.embedding_model: "
        f"unknown model 'nope' (defined: {MODELS})",
        f"{SPEC_FILE}:{line_of(text, 'tier: tier3')}: tasks.chat.tier: unknown tier 'tier3' (defined: {TIERS})",
    ]
