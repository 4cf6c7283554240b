"""Turn a validated spec into concrete routes per environment, the one input of every generator.

A task's traffic is a list of *branches*: each has a share of the traffic (percent) and a fallback
chain of targets, tried in order. Every shape the spec allows reduces to it:

- a `fallback` tier is one branch (100 %) whose chain is the tier's targets;
- a `loadbalance` tier is one branch per target, weighted, each chain starting at its own target
  and falling back to the others, so a failing target's share is served rather than lost;
- `fallback_tier` appends that tier's targets to every chain;
- an experiment carves `traffic_percent` out of the control branches for the variant, whose chains
  fall back to the control chain.

Generators never look at tiers or experiments again: they translate branches.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

from gateway_config.prices import Price, model_price
from gateway_config.runtime_env import application_key_env
from gateway_config.spec import (
    Budgets,
    Cache,
    CacheOverride,
    Defaults,
    DefaultsOverride,
    Environment,
    EnvironmentName,
    Observability,
    RateLimit,
    Retry,
    RetryOverride,
    RoutingSpec,
    Slos,
    Tier,
)

CORTEX_EMBED_FUNCTIONS = {768: "SNOWFLAKE.CORTEX.EMBED_TEXT_768", 1024: "SNOWFLAKE.CORTEX.EMBED_TEXT_1024"}
# Provider kind -> Portkey's AI provider id (an integration's `ai_provider_id`, the OSS `provider`).
PORTKEY_AI_PROVIDERS = {"openai": "openai", "anthropic": "anthropic", "openrouter": "openrouter"}


@dataclass(frozen=True)
class ResolvedTarget:
    model: str
    provider: str
    provider_kind: str
    provider_model: str
    base_url: str
    api_key_env: str | None
    # The Model Catalog provider slug the target is reached through (`model_catalog` environments).
    portkey_provider: str | None
    timeout_seconds: float
    embedding_dimensions: int | None = None
    # USD per token from LiteLLM's price map (None for Snowflake Cortex, billed in credits).
    price: Price | None = None

    @property
    def label(self) -> str:
        """How reports and the mock provider name a target: `provider/model-id`."""
        return f"{self.provider}/{self.provider_model}"


@dataclass(frozen=True)
class Branch:
    label: str
    percent: float
    chain: tuple[ResolvedTarget, ...]


@dataclass(frozen=True)
class ExperimentSummary:
    name: str
    kind: str
    traffic_percent: float
    variant: str


@dataclass(frozen=True)
class ResolvedTask:
    name: str
    description: str
    tier: str
    route: str  # "gateway" | "snowflake_cortex"
    branches: tuple[Branch, ...]
    experiments: tuple[ExperimentSummary, ...]
    cache: Cache
    retry: Retry
    request_timeout_seconds: float
    connection_pool: int
    cooldown_seconds: int
    budget_usd_monthly: float | None
    # Its prompts reach only its route's providers: the generators give it no cache at all.
    prompts_stay_on_route: bool = False

    @property
    def targets(self) -> tuple[ResolvedTarget, ...]:
        """Every distinct target, in the order a request would first meet it."""
        seen: dict[str, ResolvedTarget] = {}
        for position in range(max(len(branch.chain) for branch in self.branches)):
            for branch in self.branches:
                if position < len(branch.chain):
                    seen.setdefault(branch.chain[position].model, branch.chain[position])
        return tuple(seen.values())


@dataclass(frozen=True)
class ResolvedPortkeyProvider:
    """One Model Catalog provider an environment routes through, and the integration holding its key."""

    slug: str
    # The spec's `portkey_providers` name: the slug itself, or the group a per-provider slug belongs to.
    name: str
    description: str
    provider: str
    ai_provider_id: str
    # The organisation-level integration that holds this environment's key for `provider`.
    integration: str
    api_key_env: str | None
    rate_limit: RateLimit | None
    # Spend ceiling (whole USD, Portkey's unit) the hosted gateway enforces on this provider alone:
    # the environment's budget, or less when every task that reaches the provider has a budget.
    credit_limit_usd_monthly: int
    # The tasks whose routes reach this provider.
    tasks: tuple[str, ...]


@dataclass(frozen=True)
class ResolvedApplication:
    """A client application: the tasks its key may use and the variable the gateway reads the key from."""

    name: str
    description: str
    tasks: tuple[str, ...]
    key_env: str


@dataclass(frozen=True)
class ResolvedEnvironment:
    name: str
    portkey_targets: str
    defaults: Defaults
    tasks: tuple[ResolvedTask, ...]
    budget_usd_monthly: float
    budget_alert_threshold_percent: int
    slos: Slos
    cache_embedding_target: ResolvedTarget | None
    portkey_providers: tuple[ResolvedPortkeyProvider, ...] = ()
    applications: tuple[ResolvedApplication, ...] = ()
    # Alert thresholds and runbook links, with the environment's overrides applied.
    observability: Observability = field(default_factory=Observability)

    @property
    def gateway_tasks(self) -> tuple[ResolvedTask, ...]:
        return tuple(task for task in self.tasks if task.route == "gateway")


def environment_overlay(spec: RoutingSpec, environment: str) -> Environment:
    """The spec's overlay for ``environment`` (a name callers have already checked)."""
    return spec.environments[cast(EnvironmentName, environment)]


