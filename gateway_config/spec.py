"""The routing spec: a typed, strict model of `gateway_config/routing.yaml`.

This module only describes the *shape* of the spec (types, ranges, unknown keys). Rules that need
the whole document (references between sections, fallback cycles, keys per environment) live in
`gateway_config.rules`, so each error can name the exact key path that is wrong.

Every model forbids unknown keys and runs in pydantic's strict mode: the gateway runtimes accept
`num_retries: "three"` and silently ignore typos, so this is the only gate that catches them.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

NAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,62}$"
ENV_VAR_PATTERN = r"^[A-Z][A-Z0-9_]*$"
# No `user:password@` part: a credential in a URL would land in the generated, committed files.
URL_PATTERN = r"^https?://[^\s/?#@]+(/[^\s?#@]*)?$"
# Runbook links are opened by people from an alert: https only, no trailing slash (file names follow).
RUNBOOK_URL_PATTERN = r"^https://[^\s/?#@]+(/[^\s?#@]*[^\s?#@/])?$"
# What each pattern means, for error messages a person can act on.
PATTERN_MEANINGS = {
    NAME_PATTERN: "a lower-case name: letters, digits, '_', '-', '.'; at most 63 characters",
    ENV_VAR_PATTERN: "an environment variable name: A-Z, 0-9 and '_'",
    URL_PATTERN: "an http(s) URL without credentials (user:password@), query or fragment",
    RUNBOOK_URL_PATTERN: "an https URL without credentials, query, fragment or trailing slash",
}

Name = Annotated[
    str,
    StringConstraints(pattern=NAME_PATTERN),
    Field(description="lower-case identifier: letters, digits, '_', '-', '.'; at most 63 characters"),
]
EnvironmentName = Literal["staging", "prod", "local"]
ENVIRONMENT_NAMES: tuple[EnvironmentName, ...] = ("staging", "prod", "local")
EnvVarName = Annotated[str, StringConstraints(pattern=ENV_VAR_PATTERN)]
HttpUrl = Annotated[
    str,
    StringConstraints(pattern=URL_PATTERN),
    Field(description="http(s) URL without credentials, query or fragment"),
]
StatusCode = Annotated[int, Field(ge=400, le=599)]
Percent = Annotated[float, Field(ge=0, le=100)]
Usd = Annotated[float, Field(ge=0)]
# Portkey takes timeouts in whole milliseconds: below 10 ms a timeout would round to nothing.
TimeoutSeconds = Annotated[float, Field(ge=0.01, le=600)]


class StrictModel(BaseModel):
    """Base for every spec section: unknown keys and silent type coercion are errors."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Provider(StrictModel):
    """An upstream API. `kind` decides the wire format the gateways speak to it."""

    kind: Literal["openai", "anthropic", "openrouter", "snowflake_cortex"]
    base_url: HttpUrl
    api_key_env: EnvVarName | None = Field(
        default=None,
        description="environment variable that holds the key inside the gateway pod (from Pulumi ESC)",
    )
    description: str = ""

    @model_validator(mode="after")
    def _gateway_providers_need_a_key(self) -> Provider:
        if self.kind != "snowflake_cortex" and self.api_key_env is None:
            raise ValueError(f"a '{self.kind}' provider needs api_key_env")
        return self


class Model(StrictModel):
    """A logical model name bound to one provider's model id."""

    provider: Name
    id: Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^\S+$")]
    kind: Literal["chat", "embedding"] = "chat"
    timeout_seconds: TimeoutSeconds | None = Field(
        default=None,
        description="per-target timeout, near the provider's real p99: a hanging target costs this on "
        "every request routed to it",
    )
    embedding_dimensions: Annotated[int, Field(ge=1, le=8192)] | None = None
    price_as: Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^\S+$")] | None = Field(
        default=None,
        description="key of LiteLLM's price map to price this model by, when the map has no entry for the "
        "provider's own model id (OpenRouter models): the same model served by another provider",
    )
    description: str = ""


class Target(StrictModel):
    """One entry of a tier: a model, its weight under `loadbalance`, an optional timeout."""

    model: Name
    weight: Annotated[float, Field(ge=0)] = 1.0
    timeout_seconds: TimeoutSeconds | None = None

    @model_validator(mode="before")
    @classmethod
    def _accept_bare_model_name(cls, value: object) -> object:
        # `targets: [gpt-4o, claude-sonnet]` is the common case; the mapping form adds weight/timeout.
        return {"model": value} if isinstance(value, str) else value


