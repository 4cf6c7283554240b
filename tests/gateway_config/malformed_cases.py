"""The malformed-spec cases that are edits of the base spec, as those edits (the rest are files in malformed/).

Each case is `base.yaml` with its `(old, new)` replacements applied by `spec_edits.edit` (each `old` must
occur exactly once), and the errors `validate` must print for it, one per line, in order. An error's line
is a needle, the one line of the edited spec that contains it (`spec_edits.line_of`), or a literal number
where no line can be named on its own (a duplicate key, a section header that occurs more than once).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from spec_edits import base_text, edit, line_of


@dataclass(frozen=True)
class Case:
    name: str
    why: str
    edits: tuple[tuple[str, str], ...]
    # (line, "key.path: message"): line is a needle for `line_of` on the edited spec, or a number
    errors: tuple[tuple[str | int, str], ...]

    def text(self) -> str:
        return edit(base_text(), *self.edits)

    def expected_lines(self, path: Path) -> list[str]:
        """What `validate --spec <path>` prints on stderr when `path` holds `self.text()`."""
        text = self.text()
        return [
            f"{path}:{line if isinstance(line, int) else line_of(text, line)}: {error}" for line, error in self.errors
        ]


CASES = (
    Case(
        "cortex-dimensions",
        "Cortex embeds to 768 or 1024 dimensions only.",
        (("embedding_dimensions: 768", "embedding_dimensions: 1536"),),
        (
            (
                "embedding_dimensions: 1536",
                "models.arctic-embed-m.embedding_dimensions: "
                "a Snowflake Cortex embedding model needs embedding_dimensions 768 or 1024",
            ),
        ),
    ),
    Case(
        "duplicate-model",
        "Two models with one name.",
        (("  deepseek-chat:\n", "  llama-3.3-70b:\n"),),
        ((41, "models.llama-3.3-70b: duplicate key: each name may appear only once"),),  # the second one
    ),
    Case(
        "duplicate-task",
        "PyYAML would keep the second `code_generation` and drop the first silently.",
        (("  chat:\n    tier: tier2\n", "  code_generation:\n    tier: tier2\n"),),
        ((81, "tasks.code_generation: duplicate key: each name may appear only once"),),  # the second one
    ),
    Case(
        "experiment-on-cortex-task",
        "Embeddings run in Snowflake: the gateway cannot split their traffic.",
        (("    task: chat\n", "    task: embeddings\n"),),
        (
            (
                "task: embeddings",
                "experiments.chat-haiku-first.task: experiments need a task routed through the gateway",
            ),
        ),
    ),
    Case(
        "experiments-over-100",
        "Two experiments on one task add up to more than 100 % in prod.",
        (
            (
                "    traffic_percent: 10\n",
                "    traffic_percent: 10\n"
                "  chat-llama:\n"
                "    kind: canary\n"
                "    task: chat\n"
                "    variant:\n"
                "      model: llama-3.3-70b\n"
                "    traffic_percent: 95\n"
                "    environments: [prod]\n",
            ),
        ),
        (
            (
                "traffic_percent: 95",
                "experiments.chat-llama.traffic_percent: experiments on task 'chat' in prod take 105% > 100%",
            ),
        ),
    ),
    Case(
        "fallback-into-cortex",
        "A gateway tier cannot fall back to Snowflake Cortex (the gateways cannot call it).",
        (
            (
                "    targets: [gpt-4o, claude-sonnet]\n",
                "    targets: [gpt-4o, claude-sonnet]\n    fallback_tier: cortex-embeddings\n",
            ),
        ),
        (
            (
                "fallback_tier: cortex-embeddings",
                "tiers.tier1.fallback_tier: tier 'cortex-embeddings' mixes chat and embedding models, "
                "or Snowflake Cortex with gateway providers, with this tier",
            ),
        ),
    ),
    Case(
        "key-for-another-provider",
        "Portkey binds a Model Catalog provider to one AI provider.",
        (("anthropic: prod-claude-primary", "anthropic: prod-gpt4-primary"),),
        (
            (
                "anthropic: prod-gpt4-primary",
                "environments.prod.portkey_providers.anthropic: "
                "Portkey provider 'prod-gpt4-primary' does not cover provider 'anthropic'",
            ),
        ),
    ),
    Case(
        "local-url-without-v1",
        "Portkey's custom_host must include /v1.",
        (("base_url: http://127.0.0.1:8090/openai/v1", "base_url: http://127.0.0.1:8090/openai"),),
        (
            (
                "base_url: http://127.0.0.1:8090/openai",
                "environments.local.providers.openai.base_url: a gateway provider's base_url must end in /v1 "
                "(Portkey's custom_host and the OpenAI wire format need it)",
            ),
        ),
    ),
    Case(
        "missing-task-tier",
        "A task without a tier is reported at its own line.",
        (("  chat:\n    tier: tier2\n", "  chat:\n    description: conversational assistants\n"),),
        ((81, "tasks.chat.tier: required key is missing"),),  # the line of `chat:`
    ),
    Case(
        "no-key-for-routed-provider",
        "prod routes the experimental task to OpenRouter but gives it no key.",
        (("      openrouter: prod-openrouter-exp\n", ""),),
        (
            (
                148,  # prod's `portkey_providers:`
                "environments.prod.portkey_providers: no Portkey provider for provider 'openrouter' "
                "(task 'experimental' routes to it)",
            ),
        ),
    ),
    Case(
        "percent-over-100",
        "An experiment takes at most 100 % of a task's traffic.",
        (("traffic_percent: 10\n", "traffic_percent: 110\n"),),
        (
            (
                "traffic_percent: 110",
                "experiments.chat-haiku-first.traffic_percent: Input should be less than or equal to 100 (got 110)",
            ),
        ),
    ),
    Case(
        "prod-task-on-dev-key",
        "A prod route must use prod Portkey providers only.",
        (("openrouter: prod-openrouter-exp", "openrouter: dev-test-keys  # a local key"),),
        (
            (
                "dev-test-keys  # a local key",
                "environments.prod.portkey_providers.openrouter: "
                "prod routes must not use the local provider 'dev-test-keys'",
            ),
        ),
    ),
    Case(
        "retry-attempts-eleven",
        "Retry attempts are 0-10.",
        (("attempts: 3\n", "attempts: 11\n"),),
        (("attempts: 11", "defaults.retry.attempts: Input should be less than or equal to 10 (got 11)"),),
    ),
    Case(
        "retry-attempts-float",
        "Strict mode: 3.0 is not an integer number of attempts.",
        (("attempts: 3\n", "attempts: 3.0\n"),),
        (("attempts: 3.0", "defaults.retry.attempts: Input should be a valid integer (got 3.0)"),),
    ),
    Case(
        "retry-attempts-negative",
        "Retry attempts are 0-10.",
        (("attempts: 3\n", "attempts: -1\n"),),
        (("attempts: -1", "defaults.retry.attempts: Input should be greater than or equal to 0 (got -1)"),),
    ),
    Case(
        "semantic-cache-without-embedding-model",
        "A semantic cache embeds prompts: it needs an embedding model.",
        (("    embedding_model: text-embedding-3-small\n", ""),),
        ((91, "defaults.cache.embedding_model: a semantic cache needs an embedding_model"),),  # `defaults.cache:`
    ),
    Case(
        "slo-percent-over-100",
        "Percentages are 0-100.",
        (("cache_hit_rate_percent: 20\n", "cache_hit_rate_percent: 120\n"),),
        (
            (
                "cache_hit_rate_percent: 120",
                "slos.cache_hit_rate_percent: Input should be less than or equal to 100 (got 120)",
            ),
        ),
    ),
    Case(
        "task-budgets-over-monthly",
        "Task budgets cannot exceed the environment's monthly budget.",
        (("        chat: 400\n", "        chat: 1200\n"),),
        (
            (
                144,  # staging's `budgets.tasks:`
                "environments.staging.budgets.tasks: task budgets add up to 1600 USD, more than monthly_usd 1500",
            ),
        ),
    ),
    Case(
        "threshold-percent",
        "The similarity threshold is a fraction, not a percentage.",
        (("similarity_threshold: 0.95", "similarity_threshold: 95"),),
        (
            (
                "similarity_threshold: 95",
                "defaults.cache.similarity_threshold: Input should be less than or equal to 1 (got 95)",
            ),
        ),
    ),
    Case(
        "threshold-zero",
        "The similarity threshold is in (0, 1].",
        (("similarity_threshold: 0.95", "similarity_threshold: 0"),),
        (("similarity_threshold: 0", "defaults.cache.similarity_threshold: Input should be greater than 0 (got 0)"),),
    ),
    Case(
        "timeout-with-unit",
        "Timeouts are seconds as a number; `30s` is a string.",
        (("  request_timeout_seconds: 30\n", "  request_timeout_seconds: 30s\n"),),
        (
            (
                "request_timeout_seconds: 30s",
                "defaults.request_timeout_seconds: Input should be a valid number (got '30s')",
            ),
        ),
    ),
    Case(
        "undefined-budget-task",
        "A budget names a task that is not defined.",
        (("        embeddings: 1000\n", "        embedding: 1000\n"),),
        (
            (
                "embedding: 1000",
                "environments.prod.budgets.tasks.embedding: unknown task 'embedding' "
                "(defined: business_intelligence, chat, code_generation, embeddings, experimental)",
            ),
        ),
    ),
    Case(
        "undefined-experiment-task",
        "An experiment names a task that is not defined.",
        (("    task: chat\n", "    task: chit-chat\n"),),
        (
            (
                "task: chit-chat",
                "experiments.chat-haiku-first.task: unknown task 'chit-chat' "
                "(defined: business_intelligence, chat, code_generation, embeddings, experimental)",
            ),
        ),
    ),
    Case(
        "undefined-provider",
        "A model names a provider that is not defined.",
        (("  deepseek-chat:\n    provider: openrouter\n", "  deepseek-chat:\n    provider: deepseek\n"),),
        (
            (
                "provider: deepseek",
                "models.deepseek-chat.provider: unknown provider 'deepseek' "
                "(defined: anthropic, cortex, openai, openrouter)",
            ),
        ),
    ),
    Case(
        "undefined-tier",
        "A task names a tier that is not defined.",
        (("  chat:\n    tier: tier2\n", "  chat:\n    tier: tier3\n"),),
        (
            (
                "tier: tier3",
                "tasks.chat.tier: unknown tier 'tier3' (defined: cortex-embeddings, experimental, tier1, tier2)",
            ),
        ),
    ),
    Case(
        "undefined-portkey-provider",
        "An environment names a Portkey provider that is not defined.",
        (("anthropic: prod-claude-primary", "anthropic: prod-claude-backup"),),
        (
            (
                "anthropic: prod-claude-backup",
                "environments.prod.portkey_providers.anthropic: unknown Portkey provider 'prod-claude-backup' "
                "(defined: dev-test-keys, prod-claude-primary, prod-gpt4-primary, prod-openrouter-exp, "
                "staging-all-providers)",
            ),
        ),
    ),
    Case(
        "unknown-environment",
        "Environments are staging, prod and local.",
        (("  local:\n", "  dev:\n"),),
        (("  dev:", "environments.dev: Input should be 'staging', 'prod' or 'local' (got 'dev')"),),
    ),
    Case(
        "unknown-retry-key",
        "LiteLLM would accept `max_retries` silently; the spec does not.",
        (("attempts: 3\n", "max_retries: 3\n"),),
        (
            (
                "max_retries: 3",
                "defaults.retry.max_retries: "
                "unknown key (check the spelling; see routing.schema.json for the allowed keys)",
            ),
        ),
    ),
    Case(
        "unknown-top-level-key",
        "A typo'd section name is an unknown key, not an ignored one.",
        (("\nproviders:\n", "\nprovider_list: {}\nproviders:\n"),),
        (
            (
                "provider_list: {}",
                "provider_list: unknown key (check the spelling; see routing.schema.json for the allowed keys)",
            ),
        ),
    ),
    Case(
        "variant-model-and-tier",
        "A variant is one model or one tier, not both.",
        (("      model: claude-haiku\n", "      model: claude-haiku\n      tier: tier1\n"),),
        (("variant:", "experiments.chat-haiku-first.variant: give exactly one of 'model' or 'tier'"),),
    ),
    Case(
        "weight-negative",
        "Loadbalance weights are >= 0.",
        (("weight: 1\n", "weight: -1\n"),),
        (
            (
                "weight: -1",
                "tiers.experimental.targets[1].weight: Input should be greater than or equal to 0 (got -1)",
            ),
        ),
    ),
    Case(
        "weights-total-zero",
        "Loadbalance weights need a positive total, or no target gets traffic.",
        (("weight: 3\n", "weight: 0\n"), ("weight: 1\n", "weight: 0\n")),
        ((64, "tiers.experimental.targets: loadbalance weights must have a positive total"),),  # `targets:`
    ),
)