def merge_cache(base: Cache, override: CacheOverride | None) -> Cache:
    if override is None:
        return base
    return base.model_copy(update=override.model_dump(exclude_none=True))


def merge_retry(base: Retry, override: RetryOverride | None) -> Retry:
    if override is None:
        return base
    return base.model_copy(update=override.model_dump(exclude_none=True))


def effective_defaults(spec: RoutingSpec, environment: str) -> Defaults:
    """The spec's defaults with the environment's overlay applied."""
    overlay: DefaultsOverride | None = environment_overlay(spec, environment).defaults
    if overlay is None:
        return spec.defaults
    scalars = overlay.model_dump(exclude_none=True, exclude={"cache", "retry"})
    return spec.defaults.model_copy(
        update={
            **scalars,
            "cache": merge_cache(spec.defaults.cache, overlay.cache),
            "retry": merge_retry(spec.defaults.retry, overlay.retry),
        }
    )


def portkey_provider_slug(spec: RoutingSpec, name: str, provider: str) -> str:
    """Portkey binds one AI provider per provider, so a multi-provider name is a group of per-provider slugs."""
    return name if len(spec.portkey_providers[name].providers) == 1 else f"{name}-{provider}"


def integration_slug(environment: str, provider: str) -> str:
    """The organisation-level integration holding ``environment``'s key for ``provider`` (one per credential)."""
    return f"llm-gateway-{environment}-{provider}"


def fallback_tiers(spec: RoutingSpec, tier_name: str) -> list[str]:
    """The tier and the tiers it falls back to, in order, each once (rules reject cycles)."""
    names: list[str] = []
    current: str | None = tier_name
    while current is not None and current not in names:
        names.append(current)
        current = spec.tiers[current].fallback_tier
    return names


def tier_chain(spec: RoutingSpec, tier_name: str) -> list[str]:
    """The tier's targets (model names) followed by its fallback tiers', each model once."""
    chain: list[str] = []
    for name in fallback_tiers(spec, tier_name):
        chain.extend(target.model for target in spec.tiers[name].targets if target.model not in chain)
    return chain


def _tier_branches(spec: RoutingSpec, tier_name: str) -> list[tuple[float, list[str]]]:
    """(share in percent, model chain) for each branch of a tier on its own."""
    tier: Tier = spec.tiers[tier_name]
    chain = tier_chain(spec, tier_name)
    if tier.strategy == "fallback" or len(tier.targets) == 1:
        return [(100.0, chain)]
    total = sum(target.weight for target in tier.targets)
    branches = []
    for target in tier.targets:
        if target.weight > 0:
            rest = [model for model in chain if model != target.model]
            branches.append((100.0 * target.weight / total, [target.model, *rest]))
    return branches


