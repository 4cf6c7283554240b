"""Property tests: every valid spec yields configs that meet the Portkey and LiteLLM rules (docs/runtime-facts.md).

`routing_specs()` draws random *valid* specs (providers, models, tiers with loadbalance weights and
acyclic fallback tiers, tasks with overrides, experiments within 100 %, per-environment keys and
overlays). Each example goes through the real YAML loader, so a strategy bug shows up as a
validation error rather than as a silently skipped example.
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st

from gateway_config.build import render
from gateway_config.loader import load_spec_text
from gateway_config.spec import ENVIRONMENT_NAMES

PORTKEY_MODES = {"single", "loadbalance", "fallback", "conditional"}
RETRY_CODES = [408, 429, 500, 502, 503, 504, 529]
SECRET_PATTERNS = [
    re.compile(r"\bsk-[A-Za-z0-9_-]{8,}"),  # OpenAI / Anthropic / LiteLLM style keys
    re.compile(r"\b[0-9a-fA-F]{32,}\b"),  # long hex tokens
    re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
]
# No shrink phase: an example costs ~0.1 s, so shrinking a failure took minutes; the assertion messages
# name the file and key, and `note` prints the whole failing spec instead.
PROPERTY_SETTINGS = settings(
    max_examples=60,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

names = st.from_regex(r"[a-z][a-z0-9-]{0,8}", fullmatch=True)
timeouts = st.sampled_from([0.5, 1, 2.5, 8, 15, 30, 60, 120, 600])


@st.composite
def routing_specs(draw: st.DrawFn) -> dict[str, Any]:
    kinds = draw(st.lists(st.sampled_from(["openai", "anthropic", "openrouter"]), min_size=1, max_size=3))
    providers: dict[str, Any] = {}
    for index, kind in enumerate(kinds):
        slash = draw(st.sampled_from(["", "/"]))
        providers[f"p{index}-{kind}"] = {
            "kind": kind,
            "base_url": f"https://{kind}.example.com/api/v1{slash}",
            "api_key_env": f"P{index}_{kind.upper()}_KEY",
        }
    gateway_providers = list(providers)
    with_cortex = draw(st.booleans())
    if with_cortex:
        providers["cortex"] = {"kind": "snowflake_cortex", "base_url": "https://acct.snowflakecomputing.com"}

    models: dict[str, Any] = {}
    for provider in gateway_providers:
        for index in range(draw(st.integers(1, 3))):
            # Random ids are not in LiteLLM's price map: each names the entry it is priced as.
            model: dict[str, Any] = {
                "provider": provider,
                "id": f"{draw(names)}/{provider}-{index}",
                "price_as": draw(st.sampled_from(["gpt-4o", "gpt-4o-mini", "claude-haiku-4-5-20251001"])),
            }
            if draw(st.booleans()):
                model["timeout_seconds"] = draw(timeouts)
            models[f"{provider}-m{index}"] = model
    chat_models = list(models)
    semantic = draw(st.booleans())
    if semantic:
        models["embedder"] = {
            "provider": gateway_providers[0],
            "id": "text-embedding-3-small",
            "kind": "embedding",
            "price_as": "text-embedding-3-small",
        }
    if with_cortex:
        models["arctic"] = {
            "provider": "cortex",
            "id": "snowflake-arctic-embed-m",
            "kind": "embedding",
            "embedding_dimensions": draw(st.sampled_from([768, 1024])),
        }

    tiers: dict[str, Any] = {}
    tier_count = draw(st.integers(1, 4))
    for index in range(tier_count):
        chosen = draw(st.lists(st.sampled_from(chat_models), min_size=1, max_size=4, unique=True))
        strategy = draw(st.sampled_from(["fallback", "loadbalance"]))
        targets: list[Any] = []
        if strategy == "loadbalance":
            weights = draw(st.lists(st.sampled_from([0, 0.5, 1, 2, 3, 10]), min_size=len(chosen), max_size=len(chosen)))
            if sum(weights) == 0:
                weights[0] = 1
            for model, weight in zip(chosen, weights, strict=True):
                targets.append({"model": model, "weight": weight})
        else:
            for model in chosen:
                targets.append({"model": model, "timeout_seconds": draw(timeouts)} if draw(st.booleans()) else model)
        tier: dict[str, Any] = {"strategy": strategy, "targets": targets}
        # Fallback tiers only point "down" the list: acyclic by construction.
        if index + 1 < tier_count and draw(st.booleans()):
            tier["fallback_tier"] = f"t{draw(st.integers(index + 1, tier_count - 1))}"
        tiers[f"t{index}"] = tier
    if with_cortex:
        tiers["data-local"] = {"targets": ["arctic"]}
    gateway_tiers = [name for name in tiers if name != "data-local"]

    tasks: dict[str, Any] = {}
    for index in range(draw(st.integers(1, 6))):
        task: dict[str, Any] = {"tier": draw(st.sampled_from(gateway_tiers))}
        if draw(st.booleans()):
            task["retry"] = {"attempts": draw(st.integers(0, 10))}
            if draw(st.booleans()):
                task["retry"]["on_status_codes"] = draw(
                    st.lists(st.sampled_from(RETRY_CODES), min_size=1, max_size=4, unique=True)
                )
        if draw(st.booleans()):
            task["cache"] = {
                "mode": draw(st.sampled_from(["simple", "off"])),
                "ttl_seconds": draw(st.integers(1, 86400)),
            }
        if draw(st.booleans()):
            task["request_timeout_seconds"] = draw(timeouts)
        tasks[f"task-{index}"] = task
    if with_cortex:
        tasks["embeddings"] = {"tier": "data-local"}
    gateway_tasks = [name for name in tasks if name != "embeddings"]

    experiments: dict[str, Any] = {}
    taken = dict.fromkeys(gateway_tasks, 0.0)
    for index in range(draw(st.integers(0, 3))):
        task_name = draw(st.sampled_from(gateway_tasks))
        percent = draw(st.sampled_from([0.5, 1, 5, 10, 25, 50, 100]))
        if taken[task_name] + percent > 100:
            continue
        other_tiers = [tier for tier in gateway_tiers if tier != tasks[task_name]["tier"]]
        if other_tiers and draw(st.booleans()):
            variant = {"tier": draw(st.sampled_from(other_tiers))}
        else:
            variant = {"model": draw(st.sampled_from(chat_models))}
        experiment: dict[str, Any] = {
            "kind": draw(st.sampled_from(["ab", "canary"])),
            "task": task_name,
            "variant": variant,
            "traffic_percent": percent,
        }
        if draw(st.booleans()):
            experiment["environments"] = draw(
                st.lists(st.sampled_from(list(ENVIRONMENT_NAMES)), min_size=1, max_size=3, unique=True)
            )
        taken[task_name] += percent
        experiments[f"exp-{index}"] = experiment

    portkey_providers: dict[str, Any] = {}
    environments: dict[str, Any] = {}
    for environment in ENVIRONMENT_NAMES:
        per_provider = draw(st.booleans())
        key_map: dict[str, str] = {}
        if per_provider:
            for provider in gateway_providers:
                portkey_providers[f"{environment}-{provider}"] = {"environment": environment, "providers": [provider]}
                key_map[provider] = f"{environment}-{provider}"
        else:
            portkey_providers[f"{environment}-keys"] = {"environment": environment, "providers": gateway_providers}
            key_map = dict.fromkeys(gateway_providers, f"{environment}-keys")
        overlay: dict[str, Any] = {"portkey_providers": key_map, "budgets": {"monthly_usd": 1000}}
        if environment == "local" or draw(st.booleans()):
            overlay["budgets"]["tasks"] = {task: draw(st.integers(1, 100)) for task in tasks if draw(st.booleans())}
        if environment == "local" and draw(st.booleans()):
            overlay["portkey_targets"] = "custom_host"
            overlay["providers"] = {
                provider: {"base_url": f"http://127.0.0.1:{8090 + index}/{provider}/v1"}
                for index, provider in enumerate(gateway_providers)
            }
        if draw(st.booleans()):
            overlay["defaults"] = {
                "retry": {"attempts": draw(st.integers(0, 10))},
                "request_timeout_seconds": draw(timeouts),
            }
        environments[environment] = overlay

    return {
        "version": 1,
        "providers": providers,
        "models": models,
        "tiers": tiers,
        "tasks": tasks,
        "defaults": {
            "cache": {"mode": "semantic", "embedding_model": "embedder"}
            if semantic
            else {"mode": draw(st.sampled_from(["simple", "off"]))},
            "retry": {"attempts": draw(st.integers(0, 10))},
            "request_timeout_seconds": draw(timeouts),
        },
        "experiments": experiments,
        "portkey_providers": portkey_providers,
        "environments": environments,
    }


def sorted_json(text: str) -> str:
    """The canonical layout, computed here rather than by the module under test."""
    return json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def sorted_yaml(text: str, dumper: type) -> str:
    header, _, body = text.partition("\n")
    assert header.startswith("# Generated by"), header
    data = yaml.load(body, Loader=yaml.CSafeLoader)
    canonical = yaml.dump(data, Dumper=dumper, sort_keys=True, default_flow_style=False, width=100, allow_unicode=True)
    return f"{header}\n{canonical}"


def _load(data: dict[str, Any]):
    return load_spec_text(yaml.dump(data, Dumper=yaml.CSafeDumper, sort_keys=False), "random.yaml")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_chain(targets: list[dict[str, Any]], catalog: set[str] | None, errors: list[str], where: str) -> None:
    """A fallback list: retries only on the last target, every leaf reachable."""
    for index, target in enumerate(targets):
        if "targets" in target:
            _check_node(target, catalog, errors, f"{where}[{index}]")
            continue
        _check_leaf(target, catalog, errors, f"{where}[{index}]")
        if index < len(targets) - 1 and target["retry"]["attempts"] != 0:
            errors.append(f"{where}[{index}]: retries on a target that has a fallback after it")


def _check_leaf(target: dict[str, Any], catalog: set[str] | None, errors: list[str], where: str) -> None:
    attempts = target.get("retry", {}).get("attempts")
    if not (isinstance(attempts, int) and not isinstance(attempts, bool) and 0 <= attempts <= 10):
        errors.append(f"{where}: retry.attempts {attempts!r}")
    timeout = target.get("request_timeout")
    if not (isinstance(timeout, int) and not isinstance(timeout, bool) and timeout >= 1):
        errors.append(f"{where}: request_timeout {timeout!r} is not a positive integer of ms")
    if not isinstance(target.get("override_params", {}).get("model"), str):
        errors.append(f"{where}: override_params.model missing")
    model = str(target.get("override_params", {}).get("model"))
    if catalog is None:
        if model.startswith("@") or not target.get("provider") or not target.get("custom_host", "").endswith("/v1"):
            errors.append(f"{where}: custom_host target {target}")
        return
    # A hosted target names a Model Catalog provider the spec gives this environment: `@<slug>/<model>`.
    slug, _, provider_model = model.removeprefix("@").partition("/")
    if not model.startswith("@") or slug not in catalog or not provider_model:
        errors.append(f"{where}: model {model!r} names no Portkey provider of this environment ({sorted(catalog)})")
    if {"custom_host", "provider", "virtual_key"} & set(target):
        errors.append(f"{where}: model_catalog target also names a provider or host {target}")


def _check_circuit_breaker(strategy: dict[str, Any], hosted: bool, errors: list[str], where: str) -> None:
    """Portkey's documented bounds: failure_threshold >= 1, cooldown_interval >= 30000 ms (both required)."""
    breaker = strategy.get("cb_config")
    if not hosted:
        if breaker is not None:
            errors.append(f"{where}: cb_config on a custom_host config (the OSS gateway has no circuit breaker)")
        return
    if not isinstance(breaker, dict):
        errors.append(f"{where}: a hosted strategy without cb_config")
        return
    threshold, cooldown = breaker.get("failure_threshold"), breaker.get("cooldown_interval")
    if not (isinstance(threshold, int) and not isinstance(threshold, bool) and threshold >= 1):
        errors.append(f"{where}: cb_config.failure_threshold {threshold!r}")
    if not (isinstance(cooldown, int) and not isinstance(cooldown, bool) and cooldown >= 30_000):
        errors.append(f"{where}: cb_config.cooldown_interval {cooldown!r} (Portkey's minimum is 30000 ms)")
    codes = breaker.get("failure_status_codes", [])
    if not all(isinstance(code, int) and 400 <= code <= 599 for code in codes) or 408 not in codes:
        errors.append(f"{where}: cb_config.failure_status_codes {codes!r} (a hanging target answers 408)")


