"""Routing policies, read from the generated config the program deploys: the gateway's ConfigMap
(``routing.json``, the engine's configs; gateway_config/generated/<env>/) and the saved Portkey configs.

What they guard: a tier-1 task survives one provider's outage, an environment routes only through
its own Portkey providers, retries spent before failing over fit the latency SLO, the semantic
cache's threshold is sane, and experiments take a bounded share of traffic.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from policies.model import (
    CONFIG_MAP,
    Resource,
    Violation,
    get,
    is_gateway_workload,
    is_list,
    items,
    of_type,
    pod_spec,
)

PORTKEY_CONFIG = "pulumi-python:dynamic/portkey:Config"
PORTKEY_PROVIDER = "pulumi-python:dynamic/portkey:Provider"
# A Model Catalog reference in a Portkey config: `@<provider slug>/<model>`.
CATALOG_REFERENCE = re.compile(r"^@([a-z0-9][a-z0-9-]*)/")


@dataclass(frozen=True)
class DeployedRouting:
    """The routing the stack deploys: the manifest and the Portkey configs, and where each came from."""

    config_map: Resource
    manifest: Mapping[str, Any]
    # (resource, task) → the Portkey config body, from the ConfigMap and from the saved configs.
    portkey_configs: list[tuple[Resource, str, Mapping[str, Any]]]


def _mounted_config_maps(resources: Sequence[Resource]) -> set[str]:
    names = set()
    for deployment in (resource for resource in resources if is_gateway_workload(resource)):
        for volume in items(get(pod_spec(deployment), "volumes")):
            name = get(volume, "configMap", "name")
            if name:
                names.add(str(name))
    return names


def deployed_routing(resources: Sequence[Resource]) -> DeployedRouting | None:
    """The gateway's ConfigMap (the one its pods mount) and what it and the saved configs route."""
    mounted = _mounted_config_maps(resources)
    candidates = [
        config_map
        for config_map in of_type(resources, CONFIG_MAP)
        if isinstance(get(config_map.props, "data", "routing.json"), str)
    ]
    chosen = [config_map for config_map in candidates if config_map.kube_name in mounted] or candidates
    if not chosen:
        return None
    config_map = chosen[0]
    data = config_map.props.get("data") or {}
    manifest = json.loads(str(data["routing.json"]))
    configs: list[tuple[Resource, str, Mapping[str, Any]]] = []
    for key, text in data.items():
        if str(key).startswith("portkey.") and str(key).endswith(".json"):
            configs.append((config_map, str(key)[len("portkey.") : -len(".json")], json.loads(str(text))))
    for saved in of_type(resources, PORTKEY_CONFIG):
        body = saved.props.get("config")
        if isinstance(body, str):
            body = json.loads(body)
        if isinstance(body, Mapping):
            configs.append((saved, str(saved.props.get("name", saved.name)), body))
    return DeployedRouting(config_map, manifest, configs)


def _missing(resources: Sequence[Resource]) -> Violation:
    return Violation("the stack deploys no gateway ConfigMap with routing.json; fix: deploy the generated config")


def tier1_fallback(resources: Sequence[Resource], config: Mapping[str, Any]) -> Iterator[Violation]:
    """Every task of a critical tier (``tiers``: tier1) has targets on at least ``minProviders`` (2)
    providers, so one provider's outage leaves it a fallback."""
    routing = deployed_routing(resources)
    if routing is None:
        yield _missing(resources)
        return
    tiers = set(config.get("tiers") or ["tier1"])
    minimum = int(config.get("minProviders", 2))
    for task, spec in sorted((routing.manifest.get("tasks") or {}).items()):
        if spec.get("tier") not in tiers:
            continue
        providers = sorted({str(target.get("provider")) for target in items(spec.get("targets"))})
        if len(providers) < minimum:
            yield Violation(
                f"{routing.config_map.display} routing.json: task {task!r} ({spec.get('tier')}) can only use "
                f"{', '.join(providers) or 'no provider'}; fix: give tier {spec.get('tier')!r} in "
                f"gateway_config/routing.yaml targets on {minimum} providers, then make generate",
                routing.config_map,
            )


def _catalog_providers(config: Any) -> Iterator[str]:
    """The Model Catalog provider slugs a Portkey config names."""
    if isinstance(config, Mapping):
        for key, value in config.items():
            if key in ("model", "provider") and isinstance(value, str):
                match = CATALOG_REFERENCE.match(value)
                if match:
                    yield match.group(1)
            elif key == "virtual_key" and isinstance(value, str):
                yield value
            else:
                yield from _catalog_providers(value)
    elif is_list(config):
        for item in config:
            yield from _catalog_providers(item)


