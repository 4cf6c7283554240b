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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
        """How the environment's Portkey configs name targets: ``virtual_key`` or ``custom_host``."""
        return str(self.manifest["portkey_targets"])

    @property
    def providers(self) -> dict[str, ProviderFacts]:
        return {name: ProviderFacts(**facts) for name, facts in self.manifest["providers"].items()}

    @property
    def provider_key_env_vars(self) -> list[str]:
        """The environment variables the routes read provider keys from (``OPENAI_API_KEY``, …)."""
        return sorted({facts.api_key_env for facts in self.providers.values() if facts.api_key_env})

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
    """Only Portkey's hosted gateway resolves virtual keys; an in-cluster engine that takes Portkey
    configs can serve only ``custom_host`` targets. Raises :class:`GeneratedConfigError`."""
    if engine.route_selector != "portkey_config_header" or engine.resolves_portkey_providers:
        return
    if config.portkey_targets == "custom_host":
        return
    configs = ", ".join(path for path in sorted(config.files) if path.startswith("portkey/"))
    environment = config.environment
    raise GeneratedConfigError(
        f"llm-gateway:engine: {engine.name} cannot serve environment {environment!r}: its generated "
        f"Portkey configs target {config.portkey_targets} ({configs}), and the OSS Portkey image has no "
        "virtual keys. Use Portkey's hosted gateway with these configs (engine: litellm in-cluster), or set "
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