def _check_node(node: dict[str, Any], catalog: set[str] | None, errors: list[str], where: str) -> None:
    mode = node.get("strategy", {}).get("mode")
    if mode not in PORTKEY_MODES:
        errors.append(f"{where}: strategy.mode {mode!r}")
    _check_circuit_breaker(node.get("strategy", {}), catalog is not None, errors, where)
    if "retry" in node:
        errors.append(f"{where}: a retry on a strategy node applies to every target below it")
    if mode == "fallback":
        if 408 not in node["strategy"].get("on_status_codes", []):
            errors.append(f"{where}: fallback without 408: a hanging target never fails over")
        _check_chain(node["targets"], catalog, errors, f"{where}.targets")
    elif mode == "loadbalance":
        weights = [target.get("weight") for target in node["targets"]]
        if not all(_is_number(weight) and weight >= 0 for weight in weights) or abs(sum(weights) - 1) > 1e-4:
            errors.append(f"{where}: loadbalance weights {weights}")
        for index, target in enumerate(node["targets"]):
            if "targets" in target:
                _check_node(target, catalog, errors, f"{where}.targets[{index}]")
            else:
                _check_leaf(target, catalog, errors, f"{where}.targets[{index}]")


def _litellm_errors(config: dict[str, Any], gateway_tasks: list[str]) -> list[str]:
    errors = []
    groups: dict[str, list[dict[str, Any]]] = {}
    for deployment in config["model_list"]:
        groups.setdefault(deployment["model_name"], []).append(deployment["litellm_params"])
        params = deployment["litellm_params"]
        if not params["api_key"].startswith("os.environ/"):
            errors.append(f"api_key {params['api_key']!r}")
        if not _is_number(params["timeout"]) or params["timeout"] <= 0:
            errors.append(f"timeout {params['timeout']!r}")
        # docs/runtime-facts.md: allowed_fails 0 or 1; 3 equals LiteLLM's default and is treated as unset.
        for settings_of in (deployment.get("model_info", {}), config["router_settings"]):
            if "allowed_fails" in settings_of and settings_of["allowed_fails"] not in (0, 1):
                errors.append(f"allowed_fails {settings_of['allowed_fails']!r}")
    for task in gateway_tasks:
        deployments = groups.get(task)
        if not deployments:
            errors.append(f"no model group for task {task}")
            continue
        orders = [params.get("order") for params in deployments]
        if not all(isinstance(order, int) and not isinstance(order, bool) and order >= 1 for order in orders):
            errors.append(f"{task}: orders {orders}")
        elif min(orders) != 1:
            errors.append(f"{task}: no deployment of order 1")
        weights = [params["weight"] for params in deployments if "weight" in params]
        if not all(_is_number(weight) and weight >= 0 for weight in weights):
            errors.append(f"{task}: weights {weights}")
        if weights and sum(weights) <= 0:
            errors.append(f"{task}: weights add up to {sum(weights)}")
    retries = config["router_settings"]["num_retries"]
    if not (isinstance(retries, int) and not isinstance(retries, bool) and 0 <= retries <= 10):
        errors.append(f"router_settings.num_retries {retries!r}")
    if "num_retries" in config["litellm_settings"]:
        errors.append("litellm_settings.num_retries: a second retry count would multiply calls to a failing target")
    for task, policy in config["router_settings"]["model_group_retry_policy"].items():
        if not all(isinstance(value, int) and not isinstance(value, bool) for value in policy.values()):
            errors.append(f"{task}: retry policy {policy}")
    return errors


