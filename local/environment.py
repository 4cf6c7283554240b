"""Point a generated ``local`` tree at the servers actually running, without changing anything else.

The generator writes the ``local`` environment against one mock provider on ``127.0.0.1:8090``
(docs/CONTRACT.md); :func:`build_local_tree` runs it in-process from a spec loaded (and validated)
once per run. Tests and ``make run`` start the mock on a free port, so :func:`prepare_environment`
copies the tree into a work folder and rewrites only those endpoints: to the mock's real host:port, or,
for a provider whose real API key is in the environment, to the provider's real base URL from the spec.
The files are rewritten as data (parsed, endpoint values changed, written back with the generator's own
serializer), so a rewritten file differs from the generated one in its endpoints only.
The project code an engine ships next to its generated files (LiteLLM's client-contract hooks) is
placed as the pods have it. Secrets and infrastructure are passed as environment variables (the names
of CONTRACT.md), a fresh local key per application among them, never written into the files, except
for a Portkey target of a real provider, which needs its own key: such a work folder must be private
(:func:`private_work_dir`) and is deleted when the run ends.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

from gateway_config.build import DEFAULT_SPEC, dump_json, dump_yaml, render, write_tree
from gateway_config.generators.litellm import REQUEST_LOG_CALLBACK
from gateway_config.loader import load_spec
from gateway_config.runtime_env import (
    CACHE_REDIS_HOST,
    CACHE_REDIS_PASSWORD,
    CACHE_REDIS_PORT,
    CACHE_REDIS_URL,
    MASTER_KEY,
    STATE_REDIS_HOST,
    STATE_REDIS_PASSWORD,
    STATE_REDIS_PORT,
)
from gateway_config.spec import RoutingSpec
from local.client import gateway_tasks, mock_provider_key
from local.processes import LocalRedis, LocalRedisPair
from local.request_log import LocalRequestLog
from runtime.engines import ENGINES, shipped_files

GENERATED_MOCK_HOST = "127.0.0.1:8090"
LOCAL = "local"
# The key files of the administrators' (master) key: no application name starts with "_".
ADMIN_KEY_FILE = "_admin"


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to a file only this user can read (mode 0600 from its creation on)."""
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CREAT, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)


__all__ = ["LocalRedis", "LocalRedisPair"]


def redis_environment(redis: LocalRedisPair) -> dict[str, str]:
    """The variables the generated LiteLLM config reads its two Redis instances from."""
    cache, state = redis.cache, redis.state
    return {
        CACHE_REDIS_HOST: cache.host,
        CACHE_REDIS_PORT: str(cache.port),
        CACHE_REDIS_PASSWORD: cache.password,
        CACHE_REDIS_URL: cache.url,
        STATE_REDIS_HOST: state.host,
        STATE_REDIS_PORT: str(state.port),
        STATE_REDIS_PASSWORD: state.password,
    }


@dataclass
class LocalEnvironment:
    """A rewritten copy of the generated ``local`` tree and the environment its gateway needs."""

    root: Path
    env: dict[str, str]
    routing: dict[str, Any]
    real_providers: frozenset[str] = frozenset()
    cache_enabled: bool = True
    notes: list[str] = field(default_factory=list)
    # application → its key for this run (the gateway reads it from routing.json's `key_env`)
    application_keys: dict[str, str] = field(default_factory=dict)

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
        return gateway_tasks(self.routing)

    def application_tasks(self, application: str) -> list[str]:
        return list(self.routing["applications"][application]["tasks"])

    def write_key_files(self, folder: Path) -> None:
        """Each application's key as ``<application>.key`` and as a curl header file (``curl -H @file``),
        the administrators' (master) key as ``_admin.*`` (no application name starts with ``_``), all
        readable by this user only: a key read from a file stays off command lines and shell history."""
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        for name, key in sorted({**self.application_keys, ADMIN_KEY_FILE: self.env[MASTER_KEY]}.items()):
            write_private(folder / f"{name}.key", key + "\n")
            write_private(folder / f"{name}.header", f"Authorization: Bearer {key}\n")


@contextmanager
def private_work_dir(prefix: str) -> Iterator[Path]:
    """A fresh folder only this user can read (mode 0700), deleted with everything in it on exit.

    For the configs of a run (a Portkey config of a real provider holds its API key), logs and Redis data.
    """
    path = Path(tempfile.mkdtemp(prefix=prefix))  # mkdtemp creates it 0700, whatever the umask
    try:
        path.chmod(0o700)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def load_local_spec(path: Path = DEFAULT_SPEC) -> RoutingSpec:
    """The routing spec, validated (raises ``gateway_config.InputError``): load it once per run."""
    return load_spec(path)


