"""Whole-document rules of the routing spec: references, cycles, keys per environment, budgets.

`check_references` is a pure function from a structurally valid spec to the list of problems, each
at the key path a reviewer has to edit. It never stops at the first problem.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator
from urllib.parse import urlsplit

from gateway_config.errors import KeyPath, Problem
from gateway_config.prices import PriceError, model_price
from gateway_config.resolve import effective_defaults, tier_chain
from gateway_config.runtime_env import application_key_env
from gateway_config.spec import ENVIRONMENT_NAMES, Cache, CacheOverride, RetryOverride, RoutingSpec

CORTEX = "snowflake_cortex"


def _unknown(kind: str, name: str, known: Iterable[str]) -> str:
    names = ", ".join(sorted(known)) or "none"
    return f"unknown {kind} '{name}' (defined: {names})"


def _provider_kind(spec: RoutingSpec, model: str) -> str:
    return spec.providers[spec.models[model].provider].kind


V1_MESSAGE = "a gateway provider's base_url must end in /v1 (Portkey's custom_host and the OpenAI wire format need it)"


def _ends_in_v1(url: str) -> bool:
    return url.rstrip("/").endswith("/v1")


PLAIN_HTTP_MESSAGE = "plain http would send provider keys unencrypted: use https (http only to loopback)"


def is_loopback_host(host: str) -> bool:
    """``localhost`` or a loopback address (127.0.0.0/8, ::1): traffic that never leaves the machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _plain_http_off_loopback(url: str) -> bool:
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:  # a malformed address is not loopback
        return url.startswith("http://")
    return parts.scheme == "http" and not is_loopback_host(host)


def _check_url(url: str, path: KeyPath, gateway_provider: bool) -> Iterator[Problem]:
    if gateway_provider and not _ends_in_v1(url):
        yield Problem(path, V1_MESSAGE)
    if _plain_http_off_loopback(url):
        yield Problem(path, PLAIN_HTTP_MESSAGE)


def _check_providers(spec: RoutingSpec) -> Iterator[Problem]:
    for name, provider in spec.providers.items():
        yield from _check_url(provider.base_url, ("providers", name, "base_url"), provider.kind != CORTEX)


def _check_models(spec: RoutingSpec) -> Iterator[Problem]:
    for name, model in spec.models.items():
        if model.provider not in spec.providers:
            yield Problem(("models", name, "provider"), _unknown("provider", model.provider, spec.providers))
        elif (
            spec.providers[model.provider].kind == CORTEX
            and model.kind == "embedding"
            and model.embedding_dimensions not in (768, 1024)
        ):
            yield Problem(
                ("models", name, "embedding_dimensions"),
                "a Snowflake Cortex embedding model needs embedding_dimensions 768 or 1024",
            )
        elif spec.providers[model.provider].kind != CORTEX:
            # Cortex bills in Snowflake credits; everything the gateway calls must be priced, or its
            # spend metrics, budgets and cost projections would count it as free.
            try:
                model_price(spec.providers[model.provider].kind, model.id, model.price_as)
            except PriceError as error:
                yield Problem(("models", name, "price_as" if model.price_as else "id"), str(error))


def _route_kinds(spec: RoutingSpec, tier_name: str) -> set[tuple[str, bool]]:
    """(model kind, is Cortex) of a tier's own targets whose model and provider exist."""
    return {
        (spec.models[target.model].kind, _provider_kind(spec, target.model) == CORTEX)
        for target in spec.tiers[tier_name].targets
        if target.model in spec.models and spec.models[target.model].provider in spec.providers
    }


