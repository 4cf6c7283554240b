"""Reads the generator's output for one environment: the files the gateway pods serve.

``gateway_config`` writes ``gateway_config/generated/<env>/`` (see docs/CONTRACT.md); this module
only reads it. It picks the files the chosen engine needs, checks the tree is complete, and
computes the checksum that goes on the pod template so that a routing change rolls the pods.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Offline runs (tests, `make plan` on a scratch tree) point here instead of the committed tree.
GENERATED_DIR_ENV = "LLM_GATEWAY_GENERATED_DIR"
DEFAULT_GENERATED_DIR = Path(__file__).resolve().parent.parent / "gateway_config" / "generated"

# A ConfigMap is capped at 1 MiB by the API server; fail here with a readable message instead.
_CONFIGMAP_LIMIT_BYTES = 1024 * 1024


class GeneratedConfigError(Exception):
    """The generated tree for the environment is missing or incomplete."""


@dataclass(frozen=True)
class GeneratedConfig:
    """The generated files one engine serves, by path relative to ``generated/<env>/``."""

    environment: str
    files: dict[str, str]

    @property
    def checksum(self) -> str:
        """sha256 over paths and contents: identical spec → identical value → no pod restart."""
        canonical = json.dumps(self.files, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

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


def _has_virtual_key(node: Any) -> bool:
    # Targets nest (a loadbalance of fallbacks of targets): look at every level.
    if isinstance(node, dict):
        return "virtual_key" in node or any(_has_virtual_key(value) for value in node.values())
    if isinstance(node, list):
        return any(_has_virtual_key(value) for value in node)
    return False


def virtual_key_configs(env_dir: Path) -> list[str]:
    """The generated Portkey configs (``portkey/<task>.json``) with a ``virtual_key`` target.

    Only Portkey's hosted gateway resolves virtual keys; the OSS image serves ``custom_host``
    targets alone. Unreadable JSON counts as offending, so it is reported rather than deployed.
    """
    offending = []
    for path in sorted((env_dir / "portkey").glob("*.json")):
        try:
            uses_keys = _has_virtual_key(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError):
            uses_keys = True
        if uses_keys:
            offending.append(path.relative_to(env_dir).as_posix())
    return offending


def load_generated_config(environment: str, engine: str, root: Path | None = None) -> GeneratedConfig:
    """Load what ``engine`` serves for ``environment`` from ``<root>/<environment>/``.

    LiteLLM reads ``litellm/config.yaml``; the Portkey OSS gateway reads nothing at start (configs
    travel per request in ``x-portkey-config``), so its pods carry ``portkey/*.json`` for clients
    and for the checksum. Both carry ``routing.json``, the task → route manifest.
    """
    env_dir = (root or generated_root()) / environment
    if not env_dir.is_dir():
        raise GeneratedConfigError(
            f"{env_dir}: no generated config for environment {environment!r}; run `make generate`"
        )
    wanted = ["routing.json"]
    if engine == "litellm":
        wanted.extend(["litellm/config.yaml", "litellm/env.json"])
    else:
        wanted.extend(sorted(p.relative_to(env_dir).as_posix() for p in (env_dir / "portkey").glob("*.json")))
        if len(wanted) == 1:
            raise GeneratedConfigError(f"{env_dir}/portkey: no Portkey configs; run `make generate`")

    missing = [path for path in wanted if not (env_dir / path).is_file()]
    if missing:
        raise GeneratedConfigError(f"{env_dir}: missing {', '.join(missing)}; run `make generate`")

    files = {path: (env_dir / path).read_text(encoding="utf-8") for path in wanted}
    config = GeneratedConfig(environment=environment, files=files)
    keys = config.configmap_keys
    if len(set(keys.values())) != len(keys):
        raise GeneratedConfigError(f"{env_dir}: two generated files map to the same ConfigMap key")
    size = sum(len(text.encode()) for text in files.values())
    if size > _CONFIGMAP_LIMIT_BYTES:
        raise GeneratedConfigError(f"{env_dir}: {size} bytes exceeds the 1 MiB ConfigMap limit")
    return config
