"""Reads the generator's output for one environment: the files an engine's pods carry, and the facts
the generated manifest (``routing.json``) states for its consumers.

``gateway_config`` writes ``gateway_config/generated/<env>/`` (docs/CONTRACT.md); this module only
reads it. It picks the files the chosen engine serves (the engine registry says which), adds the
project code the engine ships next to them (LiteLLM's client-contract hooks), checks the tree is
complete and that the engine can serve it, and computes the checksum reviewers see as the
``configChecksum`` stack output.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from runtime.engines import Engine, shipped_files

# Offline runs (tests, `make plan` on a scratch tree) point here instead of the committed tree.
GENERATED_DIR_ENV = "LLM_GATEWAY_GENERATED_DIR"
DEFAULT_GENERATED_DIR = Path(__file__).resolve().parent.parent / "gateway_config" / "generated"

# A ConfigMap is capped at 1 MiB by the API server; fail here with a readable message instead.
_CONFIGMAP_LIMIT_BYTES = 1024 * 1024


class GeneratedConfigError(Exception):
    """The generated tree for the environment is missing, incomplete, or not servable by the engine."""


@dataclass(frozen=True)
class ProviderFacts:
    """What ``routing.json`` states about one provider the environment routes to."""

    kind: str
    base_url: str
    api_key_env: str | None


@dataclass(frozen=True)
class GeneratedConfig:
    """The files one engine's pods carry, by path relative to ``generated/<env>/``: the generated ones
    and the project code the engine ships with them."""

    environment: str
    files: dict[str, str]

    @property
    def checksum(self) -> str:
        """sha256 over paths and contents: identical spec → identical value."""
        canonical = json.dumps(self.files, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    @property
    def manifest(self) -> dict[str, Any]:
        """``routing.json``, the contract every consumer reads."""
        manifest: dict[str, Any] = json.loads(self.files["routing.json"])
        return manifest

    @property
    def portkey_targets(self) -> str:
        """How the environment's Portkey configs name targets: ``model_catalog`` or ``custom_host``."""
        return str(self.manifest["portkey_targets"])

    @property
    def providers(self) -> dict[str, ProviderFacts]:
        return {name: ProviderFacts(**facts) for name, facts in self.manifest["providers"].items()}

    @property
    def provider_key_env_vars(self) -> list[str]:
        """The environment variables the routes read provider keys from (``OPENAI_API_KEY``, …)."""
        return sorted({facts.api_key_env for facts in self.providers.values() if facts.api_key_env})

    @property
    def custom_hosts(self) -> list[str]:
        """The host names the served Portkey configs' ``custom_host`` targets name (sorted, unique)."""
        return custom_hosts(
            json.loads(text)
            for path, text in self.files.items()
            if path.startswith("portkey/") and path.endswith(".json")
        )

    @property
    def semantic_cache(self) -> bool:
        """Whether the environment's shared cache is semantic (its Redis needs the search commands)."""
        return bool(self.manifest["shared_cache"]["mode"] == "semantic")

    def longest_request_seconds(self, engine: Engine) -> float:
        """The longest a request of any routed task can take on ``engine``: the provider calls
        ``routing.json`` bounds, plus the engine's waits before the task's retries."""
        longest = 0.0
        for task in self.manifest["tasks"].values():
            if task.get("route") == "gateway":
                waits = engine.retry_waits.bound_seconds(int(task["retry"]["attempts"]))
                longest = max(longest, float(task["longest_request_seconds"]) + waits)
        return longest

    @property
    def applications(self) -> dict[str, str]:
        """Application → the environment variable the gateway reads its key from (``routing.json``)."""
        return {name: str(app["key_env"]) for name, app in sorted((self.manifest.get("applications") or {}).items())}

    @property
    def runtime_env(self) -> dict[str, str]:
        """Plain environment the engine reads at start (LiteLLM's provider connection pool, …)."""
        text = self.files.get("litellm/env.json")
        return dict(sorted(json.loads(text).items())) if text else {}

    @property
    def configmap_keys(self) -> dict[str, str]:
        """ConfigMap key for each relative path (keys may not contain '/')."""
        return {path: path.replace("/", ".") for path in sorted(self.files)}


def custom_hosts(portkey_configs: Iterable[Any]) -> list[str]:
    """The host names the ``custom_host`` targets of Portkey configs name, at any depth (sorted, unique)."""
    hosts: set[str] = set()

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            url = node.get("custom_host")
            if isinstance(url, str) and urlsplit(url).hostname:
                hosts.add(str(urlsplit(url).hostname))
            for child in node.values():
                collect(child)
        elif isinstance(node, list):
            for child in node:
                collect(child)

    for config in portkey_configs:
        collect(config)
    return sorted(hosts)


@dataclass(frozen=True)
class CatalogProviderFacts:
    """What ``routing.json`` states about one Model Catalog provider (``portkey_providers.<slug>``)."""

    slug: str
    name: str
    description: str
    provider: str
    ai_provider_id: str
    integration: str
    api_key_env: str | None
    rate_limit: dict[str, Any] | None
    credit_limit_usd_monthly: int
    tasks: tuple[str, ...]


@dataclass(frozen=True)
class HostedPortkey:
    """The Portkey control plane an environment served by Portkey's hosted gateway needs: its Model
    Catalog providers, one saved config per Portkey-routed task (the generated ``portkey/<task>.json``)
    and the budgets Portkey enforces. Read whatever engine runs in-cluster."""

    environment: str
    providers: tuple[CatalogProviderFacts, ...]
    configs: dict[str, dict[str, Any]]
    budget_usd_monthly: float
    task_budgets_usd_monthly: dict[str, float]
    alert_threshold_percent: int

    @property
    def integrations(self) -> dict[str, CatalogProviderFacts]:
        """One integration per provider credential: integration slug -> the first provider on it."""
        by_slug: dict[str, CatalogProviderFacts] = {}
        for provider in self.providers:
            by_slug.setdefault(provider.integration, provider)
        return by_slug