class Tier(StrictModel):
    """Ordered targets and how traffic spreads over them.

    `fallback`: the first healthy target serves, the next one takes over at once on failure.
    `loadbalance`: traffic splits by `weight`; a failing target's share falls back to the others.
    `fallback_tier`: appended after this tier's own targets when all of them fail.
    """

    description: str = ""
    strategy: Literal["fallback", "loadbalance"] = "fallback"
    targets: Annotated[list[Target], Field(min_length=1)]
    fallback_tier: Name | None = None


class Cache(StrictModel):
    mode: Literal["semantic", "simple", "off"]
    similarity_threshold: Annotated[float, Field(gt=0, le=1)] = 0.95
    ttl_seconds: Annotated[int, Field(ge=1, le=30 * 24 * 3600)] = 3600
    embedding_model: Name | None = Field(
        default=None,
        description="model that embeds prompts for the semantic cache (LiteLLM redis-semantic)",
    )


class CacheOverride(StrictModel):
    mode: Literal["semantic", "simple", "off"] | None = None
    similarity_threshold: Annotated[float, Field(gt=0, le=1)] | None = None
    ttl_seconds: Annotated[int, Field(ge=1, le=30 * 24 * 3600)] | None = None
    embedding_model: Name | None = None


class Retry(StrictModel):
    """The route's budget of retries. The generators spend it where no healthy alternative is left."""

    attempts: Annotated[int, Field(ge=0, le=10)] = 3
    backoff: Literal["exponential"] = "exponential"
    on_status_codes: Annotated[list[StatusCode], Field(min_length=1)] = [429, 500, 502, 503, 504]


class RetryOverride(StrictModel):
    attempts: Annotated[int, Field(ge=0, le=10)] | None = None
    backoff: Literal["exponential"] | None = None
    on_status_codes: Annotated[list[StatusCode], Field(min_length=1)] | None = None


class Defaults(StrictModel):
    cache: Cache
    retry: Retry = Retry()
    request_timeout_seconds: TimeoutSeconds = 30
    connection_pool: Annotated[int, Field(ge=1, le=10_000)] = 100
    cooldown_seconds: Annotated[int, Field(ge=1, le=3600)] = Field(
        default=30,
        description="how long a failing target is skipped (circuit breaker) before it is tried again",
    )


class DefaultsOverride(StrictModel):
    cache: CacheOverride | None = None
    retry: RetryOverride | None = None
    request_timeout_seconds: TimeoutSeconds | None = None
    connection_pool: Annotated[int, Field(ge=1, le=10_000)] | None = None
    cooldown_seconds: Annotated[int, Field(ge=1, le=3600)] | None = None


class Task(StrictModel):
    """A kind of work an application sends; clients name the task, never a model."""

    description: str = ""
    tier: Name
    cache: CacheOverride | None = None
    retry: RetryOverride | None = None
    request_timeout_seconds: TimeoutSeconds | None = Field(
        default=None,
        description="timeout of every attempt of this task, on every target; replaces the targets' own",
    )
    prompts_stay_on_route: bool = Field(
        default=False,
        description="the task's prompts reach only its own route's providers: never an embedding model "
        "of the semantic cache, never the cache shared by every caller (its cache is off)",
    )


class Variant(StrictModel):
    """What the experiment's share of traffic is sent to: one model, or another tier."""

    model: Name | None = None
    tier: Name | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Variant:
        if (self.model is None) == (self.tier is None):
            raise ValueError("give exactly one of 'model' or 'tier'")
        return self


class Experiment(StrictModel):
    """An A/B test or canary: `traffic_percent` of a task's requests go to the variant."""

    description: str = ""
    kind: Literal["ab", "canary"]
    task: Name
    variant: Variant
    traffic_percent: Annotated[float, Field(gt=0, le=100)]
    environments: Annotated[list[EnvironmentName], Field(min_length=1)] = list(ENVIRONMENT_NAMES)


class RateLimit(StrictModel):
    """A Portkey rate limit on one workspace provider (Portkey's own shape: type, unit, value)."""

    type: Literal["requests", "tokens"] = "requests"
    unit: Literal["rpm", "rph", "rpd"]
    value: Annotated[int, Field(ge=1)]