def build_local_tree(out: Path, spec: RoutingSpec) -> Path:
    """Generate the ``local`` environment into ``out`` with the generator's own functions; return its folder."""
    write_tree(render(spec, [LOCAL]), out, [LOCAL])
    return out / LOCAL


def provider_key_envs(routing: Mapping[str, Any]) -> dict[str, str]:
    """Provider → the environment variable holding its API key, as ``routing.json`` states it.

    Providers without one (Snowflake Cortex) are left out."""
    return {name: facts["api_key_env"] for name, facts in routing["providers"].items() if facts.get("api_key_env")}


def real_base_urls(spec: RoutingSpec) -> dict[str, str]:
    """Provider → real base URL, from the spec's top-level ``providers`` (the `local` overlay aside)."""
    return {name: str(provider.base_url) for name, provider in spec.providers.items()}


def real_provider_keys(environ: Mapping[str, str], key_envs: Mapping[str, str]) -> dict[str, str]:
    """Providers whose real API key is set (non-empty) in ``environ`` (``key_envs``: provider → variable)."""
    return {provider: environ[var] for provider, var in key_envs.items() if environ.get(var)}


def _without_v1(url: str) -> str:
    url = url.rstrip("/")
    return url[: -len("/v1")] if url.endswith("/v1") else url


def real_provider_of(url: str, real_roots: Mapping[str, str]) -> str | None:
    """The provider of ``real_roots`` whose generated mock path (``/<provider>``) ``url`` is under, if any."""
    parts = urlsplit(url)
    if parts.netloc != GENERATED_MOCK_HOST:
        return None
    for provider in real_roots:
        if parts.path == f"/{provider}" or parts.path.startswith(f"/{provider}/"):
            return provider
    return None


def rewrite_url(url: str, mock_host_port: str, real_roots: Mapping[str, str]) -> str:
    """One endpoint of the generated tree, for this run.

    Only a URL on the generated mock (``127.0.0.1:8090``) changes: under ``/<provider>`` of a provider in
    ``real_roots`` it moves to that provider's real root (``http://127.0.0.1:8090/openai/v1`` →
    ``https://api.openai.com/v1``); otherwise only its host:port becomes the running mock's.
    """
    parts = urlsplit(url)
    if parts.netloc != GENERATED_MOCK_HOST:
        return url
    provider = real_provider_of(url, real_roots)
    if provider is not None:
        rest = urlunsplit(parts._replace(scheme="", netloc="", path=parts.path[len(provider) + 1 :]))
        return real_roots[provider] + rest
    return urlunsplit(parts._replace(netloc=mock_host_port))


def rewrite_litellm_config(config: dict[str, Any], mock_host_port: str, real_roots: Mapping[str, str]) -> None:
    """Rewrite every deployment's ``litellm_params.api_base`` in place (keys stay ``os.environ/...``)."""
    for deployment in config.get("model_list") or []:
        params = deployment.get("litellm_params") or {}
        if isinstance(params.get("api_base"), str):
            params["api_base"] = rewrite_url(params["api_base"], mock_host_port, real_roots)


def rewrite_portkey_config(
    config: dict[str, Any], mock_host_port: str, real_roots: Mapping[str, str], keys: Mapping[str, str]
) -> None:
    """Rewrite every (nested) target's ``custom_host`` in place; a target moved to a real provider gets
    that provider's key from ``keys`` (one request can carry only one ``Authorization``)."""
    host = config.get("custom_host")
    if isinstance(host, str):
        provider = real_provider_of(host, real_roots)
        config["custom_host"] = rewrite_url(host, mock_host_port, real_roots)
        if provider is not None:
            config["api_key"] = keys[provider]
    for child in config.get("targets") or []:
        rewrite_portkey_config(child, mock_host_port, real_roots, keys)