def _check_tiers(spec: RoutingSpec) -> Iterator[Problem]:
    for name, tier in spec.tiers.items():
        seen: set[str] = set()
        kinds: set[tuple[str, bool]] = set()
        for index, target in enumerate(tier.targets):
            path: KeyPath = ("tiers", name, "targets", index)
            if target.model in seen:
                yield Problem((*path, "model"), f"model '{target.model}' is listed twice in this tier")
            seen.add(target.model)
            if target.model not in spec.models:
                yield Problem((*path, "model"), _unknown("model", target.model, spec.models))
                continue
            if spec.models[target.model].provider in spec.providers:
                model = spec.models[target.model]
                kinds.add((model.kind, _provider_kind(spec, target.model) == CORTEX))
            if tier.strategy == "fallback" and target.weight != 1.0:
                yield Problem((*path, "weight"), "weight only applies to a 'loadbalance' tier")
        if len(kinds) > 1:
            yield Problem(
                ("tiers", name, "targets"),
                "a tier mixes chat and embedding models, or Snowflake Cortex with gateway providers",
            )
        if tier.strategy == "loadbalance" and sum(target.weight for target in tier.targets) <= 0:
            yield Problem(("tiers", name, "targets"), "loadbalance weights must have a positive total")
        if tier.fallback_tier is not None and tier.fallback_tier not in spec.tiers:
            yield Problem(("tiers", name, "fallback_tier"), _unknown("tier", tier.fallback_tier, spec.tiers))
        elif tier.fallback_tier is not None and len(kinds | _route_kinds(spec, tier.fallback_tier)) > 1 >= len(kinds):
            # A chain runs through every fallback tier: a Cortex model in a gateway chain cannot be served.
            yield Problem(
                ("tiers", name, "fallback_tier"),
                f"tier '{tier.fallback_tier}' mixes chat and embedding models, or Snowflake Cortex with gateway "
                "providers, with this tier",
            )
    yield from _check_fallback_cycles(spec)


def _check_fallback_cycles(spec: RoutingSpec) -> Iterator[Problem]:
    reported: set[frozenset[str]] = set()
    for start in sorted(spec.tiers):
        path = [start]
        current = spec.tiers[start].fallback_tier
        while current is not None and current in spec.tiers:
            if current in path:
                cycle = path[path.index(current) :]
                if frozenset(cycle) not in reported:
                    reported.add(frozenset(cycle))
                    loop = " -> ".join([*cycle, current])
                    yield Problem(("tiers", cycle[-1], "fallback_tier"), f"fallback cycle: {loop}")
                break
            path.append(current)
            current = spec.tiers[current].fallback_tier


def _check_cache(cache: Cache | CacheOverride, path: KeyPath, spec: RoutingSpec) -> Iterator[Problem]:
    model = cache.embedding_model
    if model is None:
        return
    if model not in spec.models:
        yield Problem((*path, "embedding_model"), _unknown("model", model, spec.models))
    elif spec.models[model].kind != "embedding":
        yield Problem((*path, "embedding_model"), f"model '{model}' is not an embedding model")
    elif _provider_kind(spec, model) == CORTEX:
        yield Problem((*path, "embedding_model"), "the gateway cannot call Snowflake Cortex for its cache")


ROUTE_BOUND_CACHE_MESSAGE = (
    "a task whose prompts_stay_on_route cannot use the cache: it is shared by every caller and a semantic "
    "cache sends each prompt to its embedding model"
)


def _check_route_bound_cache(cache: CacheOverride, path: KeyPath) -> Iterator[Problem]:
    if cache.mode is not None and cache.mode != "off":
        yield Problem((*path, "mode"), ROUTE_BOUND_CACHE_MESSAGE)
    if cache.embedding_model is not None:
        yield Problem((*path, "embedding_model"), ROUTE_BOUND_CACHE_MESSAGE)


def _check_route_bound_variant(spec: RoutingSpec, name: str) -> Iterator[Problem]:
    """An experiment must not send a route-bound task's prompts to a provider its tier does not use."""
    experiment = spec.experiments[name]
    if not spec.tasks[experiment.task].prompts_stay_on_route:
        return
    variant = experiment.variant
    if variant.model is not None and variant.model in spec.models:
        models, key = [variant.model], "model"
    elif variant.tier is not None and variant.tier in spec.tiers:
        models, key = tier_chain(spec, variant.tier), "tier"
    else:
        return
    own = {spec.models[model].provider for model in tier_chain(spec, spec.tasks[experiment.task].tier)}
    outside = sorted({spec.models[model].provider for model in models} - own)
    if outside:
        yield Problem(
            ("experiments", name, "variant", key),
            f"task '{experiment.task}' keeps its prompts on its route's providers ({', '.join(sorted(own))}); "
            f"the variant sends them to {', '.join(outside)}",
        )