def _target_timeout(spec: RoutingSpec, tier_names: list[str], model: str, route_timeout: float) -> float:
    """A target's own timeout (tier entry, else model), capped by the route's; else the route's."""
    for tier_name in tier_names:
        for target in spec.tiers[tier_name].targets:
            if target.model == model and target.timeout_seconds is not None:
                return min(target.timeout_seconds, route_timeout)
    model_timeout = spec.models[model].timeout_seconds
    return min(model_timeout, route_timeout) if model_timeout is not None else route_timeout


def _resolve_target(spec: RoutingSpec, environment: str, model_name: str, timeout_seconds: float) -> ResolvedTarget:
    model = spec.models[model_name]
    provider = spec.providers[model.provider]
    overlay = environment_overlay(spec, environment)
    base_url = overlay.providers[model.provider].base_url if model.provider in overlay.providers else None
    catalog_name = overlay.portkey_providers.get(model.provider)
    use_catalog = overlay.portkey_targets == "model_catalog" and provider.kind != "snowflake_cortex"
    return ResolvedTarget(
        model=model_name,
        provider=model.provider,
        provider_kind=provider.kind,
        provider_model=model.id,
        base_url=(base_url or provider.base_url).rstrip("/"),
        api_key_env=provider.api_key_env,
        portkey_provider=portkey_provider_slug(spec, catalog_name, model.provider)
        if use_catalog and catalog_name
        else None,
        timeout_seconds=timeout_seconds,
        embedding_dimensions=model.embedding_dimensions,
        price=None if provider.kind == "snowflake_cortex" else model_price(provider.kind, model.id, model.price_as),
    )


def resolve_task(spec: RoutingSpec, environment: str, task_name: str) -> ResolvedTask:
    task = spec.tasks[task_name]
    defaults = effective_defaults(spec, environment)
    timeout = task.request_timeout_seconds or defaults.request_timeout_seconds
    experiments = [
        (name, experiment)
        for name, experiment in sorted(spec.experiments.items())
        if experiment.task == task_name and environment in experiment.environments
    ]
    control_share = 100.0 - sum(experiment.traffic_percent for _, experiment in experiments)
    control_chain_models = tier_chain(spec, task.tier)

    planned: list[tuple[str, float, list[str], list[str]]] = []  # label, percent, models, tiers
    control_tiers = fallback_tiers(spec, task.tier)
    for share, models in _tier_branches(spec, task.tier):
        planned.append(("control", control_share * share / 100.0, models, control_tiers))
    for name, experiment in experiments:
        if experiment.variant.model is not None:
            variant_branches = [(100.0, [experiment.variant.model])]
            variant_tiers: list[str] = []
        else:
            variant_tier = cast(str, experiment.variant.tier)  # a variant names exactly one of the two
            variant_branches = _tier_branches(spec, variant_tier)
            variant_tiers = fallback_tiers(spec, variant_tier)
        for share, models in variant_branches:
            chain = models + [model for model in control_chain_models if model not in models]
            planned.append((name, experiment.traffic_percent * share / 100.0, chain, variant_tiers + control_tiers))

    branches = tuple(
        Branch(
            label=label,
            percent=round(percent, 6),
            chain=tuple(
                _resolve_target(
                    spec,
                    environment,
                    model,
                    # A task that sets its own timeout means it for every attempt; otherwise the
                    # targets' own timeouts apply, capped by the environment's request timeout.
                    task.request_timeout_seconds or _target_timeout(spec, tiers, model, timeout),
                )
                for model in models
            ),
        )
        for label, percent, models, tiers in planned
        if percent > 0
    )
    first_model = spec.models[control_chain_models[0]]
    route = "snowflake_cortex" if spec.providers[first_model.provider].kind == "snowflake_cortex" else "gateway"
    return ResolvedTask(
        name=task_name,
        description=task.description,
        tier=task.tier,
        route=route,
        branches=branches,
        experiments=tuple(
            ExperimentSummary(
                name=name,
                kind=experiment.kind,
                traffic_percent=experiment.traffic_percent,
                variant=f"model:{experiment.variant.model}"
                if experiment.variant.model
                else f"tier:{experiment.variant.tier}",
            )
            for name, experiment in experiments
        ),
        # A task whose prompts stay on its route never meets the shared cache or its embedding model.
        cache=merge_cache(defaults.cache, task.cache)
        if not task.prompts_stay_on_route
        else defaults.cache.model_copy(update={"mode": "off", "embedding_model": None}),
        prompts_stay_on_route=task.prompts_stay_on_route,
        retry=merge_retry(defaults.retry, task.retry),
        request_timeout_seconds=timeout,
        connection_pool=defaults.connection_pool,
        cooldown_seconds=defaults.cooldown_seconds,
        budget_usd_monthly=environment_overlay(spec, environment).budgets.tasks.get(task_name),
    )