def prepare_environment(
    generated: Path,
    work_dir: Path,
    mock_url: str,
    redis: LocalRedisPair | None,
    environ: Mapping[str, str] | None = None,
    real_providers_from: RoutingSpec | None = None,
    master_key: str | None = None,
    request_log: LocalRequestLog | None = None,
) -> LocalEnvironment:
    """Copy ``generated`` (a ``.../local`` folder) to ``work_dir`` with endpoints and env for this run.

    ``real_providers_from`` (``make run``): a provider whose key is in ``environ`` keeps its real
    base URL (from that spec) and key; without it every provider is the mock with a dummy key
    (tests, ``make smoke``). Without ``redis`` the LiteLLM cache and shared router state are
    switched off in the copy; without ``request_log`` (a local S3 bucket) so is the request log.
    """
    environ = dict(environ or {})
    mock_host_port = mock_url.removeprefix("http://").rstrip("/")
    routing = json.loads((generated / "routing.json").read_text())
    key_envs = provider_key_envs(routing)
    real_keys = real_provider_keys(environ, key_envs) if real_providers_from is not None else {}
    bases = real_base_urls(real_providers_from) if real_providers_from is not None and real_keys else {}
    real_roots = {provider: _without_v1(bases[provider]) for provider in real_keys if provider in bases}

    if work_dir.exists():
        shutil.rmtree(work_dir)
    shutil.copytree(generated, work_dir)
    work_dir.chmod(0o700)
    place_shipped_files(work_dir)
    notes: list[str] = []

    litellm_path = work_dir / "litellm" / "config.yaml"
    if litellm_path.exists():
        config = yaml.safe_load(litellm_path.read_text())
        rewrite_litellm_config(config, mock_host_port, real_roots)
        if redis is None:
            _drop_redis(config)
            notes.append("LiteLLM cache off: redis-server is not installed (make runtime-redis)")
        if request_log is None:
            _drop_request_log(config)
        litellm_path.write_text(dump_yaml(config))

    portkey_keys = {provider: real_keys[provider] for provider in real_roots}
    for path in sorted((work_dir / "portkey").glob("*.json")):
        config = json.loads(path.read_text())
        rewrite_portkey_config(config, mock_host_port, real_roots, portkey_keys)
        text = dump_json(config)
        if portkey_keys:
            # Holds API keys: readable by this user only (the folder is 0700 and deleted after the run).
            write_private(path, text)
        else:
            path.write_text(text)

    # The plain environment the generator asks for (provider connection pool, offline price map),
    # exactly as the Kubernetes Deployment sets it.
    runtime_env_path = work_dir / "litellm" / "env.json"
    runtime_env = json.loads(runtime_env_path.read_text()) if runtime_env_path.exists() else {}
    application_keys = {
        name: f"sk-local-{name}-{secrets.token_hex(12)}" for name in sorted(routing.get("applications") or {})
    }
    env = {
        **runtime_env,
        MASTER_KEY: master_key or f"sk-local-{secrets.token_hex(16)}",
        **{var: real_keys.get(provider, mock_provider_key(provider)) for provider, var in key_envs.items()},
        **{routing["applications"][name]["key_env"]: key for name, key in application_keys.items()},
    }
    if redis is not None:
        env.update(redis_environment(redis))
    if request_log is not None:
        env.update(request_log.env())
    return LocalEnvironment(
        root=work_dir,
        env=env,
        routing=routing,
        real_providers=frozenset(real_roots),
        cache_enabled=redis is not None,
        notes=notes,
        application_keys=application_keys,
    )


def place_shipped_files(tree: Path) -> None:
    """Copy the project code every engine ships into a generated tree, where its pods have it
    (``litellm/gateway_auth.py`` next to ``litellm/config.yaml``, …), for the engines the tree has files of."""
    for engine in ENGINES.values():
        for destination, source in shipped_files(engine).items():
            target = tree / destination
            if target.parent.is_dir():
                shutil.copyfile(source, target)


def _drop_redis(config: dict[str, Any]) -> None:
    """Drop the Redis cache and the router's Redis settings (they would point at nothing), in place."""
    settings = config.get("litellm_settings") or {}
    settings.pop("cache_params", None)
    if "cache" in settings:
        settings["cache"] = False
    router = config.get("router_settings") or {}
    for key in ("redis_host", "redis_port", "redis_password", "redis_url", "cache_kwargs"):
        router.pop(key, None)
    (config.get("general_settings") or {}).pop("coordination_redis", None)


def _drop_request_log(config: dict[str, Any]) -> None:
    """Drop the S3 request-log callback (it would write to no bucket), in place."""
    settings = config.get("litellm_settings") or {}
    settings.pop("s3_callback_params", None)
    if isinstance(settings.get("callbacks"), list):
        settings["callbacks"] = [name for name in settings["callbacks"] if name != REQUEST_LOG_CALLBACK]