def _check_retry(retry: RetryOverride | None, path: KeyPath) -> Iterator[Problem]:
    codes = retry.on_status_codes if retry is not None else None
    if codes is not None and len(set(codes)) != len(codes):
        yield Problem((*path, "on_status_codes"), "status codes are listed twice")


def _check_tasks(spec: RoutingSpec) -> Iterator[Problem]:
    for name, task in spec.tasks.items():
        if task.tier not in spec.tiers:
            yield Problem(("tasks", name, "tier"), _unknown("tier", task.tier, spec.tiers))
        if task.cache is not None:
            yield from _check_cache(task.cache, ("tasks", name, "cache"), spec)
            if task.prompts_stay_on_route:
                yield from _check_route_bound_cache(task.cache, ("tasks", name, "cache"))
        yield from _check_retry(task.retry, ("tasks", name, "retry"))
    yield from _check_cache(spec.defaults.cache, ("defaults", "cache"), spec)
    codes = spec.defaults.retry.on_status_codes
    if len(set(codes)) != len(codes):
        yield Problem(("defaults", "retry", "on_status_codes"), "status codes are listed twice")


def _is_gateway_task(spec: RoutingSpec, task: str) -> bool:
    return not _is_cortex_tier(spec, spec.tasks[task].tier)


def _is_cortex_tier(spec: RoutingSpec, tier: str) -> bool:
    return _provider_kind(spec, tier_chain(spec, tier)[0]) == CORTEX


def _tier_kind(spec: RoutingSpec, tier: str) -> str:
    """'chat' or 'embedding': a tier's chain serves one kind of request (checked in `_check_tiers`)."""
    return spec.models[tier_chain(spec, tier)[0]].kind


def _check_experiments(spec: RoutingSpec) -> Iterator[Problem]:
    share: dict[tuple[str, str], float] = {}
    for name, experiment in spec.experiments.items():
        path: KeyPath = ("experiments", name)
        if experiment.task not in spec.tasks:
            yield Problem((*path, "task"), _unknown("task", experiment.task, spec.tasks))
            continue
        if spec.tasks[experiment.task].tier not in spec.tiers:
            continue
        gateway_task = _is_gateway_task(spec, experiment.task)
        if not gateway_task:
            yield Problem((*path, "task"), "experiments need a task routed through the gateway")
        # Only compared for a gateway task: a Cortex task is already reported above.
        task_kind = _tier_kind(spec, spec.tasks[experiment.task].tier) if gateway_task else None
        variant = experiment.variant
        if variant.model is not None and variant.model not in spec.models:
            yield Problem((*path, "variant", "model"), _unknown("model", variant.model, spec.models))
        elif variant.model is not None and _provider_kind(spec, variant.model) == CORTEX:
            yield Problem((*path, "variant", "model"), "a variant must be served through the gateway")
        elif variant.model is not None and task_kind and spec.models[variant.model].kind != task_kind:
            yield Problem(
                (*path, "variant", "model"),
                f"the variant serves {spec.models[variant.model].kind} requests; "
                f"task '{experiment.task}' serves {task_kind} requests",
            )
        if variant.tier is not None and variant.tier not in spec.tiers:
            yield Problem((*path, "variant", "tier"), _unknown("tier", variant.tier, spec.tiers))
        elif variant.tier is not None and variant.tier == spec.tasks[experiment.task].tier:
            yield Problem((*path, "variant", "tier"), "the variant is the task's own tier")
        elif variant.tier is not None and _is_cortex_tier(spec, variant.tier):
            yield Problem((*path, "variant", "tier"), "a variant must be served through the gateway")
        elif variant.tier is not None and task_kind and _tier_kind(spec, variant.tier) != task_kind:
            yield Problem(
                (*path, "variant", "tier"),
                f"tier '{variant.tier}' serves {_tier_kind(spec, variant.tier)} requests; "
                f"task '{experiment.task}' serves {task_kind} requests",
            )
        yield from _check_route_bound_variant(spec, name)
        if len(set(experiment.environments)) != len(experiment.environments):
            yield Problem((*path, "environments"), "an environment is listed twice")
        for environment in set(experiment.environments):
            key = (experiment.task, environment)
            share[key] = share.get(key, 0.0) + experiment.traffic_percent
            if share[key] > 100:
                yield Problem(
                    (*path, "traffic_percent"),
                    f"experiments on task '{experiment.task}' in {environment} take {share[key]:g}% > 100%",
                )