def _credit_limit(budgets: Budgets, tasks: list[ResolvedTask]) -> int:
    """What one provider may spend a month: nothing the tasks reaching it could not spend together,
    and never more than the environment. A task without a budget leaves the environment's."""
    task_budgets = [task.budget_usd_monthly for task in tasks]
    if not task_budgets or None in task_budgets:
        return int(budgets.monthly_usd)
    return int(min(budgets.monthly_usd, sum(budget for budget in task_budgets if budget is not None)))


def _portkey_providers(
    spec: RoutingSpec, environment: str, tasks: tuple[ResolvedTask, ...]
) -> tuple[ResolvedPortkeyProvider, ...]:
    """Every Model Catalog provider the environment maps a provider to, sorted by slug."""
    overlay = environment_overlay(spec, environment)
    if overlay.portkey_targets != "model_catalog":
        return ()
    resolved = []
    for provider_name, catalog_name in overlay.portkey_providers.items():
        provider = spec.providers[provider_name]
        slug = portkey_provider_slug(spec, catalog_name, provider_name)
        reaching = [task for task in tasks if any(t.portkey_provider == slug for t in task.targets)]
        resolved.append(
            ResolvedPortkeyProvider(
                slug=slug,
                name=catalog_name,
                description=spec.portkey_providers[catalog_name].description,
                provider=provider_name,
                ai_provider_id=PORTKEY_AI_PROVIDERS[provider.kind],
                integration=integration_slug(environment, provider_name),
                api_key_env=provider.api_key_env,
                rate_limit=spec.portkey_providers[catalog_name].rate_limit,
                credit_limit_usd_monthly=_credit_limit(overlay.budgets, reaching),
                tasks=tuple(task.name for task in reaching),
            )
        )
    return tuple(sorted(resolved, key=lambda entry: entry.slug))


def resolve_environment(spec: RoutingSpec, environment: str) -> ResolvedEnvironment:
    overlay = environment_overlay(spec, environment)
    defaults = effective_defaults(spec, environment)
    embedding_model = defaults.cache.embedding_model if defaults.cache.mode == "semantic" else None
    tasks = tuple(resolve_task(spec, environment, name) for name in sorted(spec.tasks))
    return ResolvedEnvironment(
        name=environment,
        portkey_targets=overlay.portkey_targets,
        defaults=defaults,
        tasks=tasks,
        portkey_providers=_portkey_providers(spec, environment, tasks),
        budget_alert_threshold_percent=overlay.budgets.alert_threshold_percent,
        budget_usd_monthly=overlay.budgets.monthly_usd,
        # Like `defaults`, an environment's `slos` overrides only the fields it names.
        slos=spec.slos.model_copy(update=overlay.slos.model_dump(exclude_unset=True)) if overlay.slos else spec.slos,
        # The cache embeds every prompt before routing: its model's own timeout applies, as for any target.
        cache_embedding_target=_resolve_target(
            spec,
            environment,
            embedding_model,
            _target_timeout(spec, [], embedding_model, defaults.request_timeout_seconds),
        )
        if embedding_model
        else None,
        applications=tuple(
            ResolvedApplication(name, application.description, tuple(application.tasks), application_key_env(name))
            for name, application in sorted(spec.applications.items())
        ),
        observability=spec.observability.model_copy(update=overlay.observability.model_dump(exclude_none=True))
        if overlay.observability
        else spec.observability,
    )