def own_providers_only(resources: Sequence[Resource], config: Mapping[str, Any]) -> Iterator[Violation]:
    """An environment routes only through its own Portkey providers: every provider a target, a saved
    config or a Model Catalog provider names starts with one of ``providerPrefixes`` (prod: ``prod-``)."""
    prefixes = tuple(str(prefix) for prefix in config.get("providerPrefixes") or ["prod-"])
    routing = deployed_routing(resources)
    if routing is None:
        yield _missing(resources)
        return
    fix = (
        f"fix: map the environment's providers to its own Portkey providers ({' or '.join(p + '*' for p in prefixes)}) "
        "under environments.<env>.portkey_providers in gateway_config/routing.yaml, then make generate"
    )
    for task, spec in sorted((routing.manifest.get("tasks") or {}).items()):
        for target in items(spec.get("targets")):
            name = target.get("portkey_provider")
            if name is not None and not str(name).startswith(prefixes):
                yield Violation(
                    f"{routing.config_map.display} routing.json: task {task!r} target {target.get('model')!r} "
                    f"uses Portkey provider {name!r}; {fix}",
                    routing.config_map,
                )
    for source, task, body in routing.portkey_configs:
        for slug in sorted(set(_catalog_providers(body))):
            if not slug.startswith(prefixes):
                yield Violation(f"{source.display}: Portkey config {task!r} names provider @{slug}; {fix}", source)
    for provider in of_type(resources, PORTKEY_PROVIDER):
        slug = str(provider.props.get("slug") or provider.props.get("name") or "")
        if not slug.startswith(prefixes):
            yield Violation(
                f"{provider.display}: Model Catalog provider {slug!r} belongs to another environment; {fix}", provider
            )


def _retries(node: Mapping[str, Any], inherited: int) -> int:
    attempts = get(node, "retry", "attempts")
    return int(attempts) if attempts is not None else inherited


def _before_failover(node: Mapping[str, Any], inherited_retries: int, path: str) -> Iterator[tuple[str, int, float]]:
    """(path, retries, timeout seconds) of every target a fallback chain leaves for the next one."""
    targets = [target for target in items(node.get("targets")) if isinstance(target, Mapping)]
    retries_here = _retries(node, inherited_retries)
    mode = get(node, "strategy", "mode")
    for index, target in enumerate(targets):
        where = f"{path}.targets[{index}]"
        if is_list(target.get("targets")):
            yield from _before_failover(target, retries_here, where)
            continue
        if mode == "fallback" and index < len(targets) - 1:
            timeout_ms = target.get("request_timeout", node.get("request_timeout"))
            if timeout_ms is not None:
                yield where, _retries(target, retries_here), float(timeout_ms) / 1000.0


def retries_within_latency_slo(resources: Sequence[Resource], config: Mapping[str, Any]) -> Iterator[Violation]:
    """Retries a request waits through before its fallback serves fit the latency SLO: for every
    target a fallback chain has an alternative to, retries x its timeout <= the environment's p95
    latency SLO (routing.json ``slos.p95_latency_seconds``). Spent literally (3 retries, then the
    fallback), a dead primary cost every request 7-9 s in the failover benchmark (docs/benchmarks.md)."""
    routing = deployed_routing(resources)
    if routing is None:
        yield _missing(resources)
        return
    slo = float(config.get("p95LatencySeconds") or get(routing.manifest, "slos", "p95_latency_seconds") or 10.0)
    for source, task, body in routing.portkey_configs:
        for where, retries, timeout in _before_failover(body, 0, "config"):
            if retries * timeout > slo:
                yield Violation(
                    f"{source.display}: Portkey config {task!r} {where} retries {retries} x {timeout:g} s "
                    f"= {retries * timeout:g} s before failing over, above the p95 latency SLO of {slo:g} s; "
                    "fix: retries go to the last target only (retry.attempts 0 where a fallback exists), "
                    "as the generator writes it",
                    source,
                )


def semantic_threshold(resources: Sequence[Resource], config: Mapping[str, Any]) -> Iterator[Violation]:
    """A semantic cache's similarity threshold lies in [``min``, ``max``] (0.85-0.99): lower serves
    answers to different questions, higher never hits."""
    routing = deployed_routing(resources)
    if routing is None:
        yield _missing(resources)
        return
    low, high = float(config.get("min", 0.85)), float(config.get("max", 0.99))
    for task, spec in sorted((routing.manifest.get("tasks") or {}).items()):
        cache = spec.get("cache") or {}
        if cache.get("mode") != "semantic":
            continue
        threshold = cache.get("similarity_threshold")
        if threshold is None or not low <= float(threshold) <= high:
            yield Violation(
                f"{routing.config_map.display} routing.json: task {task!r} semantic cache threshold {threshold} "
                f"is outside [{low:g}, {high:g}]; fix: set cache.similarity_threshold in "
                "gateway_config/routing.yaml (0.95 is the plan's), then make generate",
                routing.config_map,
            )


def experiment_share(resources: Sequence[Resource], config: Mapping[str, Any]) -> Iterator[Violation]:
    """Experiments take a bounded share of a task's traffic: each, and all of a task's together, at
    most ``maxPercent`` (prod 20)."""
    routing = deployed_routing(resources)
    if routing is None:
        yield _missing(resources)
        return
    bound = float(config.get("maxPercent", 20))
    for task, spec in sorted((routing.manifest.get("tasks") or {}).items()):
        experiments = items(spec.get("experiments"))
        total = sum(float(experiment.get("traffic_percent") or 0) for experiment in experiments)
        if total > bound:
            names = ", ".join(str(experiment.get("name")) for experiment in experiments)
            yield Violation(
                f"{routing.config_map.display} routing.json: task {task!r} sends {total:g}% of its traffic to "
                f"experiments ({names}), above {bound:g}%; fix: lower traffic_percent under experiments in "
                "gateway_config/routing.yaml, then make generate",
                routing.config_map,
            )