class PortkeyProvider(StrictModel):
    """A Portkey Model Catalog provider: a workspace provider with a fixed slug, referenced in configs
    as `@<slug>/<model>`. Portkey binds one AI provider per provider, so a name that covers several
    providers is a group: one provider per AI provider, with the slug `<name>-<provider>`."""

    description: str = ""
    environment: EnvironmentName
    providers: Annotated[list[Name], Field(min_length=1)]
    rate_limit: RateLimit | None = Field(
        default=None, description="enforced by Portkey's hosted gateway on each provider of this name"
    )


class Budgets(StrictModel):
    monthly_usd: Usd
    tasks: dict[Name, Usd] = {}
    alert_threshold_percent: Annotated[int, Field(ge=1, le=99)] = Field(
        default=80, description="Portkey records an alert when spend passes this share of a budget"
    )


class Slos(StrictModel):
    error_rate_percent: Annotated[float, Field(gt=0, le=100)] = 1.0
    p95_latency_seconds: Annotated[float, Field(gt=0, le=600)] = 10.0
    cache_hit_rate_percent: Percent = 20.0
    availability_percent: Annotated[float, Field(gt=0, le=100)] = 99.9
    gateway_overhead_ms: Annotated[float, Field(gt=0, le=10_000)] = 100.0


class Observability(StrictModel):
    """What the generated Prometheus rules and Grafana dashboards need beyond the SLOs and budgets."""

    runbook_base_url: Annotated[str, StringConstraints(pattern=RUNBOOK_URL_PATTERN)] = Field(
        default="https://github.com/acme/llm-gateway/blob/main/docs/runbooks",
        description="where docs/runbooks/ is published: every alert's runbook_url is <this>/<runbook>.md",
    )
    fallback_rate_percent: Annotated[float, Field(gt=0, le=100)] = Field(
        default=10.0,
        description="share of a task's requests served by a fallback target above which LLMGatewayFallbackSpike fires",
    )
    deployment_failure_rate_percent: Annotated[float, Field(gt=0, le=100)] = Field(
        default=50.0,
        description="share of failed attempts on one deployment (task/target) above which "
        "LLMGatewayDeploymentDown fires",
    )
    provider_failure_rate_percent: Annotated[float, Field(gt=0, le=100)] = Field(
        default=90.0,
        description="share of failed attempts across a provider above which LLMGatewayProviderDown pages",
    )


class ObservabilityOverride(StrictModel):
    """Per-environment thresholds; unset fields keep the spec's `observability` values."""

    fallback_rate_percent: Annotated[float, Field(gt=0, le=100)] | None = None
    deployment_failure_rate_percent: Annotated[float, Field(gt=0, le=100)] | None = None
    provider_failure_rate_percent: Annotated[float, Field(gt=0, le=100)] | None = None


class Application(StrictModel):
    """A client application of the in-cluster gateway: it gets a key of its own (generated by the
    Pulumi program, read by the gateway from an environment variable) and may use only these tasks."""

    description: str = ""
    tasks: Annotated[list[Name], Field(min_length=1)]


class ProviderOverride(StrictModel):
    base_url: HttpUrl


class Environment(StrictModel):
    """Per-environment overlay over the shared routing."""

    description: str = ""
    portkey_targets: Literal["model_catalog", "custom_host"] = Field(
        default="model_catalog",
        description="model_catalog: targets name Model Catalog providers (`@slug/model`, Portkey's hosted "
        "gateway); custom_host: targets name the provider and its URL (the OSS gateway, which has no catalog)",
    )
    portkey_providers: dict[Name, Name] = Field(
        default={}, description="provider -> the Portkey provider (`portkey_providers` name) it uses here"
    )
    providers: dict[Name, ProviderOverride] = {}
    defaults: DefaultsOverride | None = None
    budgets: Budgets
    slos: Slos | None = None
    observability: ObservabilityOverride | None = None


class RoutingSpec(StrictModel):
    """The whole routing spec."""

    version: Literal[1]
    providers: Annotated[dict[Name, Provider], Field(min_length=1)]
    models: Annotated[dict[Name, Model], Field(min_length=1)]
    tiers: Annotated[dict[Name, Tier], Field(min_length=1)]
    tasks: Annotated[dict[Name, Task], Field(min_length=1)]
    defaults: Defaults
    experiments: dict[Name, Experiment] = {}
    portkey_providers: dict[Name, PortkeyProvider] = {}
    slos: Slos = Slos()
    observability: Observability = Field(
        default=Observability(), description="alert thresholds and runbook links of the generated monitoring"
    )
    environments: dict[EnvironmentName, Environment]
    applications: dict[Name, Application] = Field(
        default={}, description="client applications of the in-cluster gateway, each with its own key"
    )
