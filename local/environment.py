"""Point a generated ``local`` tree at the servers actually running, without changing anything else.

The generator writes the ``local`` environment against one mock provider on ``127.0.0.1:8090``
(docs/CONTRACT.md). Tests and ``make run`` start the mock on a free port, so :func:`prepare_environment`
copies the tree into a work folder and rewrites only those endpoints: to the mock's real host:port, or,
for a provider whose real API key is in the environment, to the provider's real base URL from the spec.
Secrets and infrastructure are passed as environment variables (the names of CONTRACT.md), never
written into the files, except for a Portkey target of a real provider, which needs its own key.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gateway_config import load_spec
from local.processes import REPO_ROOT

GENERATED_MOCK_HOST = "127.0.0.1:8090"
PROVIDER_KEY_ENV = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY", "openrouter": "OPENROUTER_API_KEY"}
SPEC_PATH = REPO_ROOT / "gateway_config" / "routing.yaml"


@dataclass(frozen=True)
class RedisEndpoint:
    host: str
    port: int
    password: str | None = None


@dataclass
class LocalEnvironment:
    """A rewritten copy of the generated ``local`` tree and the environment its gateway needs."""

    root: Path
    env: dict[str, str]
    routing: dict[str, Any]
    real_providers: frozenset[str] = frozenset()
    cache_enabled: bool = True
    notes: list[str] = field(default_factory=list)

    @property
    def litellm_config(self) -> Path:
        return self.root / "litellm" / "config.yaml"

    def portkey_config_path(self, task: str) -> Path:
        relative = self.routing["tasks"][task].get("portkey_config") or f"portkey/{task}.json"
        return self.root / relative

    def portkey_config(self, task: str) -> str:
        """The task's Portkey config as the one-line JSON the ``x-portkey-config`` header carries."""
        return json.dumps(json.loads(self.portkey_config_path(task).read_text()), separators=(",", ":"))

    def gateway_tasks(self) -> list[str]:
        """Tasks routed through the gateway (``route: gateway``), in manifest order."""
        return [name for name, task in self.routing["tasks"].items() if task.get("route") == "gateway"]


def build_local_tree(out: Path, spec: Path = SPEC_PATH) -> Path:
    """Run the generator for the ``local`` environment into ``out``; return the ``local`` folder."""
    argv = [sys.executable, "-m", "gateway_config", "build", "--env", "local", "--spec", str(spec), "--out", str(out)]
    result = subprocess.run(argv, cwd=REPO_ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[1:])} failed:\n{result.stdout}{result.stderr}")
    return out / "local"


def real_base_urls(spec: Path = SPEC_PATH) -> dict[str, str]:
    """Provider → real base URL, from the spec's top-level ``providers`` (the `local` overlay aside)."""
    return {name: provider.base_url for name, provider in load_spec(spec).providers.items()}


def real_provider_keys(environ: Mapping[str, str]) -> dict[str, str]:
    """Providers whose real API key is set (non-empty) in ``environ``."""
    return {provider: environ[var] for provider, var in PROVIDER_KEY_ENV.items() if environ.get(var)}


def _without_v1(url: str) -> str:
    return url[: -len("/v1")] if url.endswith("/v1") else url


def rewrite_endpoints(text: str, mock_host_port: str, real_roots: Mapping[str, str]) -> str:
    """Swap the generated mock endpoints: real providers first (by path prefix), then the host:port."""
    for provider, root in real_roots.items():
        text = text.replace(f"http://{GENERATED_MOCK_HOST}/{provider}", root)
    return text.replace(GENERATED_MOCK_HOST, mock_host_port)


def prepare_environment(
    generated: Path,
    work_dir: Path,
    mock_url: str,
    redis: RedisEndpoint | None,
    environ: Mapping[str, str] | None = None,
    use_real_providers: bool = False,
    master_key: str | None = None,
    spec: Path = SPEC_PATH,
) -> LocalEnvironment:
    """Copy ``generated`` (a ``.../local`` folder) to ``work_dir`` with endpoints and env for this run.

    ``use_real_providers``: a provider whose key is in ``environ`` keeps its real base URL and key
    (``make run``); otherwise every provider is the mock with a dummy key (tests, ``make smoke``).
    Without ``redis`` the LiteLLM cache and shared router state are switched off in the copy.
    """
    environ = dict(environ or {})
    mock_host_port = mock_url.removeprefix("http://").rstrip("/")
    real_keys = real_provider_keys(environ) if use_real_providers else {}
    bases = real_base_urls(spec) if real_keys else {}
    real_roots = {provider: _without_v1(bases[provider]) for provider in real_keys if provider in bases}

    if work_dir.exists():
        shutil.rmtree(work_dir)
    shutil.copytree(generated, work_dir)
    routing = json.loads((work_dir / "routing.json").read_text())
    notes: list[str] = []

    litellm_path = work_dir / "litellm" / "config.yaml"
    if litellm_path.exists():
        text = rewrite_endpoints(litellm_path.read_text(), mock_host_port, real_roots)
        if redis is None:
            text = _without_redis(text)
            notes.append("LiteLLM cache off: redis-server is not installed (make runtime-redis)")
        litellm_path.write_text(text)

    for path in sorted((work_dir / "portkey").glob("*.json")):
        text = rewrite_endpoints(path.read_text(), mock_host_port, real_roots)
        if real_keys:
            text = _with_portkey_keys(text, {p: real_keys[p] for p in real_roots})
        path.write_text(text)

    # The plain environment the generator asks for (provider connection pool, offline price map),
    # exactly as the Kubernetes Deployment sets it.
    runtime_env_path = work_dir / "litellm" / "env.json"
    runtime_env = json.loads(runtime_env_path.read_text()) if runtime_env_path.exists() else {}
    env = {
        **runtime_env,
        "LITELLM_MASTER_KEY": master_key or f"sk-local-{secrets.token_hex(16)}",
        **{var: real_keys.get(provider, f"mock-key-{provider}") for provider, var in PROVIDER_KEY_ENV.items()},
    }
    if redis is not None:
        env.update({"REDIS_HOST": redis.host, "REDIS_PORT": str(redis.port), "REDIS_PASSWORD": redis.password or ""})
    return LocalEnvironment(
        root=work_dir, env=env, routing=routing, real_providers=frozenset(real_roots),
        cache_enabled=redis is not None, notes=notes,
    )


def _without_redis(litellm_yaml: str) -> str:
    """Drop the Redis cache and the router's Redis settings (they would point at nothing)."""
    config = yaml.safe_load(litellm_yaml)
    settings = config.get("litellm_settings") or {}
    settings.pop("cache_params", None)
    if "cache" in settings:
        settings["cache"] = False
    router = config.get("router_settings") or {}
    for key in ("redis_host", "redis_port", "redis_password", "redis_url"):
        router.pop(key, None)
    return yaml.safe_dump(config, sort_keys=False)


def _with_portkey_keys(portkey_json: str, keys: Mapping[str, str]) -> str:
    """Give each target of a real provider its key (one request can carry only one Authorization)."""
    config = json.loads(portkey_json)

    def visit(node: dict[str, Any]) -> None:
        if node.get("provider") in keys and "custom_host" in node:
            node["api_key"] = keys[node["provider"]]
        for child in node.get("targets") or []:
            visit(child)

    visit(config)
    return json.dumps(config, indent=2)