# Portkey's slug alphabet (integrations and providers): no '.', which spec names otherwise allow.
PORTKEY_SLUG_MESSAGE = "Portkey slugs allow only letters, digits, '_' and '-'"
# Portkey's smallest credit limit (USD) on a provider or a usage-limits policy.
PORTKEY_MIN_CREDIT_USD = 1


def _portkey_slug_ok(name: str) -> bool:
    return "." not in name


def _check_portkey_providers(spec: RoutingSpec) -> Iterator[Problem]:
    for name, entry in spec.portkey_providers.items():
        if not _portkey_slug_ok(name):
            yield Problem(("portkey_providers", name), PORTKEY_SLUG_MESSAGE)
        for index, provider in enumerate(entry.providers):
            path: KeyPath = ("portkey_providers", name, "providers", index)
            if provider not in spec.providers:
                yield Problem(path, _unknown("provider", provider, spec.providers))
            elif spec.providers[provider].kind == CORTEX:
                yield Problem(path, "Snowflake Cortex is not reached through Portkey's Model Catalog")
            elif not _portkey_slug_ok(provider):
                yield Problem(path, f"{PORTKEY_SLUG_MESSAGE} (the provider's name is part of its slugs)")
        if len(set(entry.providers)) != len(entry.providers):
            yield Problem(("portkey_providers", name, "providers"), "a provider is listed twice")
        if len(entry.providers) > 1:
            for provider in entry.providers:
                if f"{name}-{provider}" in spec.portkey_providers:
                    yield Problem(
                        ("portkey_providers", f"{name}-{provider}"),
                        f"name clashes with the per-provider slug of group '{name}'",
                    )


def _check_applications(spec: RoutingSpec) -> Iterator[Problem]:
    key_envs: dict[str, str] = {}
    for name, application in spec.applications.items():
        path: KeyPath = ("applications", name)
        for index, task in enumerate(application.tasks):
            if task not in spec.tasks:
                yield Problem((*path, "tasks", index), _unknown("task", task, spec.tasks))
            elif not _is_gateway_task(spec, task):
                yield Problem(
                    (*path, "tasks", index),
                    f"task '{task}' runs in Snowflake Cortex, not through the gateway: an application "
                    "queries it there with its Snowflake role",
                )
        if len(set(application.tasks)) != len(application.tasks):
            yield Problem((*path, "tasks"), "a task is listed twice")
        key_env = application_key_env(name)
        if key_env in key_envs:
            yield Problem(path, f"application '{key_envs[key_env]}' has the same key variable {key_env}: rename one")
        key_envs.setdefault(key_env, name)


def _providers_used(spec: RoutingSpec, environment: str) -> dict[str, str]:
    """Gateway provider -> the first task that routes to it in `environment`."""
    used: dict[str, str] = {}
    for task_name in sorted(spec.tasks):
        models = list(tier_chain(spec, spec.tasks[task_name].tier))
        for experiment in spec.experiments.values():
            if experiment.task == task_name and environment in experiment.environments:
                if experiment.variant.model in spec.models:
                    models.append(experiment.variant.model)
                elif experiment.variant.tier in spec.tiers:
                    models.extend(tier_chain(spec, experiment.variant.tier))
        for model in models:
            provider = spec.models[model].provider
            if spec.providers[provider].kind != CORTEX:
                used.setdefault(provider, task_name)
    return used