def _string_values(data: Any, path: str = "") -> list[tuple[str, str]]:
    if isinstance(data, dict):
        return [item for key, value in data.items() for item in _string_values(value, f"{path}.{key}")]
    if isinstance(data, list):
        return [item for value in data for item in _string_values(value, path)]
    return [(path, data)] if isinstance(data, str) else []


@PROPERTY_SETTINGS
@given(routing_specs())
def test_every_valid_spec_renders_deterministic_configs_the_runtimes_accept(data: dict[str, Any]) -> None:
    note(yaml.dump(data, Dumper=yaml.CSafeDumper, sort_keys=False))
    spec = _load(data)
    files = render(spec)
    for environment in ENVIRONMENT_NAMES:
        overlay = spec.environments[environment]
        # The slugs the spec gives this environment, computed here rather than by the module under test.
        catalog = (
            None
            if overlay.portkey_targets == "custom_host"
            else {
                name if len(spec.portkey_providers[name].providers) == 1 else f"{name}-{provider}"
                for provider, name in overlay.portkey_providers.items()
                if spec.portkey_providers[name].environment == environment
            }
        )
        manifest = json.loads(files[f"{environment}/routing.json"])
        litellm = yaml.load(files[f"{environment}/litellm/config.yaml"], Loader=yaml.CSafeLoader)
        gateway_tasks = [name for name, entry in manifest["tasks"].items() if entry["route"] == "gateway"]

        # every task is routable: in the manifest, in Portkey and in LiteLLM
        assert set(manifest["tasks"]) == set(spec.tasks)
        for name, entry in manifest["tasks"].items():
            if entry["route"] == "snowflake_cortex":
                assert entry["cortex"]["function"].startswith("SNOWFLAKE.CORTEX.EMBED_TEXT_")
                assert f"{environment}/portkey/{name}.json" not in files
                continue
            assert entry["litellm_model_group"] == name
            assert f"{environment}/{entry['portkey_config']}" in files
            assert abs(sum(branch["percent"] for branch in entry["traffic"]) - 100) < 1e-4

        errors: list[str] = []
        for name in gateway_tasks:
            config = json.loads(files[f"{environment}/portkey/{name}.json"])
            _check_node(config, catalog, errors, f"{environment}/portkey/{name}")
            # the route's retry budget is spent on the last target of each chain
            if config["strategy"]["mode"] == "fallback":
                assert config["targets"][-1]["retry"]["attempts"] == manifest["tasks"][name]["retry"]["attempts"]
        errors += [f"{environment}/litellm: {error}" for error in _litellm_errors(litellm, gateway_tasks)]
        assert errors == []

        for path, value in _string_values(litellm):
            if re.search(r"(key|password|token|secret)$", path, re.IGNORECASE):
                assert value.startswith("os.environ/"), f"{path} = {value!r}"
    for path, text in files.items():
        for pattern in SECRET_PATTERNS:
            assert not pattern.search(text), f"{path} contains something that looks like a secret"

    # Deterministic (a fresh load renders the same bytes), sorted keys, one canonical layout, one
    # trailing newline. Checked on the same example to keep the suite fast.
    assert render(_load(data)) == files
    for path, text in files.items():
        assert text.endswith("\n") and not text.endswith("\n\n"), path
        if path.endswith(".json"):
            assert text == sorted_json(text), path
        else:
            # libyaml's emitter (used when present) and PyYAML's pure-Python one must agree, or the
            # committed tree would depend on how PyYAML was installed.
            assert text == sorted_yaml(text, yaml.SafeDumper) == sorted_yaml(text, yaml.CSafeDumper), path