def load_hosted_portkey(environment: str, root: Path | None = None) -> HostedPortkey | None:
    """The environment's hosted Portkey control plane, or None when its configs target ``custom_host``."""
    env_dir = (root or generated_root()) / environment
    try:
        manifest = json.loads((env_dir / "routing.json").read_text(encoding="utf-8"))
        if manifest["portkey_targets"] != "model_catalog":
            return None
        providers = tuple(
            CatalogProviderFacts(slug=slug, **{**facts, "tasks": tuple(facts["tasks"])})
            for slug, facts in sorted(manifest["portkey_providers"].items())
        )
        gateway_tasks = {name: task for name, task in manifest["tasks"].items() if task["route"] == "gateway"}
        configs = {
            name: json.loads((env_dir / task["portkey_config"]).read_text(encoding="utf-8"))
            for name, task in sorted(gateway_tasks.items())
        }
        budgets = {
            name: float(task["budget_usd_monthly"])
            for name, task in sorted(gateway_tasks.items())
            if task.get("budget_usd_monthly") is not None
        }
        return HostedPortkey(
            environment=environment,
            providers=providers,
            configs=configs,
            budget_usd_monthly=float(manifest["budget_usd_monthly"]),
            task_budgets_usd_monthly=budgets,
            alert_threshold_percent=int(manifest["budget_alert_threshold_percent"]),
        )
    except FileNotFoundError as error:
        raise GeneratedConfigError(f"{env_dir}: missing {error.filename}; run `make generate`") from None
    except (KeyError, TypeError, ValueError) as error:
        raise GeneratedConfigError(
            f"{env_dir}: not the generator's Portkey control plane ({error!r}); run `make generate`"
        ) from None


def generated_root() -> Path:
    """Where the generated tree lives: the committed one unless an offline run overrides it."""
    override = os.environ.get(GENERATED_DIR_ENV)
    return Path(override) if override else DEFAULT_GENERATED_DIR


def _served_paths(env_dir: Path, engine: Engine) -> list[str]:
    paths: list[str] = []
    for pattern in engine.serves:
        if any(char in pattern for char in "*?["):
            matches = sorted(path.relative_to(env_dir).as_posix() for path in env_dir.glob(pattern))
            if not matches:
                raise GeneratedConfigError(f"{env_dir}: no generated {pattern}; run `make generate`")
            paths.extend(matches)
        else:
            paths.append(pattern)
    return paths


def check_engine_serves(config: GeneratedConfig, engine: Engine, env_dir: Path) -> None:
    """Only Portkey's hosted gateway resolves Model Catalog providers (``@slug/model``); an in-cluster
    engine that takes Portkey configs can serve only ``custom_host`` targets. Raises :class:`GeneratedConfigError`."""
    if engine.route_selector != "portkey_config_header" or engine.resolves_portkey_providers:
        return
    if config.portkey_targets == "custom_host":
        return
    configs = ", ".join(path for path in sorted(config.files) if path.startswith("portkey/"))
    environment = config.environment
    raise GeneratedConfigError(
        f"llm-gateway:engine: {engine.name} cannot serve environment {environment!r}: its generated "
        f"Portkey configs target {config.portkey_targets} providers (@slug/model: {configs}), and the OSS "
        "Portkey image has no Model Catalog. Use Portkey's hosted gateway with these configs (engine: litellm "
        "in-cluster), or set "
        f"`environments.{environment}.portkey_targets: custom_host` in gateway_config/routing.yaml "
        "and run `make generate`."
    )


def load_generated_config(environment: str, engine: Engine, root: Path | None = None) -> GeneratedConfig:
    """Load what ``engine`` serves for ``environment`` from ``<root>/<environment>/``."""
    env_dir = (root or generated_root()) / environment
    if not env_dir.is_dir():
        raise GeneratedConfigError(
            f"{env_dir}: no generated config for environment {environment!r}; run `make generate`"
        )
    wanted = _served_paths(env_dir, engine)
    missing = [path for path in wanted if not (env_dir / path).is_file()]
    if missing:
        raise GeneratedConfigError(f"{env_dir}: missing {', '.join(missing)}; run `make generate`")

    files = {path: (env_dir / path).read_text(encoding="utf-8") for path in wanted}
    for path, source in shipped_files(engine).items():
        if path in files:
            raise GeneratedConfigError(f"{env_dir}/{path}: generated, but {engine.name} also ships {source} there")
        files[path] = source.read_text(encoding="utf-8")
    config = GeneratedConfig(environment=environment, files=files)
    try:
        config.providers  # noqa: B018 (parse the contract now, so a broken manifest fails here, readably)
        config.portkey_targets  # noqa: B018
        config.semantic_cache  # noqa: B018
    except (KeyError, TypeError, ValueError) as error:
        raise GeneratedConfigError(
            f"{env_dir}/routing.json: not the generator's manifest ({error}); run `make generate`"
        ) from None
    keys = config.configmap_keys
    if len(set(keys.values())) != len(keys):
        raise GeneratedConfigError(f"{env_dir}: two generated files map to the same ConfigMap key")
    size = sum(len(text.encode()) for text in files.values())
    if size > _CONFIGMAP_LIMIT_BYTES:
        raise GeneratedConfigError(f"{env_dir}: {size} bytes exceeds the 1 MiB ConfigMap limit")
    check_engine_serves(config, engine, env_dir)
    return config