def _check_environments(spec: RoutingSpec) -> Iterator[Problem]:
    for missing in sorted(set(ENVIRONMENT_NAMES) - set(spec.environments)):
        yield Problem(("environments", missing), "required environment is missing")
    for env_name, overlay in spec.environments.items():
        base: KeyPath = ("environments", env_name)
        for provider, override in overlay.providers.items():
            if provider not in spec.providers:
                yield Problem((*base, "providers", provider), _unknown("provider", provider, spec.providers))
            else:
                gateway_provider = spec.providers[provider].kind != CORTEX
                yield from _check_url(override.base_url, (*base, "providers", provider, "base_url"), gateway_provider)
        for provider, catalog_name in overlay.portkey_providers.items():
            path: KeyPath = (*base, "portkey_providers", provider)
            if provider not in spec.providers:
                yield Problem(path, _unknown("provider", provider, spec.providers))
            elif catalog_name not in spec.portkey_providers:
                yield Problem(path, _unknown("Portkey provider", catalog_name, spec.portkey_providers))
            elif spec.portkey_providers[catalog_name].environment != env_name:
                owner = spec.portkey_providers[catalog_name].environment
                yield Problem(path, f"{env_name} routes must not use the {owner} provider '{catalog_name}'")
            elif provider not in spec.portkey_providers[catalog_name].providers:
                yield Problem(path, f"Portkey provider '{catalog_name}' does not cover provider '{provider}'")
        if overlay.portkey_targets == "model_catalog":
            for provider, task in sorted(_providers_used(spec, env_name).items()):
                if provider not in overlay.portkey_providers:
                    yield Problem(
                        (*base, "portkey_providers"),
                        f"no Portkey provider for provider '{provider}' (task '{task}' routes to it)",
                    )
            yield from _check_portkey_budgets(overlay.budgets.monthly_usd, overlay.budgets.tasks, base)
        if overlay.defaults is not None:
            if overlay.defaults.cache is not None:
                yield from _check_cache(overlay.defaults.cache, (*base, "defaults", "cache"), spec)
            yield from _check_retry(overlay.defaults.retry, (*base, "defaults", "retry"))
        for task in overlay.budgets.tasks:
            if task not in spec.tasks:
                yield Problem((*base, "budgets", "tasks", task), _unknown("task", task, spec.tasks))
        task_total = sum(overlay.budgets.tasks.values())
        if task_total > overlay.budgets.monthly_usd:
            yield Problem(
                (*base, "budgets", "tasks"),
                f"task budgets add up to {task_total:g} USD, more than monthly_usd {overlay.budgets.monthly_usd:g}",
            )
    yield from _check_semantic_cache(spec)


def _check_portkey_budgets(monthly_usd: float, tasks: dict[str, float], base: KeyPath) -> Iterator[Problem]:
    """Portkey enforces the budgets of a Model Catalog environment; it cannot hold one below its minimum."""
    message = f"Portkey enforces this budget and its smallest limit is {PORTKEY_MIN_CREDIT_USD} USD"
    if monthly_usd < PORTKEY_MIN_CREDIT_USD:
        yield Problem((*base, "budgets", "monthly_usd"), message)
    for task, budget in tasks.items():
        if budget < PORTKEY_MIN_CREDIT_USD:
            yield Problem((*base, "budgets", "tasks", task), message)


def _check_semantic_cache(spec: RoutingSpec) -> Iterator[Problem]:
    """A semantic cache needs a model to embed prompts with, in whatever layer turned it on."""
    reported: set[KeyPath] = set()
    for environment in sorted(spec.environments):
        cache = effective_defaults(spec, environment).cache
        if cache.mode != "semantic" or cache.embedding_model is not None:
            continue
        overlay = spec.environments[environment].defaults
        if overlay is not None and overlay.cache is not None and overlay.cache.mode == "semantic":
            path: KeyPath = ("environments", environment, "defaults", "cache", "embedding_model")
        else:
            path = ("defaults", "cache", "embedding_model")
        if path not in reported:
            reported.add(path)
            yield Problem(path, "a semantic cache needs an embedding_model")


def check_references(spec: RoutingSpec) -> list[Problem]:
    """Every whole-document problem of a structurally valid spec, in document order of sections."""
    problems = list(_check_providers(spec)) + list(_check_models(spec)) + list(_check_tiers(spec))
    if problems:  # later rules walk the tiers: every name must exist first
        return problems
    problems += _check_tasks(spec)
    if any(problem.path[0] == "tasks" and problem.path[-1] == "tier" for problem in problems):
        return problems
    problems += _check_experiments(spec)
    problems += _check_portkey_providers(spec)
    problems += _check_applications(spec)
    if any(problem.path[0] == "experiments" for problem in problems):
        return problems
    problems += _check_environments(spec)
    return problems
