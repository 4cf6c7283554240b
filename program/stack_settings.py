"""Typed stack settings for the llm-gateway Pulumi program.

Every setting lives in the ``llm-gateway`` config namespace (``Pulumi.yaml`` declares each one
with its type, default and description; ``tests/pulumi/test_stack_settings.py`` keeps the two in
step). Pulumi hands config to the program as strings, so this module parses them into a pydantic
model that rejects unknown keys and ill-typed values. A mistake surfaces as one
:class:`SettingsError` whose message names the key (``llm-gateway:replicas``) instead of a
traceback from deep inside a component.

Provider API keys are different: they are secrets supplied by Pulumi ESC. They never enter the
pydantic model (whose ``repr`` could end up in a log); the loader only checks that each is set and
marked secret and not the ESC placeholder (:data:`ESC_PLACEHOLDER`), and hands them on as secret
``pulumi.Output`` values. This module reads stack config only, never the generated tree.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import pulumi
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel

from program.kube import Autoscaling, Disruption, Resources
from runtime.engines import DEFAULT_ENGINE, ENGINES, LITELLM, PORTKEY, Engine, UnknownEngineError, engine_named

NAMESPACE = "llm-gateway"

# Stack name → generated-config environment. Any other stack must set `environment` explicitly.
STACK_ENVIRONMENTS: dict[str, str] = {"staging": "staging", "prod": "prod"}

# Provider keys: config key → the environment variable the generated configs read it from (the
# spec's `providers.<name>.api_key_env`, stated in routing.json; a test keeps the two in step).
# They come from ESC (`esc/<env>.yaml`), always as secrets.
PROVIDER_KEY_SETTINGS: dict[str, str] = {
    "openaiApiKey": "OPENAI_API_KEY",
    "anthropicApiKey": "ANTHROPIC_API_KEY",
    "openrouterApiKey": "OPENROUTER_API_KEY",
}
# Where each provider key lives in the ESC environment (`values.providerKeys.*` in esc/<env>.yaml,
# mapped onto the config key by its `pulumiConfig`); tests/pulumi keeps the two in step.
PROVIDER_KEY_ESC_PATHS: dict[str, str] = {
    "openaiApiKey": "providerKeys.openai",
    "anthropicApiKey": "providerKeys.anthropic",
    "openrouterApiKey": "providerKeys.openrouter",
}
# The Portkey admin API key (a secret from ESC, `values.portkey.adminKey`): the Portkey dynamic
# providers read it from the stack config themselves (program/portkey/api.py), so it never becomes a
# resource property. Required while `portkeyControlPlane` is on.
PORTKEY_ADMIN_KEY_SETTING = "portkeyAdminKey"
PORTKEY_ADMIN_KEY_ESC_PATH = "portkey.adminKey"
# Every secret setting (all come from ESC) and where it lives in the ESC environment.
SECRET_ESC_PATHS: dict[str, str] = {**PROVIDER_KEY_ESC_PATHS, PORTKEY_ADMIN_KEY_SETTING: PORTKEY_ADMIN_KEY_ESC_PATH}
# The `fn::secret` value esc/*.yaml ship in place of each key. An environment created from those
# files and never given its real keys would otherwise deploy this string as an API key.
ESC_PLACEHOLDER = "set-with-esc-env-set"

# Where the official Redis 8 image installs its bundled modules.
REDISEARCH_MODULE = "/usr/local/lib/redis/modules/redisearch.so"

_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|Ki|Mi|Gi|Ti|M|G|T)?$")
_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_PORTKEY_WORKSPACE = re.compile(r"^[A-Za-z0-9_-]{1,100}$")
_LOOPBACK_HTTP = re.compile(r"^http://(127\.0\.0\.1|localhost|\[::1\])(:[0-9]+)?/")


class SettingsError(Exception):
    """A stack setting is missing, unknown or ill-typed; the message names every bad key."""


def _quantity(value: str) -> str:
    if not _QUANTITY.match(value):
        raise ValueError(f"not a Kubernetes quantity (e.g. 500m, 1, 512Mi, 2Gi): {value!r}")
    return value


def _dns_label(value: str) -> str:
    if not _DNS_LABEL.match(value):
        raise ValueError(f"not a valid Kubernetes namespace name (RFC 1123 label): {value!r}")
    return value


def _image(value: str) -> str:
    # A tag or a digest must be given: an unpinned image silently changes under a running stack.
    name = value.split("@", 1)[0].rsplit("/", 1)[-1]
    if "@" not in value and ":" not in name:
        raise ValueError(f"image must be pinned by tag or digest: {value!r}")
    if "@" in value and not _DIGEST.search(value):
        raise ValueError(f"digest must be of the form @sha256:<64 hex>: {value!r}")
    return value


def _engine_name(value: str) -> str:
    try:
        return engine_named(value).name
    except UnknownEngineError as error:
        raise ValueError(str(error)) from None


def _module_path(value: str) -> str:
    if not value.startswith("/") or not value.endswith(".so"):
        raise ValueError(f"not an absolute path to a Redis module (.so): {value!r}")
    return value


def _portkey_url(value: str) -> str:
    # The admin API key travels with every call: https, or http to loopback only (a local fake).
    if not (value.startswith("https://") or _LOOPBACK_HTTP.match(value)) or not value.rstrip("/").endswith("/v1"):
        raise ValueError(f"not a Portkey API URL (https://…/v1; http only to loopback): {value!r}")
    return value.rstrip("/")


def _portkey_workspace(value: str) -> str:
    if not _PORTKEY_WORKSPACE.match(value):
        raise ValueError(f"not a Portkey workspace id or slug (letters, digits, '_', '-'): {value!r}")
    return value


Quantity = Annotated[str, AfterValidator(_quantity)]
ModulePath = Annotated[str, AfterValidator(_module_path)]
NamespaceName = Annotated[str, AfterValidator(_dns_label)]
Image = Annotated[str, AfterValidator(_image)]
EngineName = Annotated[str, AfterValidator(_engine_name)]
PortkeyUrl = Annotated[str, AfterValidator(_portkey_url)]
PortkeyWorkspace = Annotated[str, AfterValidator(_portkey_workspace)]


class StackSettings(BaseModel):
    """Non-secret stack settings. Field names are snake_case; config keys are their camelCase."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)

    environment: Literal["staging", "prod"]
    namespace: NamespaceName = "llm-gateway"
    engine: EngineName = DEFAULT_ENGINE

    # One image setting per engine (runtime/engines.py names it). The defaults are the versions the
    # tests run (runtime/litellm/requirements.txt; a test keeps the two equal). Prod pins digests.
    litellm_image: Image = LITELLM.default_image
    portkey_image: Image = PORTKEY.default_image
    # Redis 8 ships the query engine (RediSearch) that LiteLLM's `redis-semantic` cache needs.
    redis_image: Image = "redis:8.4.0"
    require_image_digests: bool = False

    replicas: int = Field(default=1, ge=1)
    max_replicas: int = Field(default=2, ge=1)
    target_cpu_utilization: int = Field(default=70, ge=10, le=95)
    pdb_min_available: int = Field(default=0, ge=0)
    gateway_cpu_request: Quantity = "250m"
    gateway_cpu_limit: Quantity = "1"
    gateway_memory_request: Quantity = "768Mi"
    gateway_memory_limit: Quantity = "1Gi"
    zone_spread: Literal["DoNotSchedule", "ScheduleAnyway"] = "ScheduleAnyway"

    allowed_namespaces: list[NamespaceName] = Field(default_factory=list)
    monitoring_namespace: NamespaceName = "monitoring"
    service_monitor: bool = True

    redis_cpu_request: Quantity = "100m"
    redis_cpu_limit: Quantity = "500m"
    redis_memory_mi: int = Field(default=256, ge=64)
    redis_modules: list[ModulePath] = Field(default_factory=lambda: [REDISEARCH_MODULE])
    redis_persistence: bool = False
    redis_storage_size: Quantity = "8Gi"
    redis_storage_class: str | None = None

    # Portkey's hosted control plane (components/portkey.py) and the ESC app environment
    # (components/app_environment.py), for environments whose configs target the Model Catalog.
    portkey_control_plane: bool = True
    portkey_base_url: PortkeyUrl = "https://api.portkey.ai/v1"
    portkey_workspace_id: PortkeyWorkspace | None = None
    portkey_usage_policies: bool = True
    esc_app_environment: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> StackSettings:
        if self.max_replicas < self.replicas:
            raise _KeyedError("maxReplicas", f"must be >= replicas ({self.replicas})")
        if self.pdb_min_available and self.pdb_min_available >= self.replicas:
            # A PDB that keeps every replica blocks every node drain.
            raise _KeyedError("pdbMinAvailable", f"must be < replicas ({self.replicas})")
        if self.require_image_digests:
            for key, image in (("redisImage", self.redis_image), (self.engine_spec.image_setting, self.gateway_image)):
                if not _DIGEST.search(image):
                    raise _KeyedError(key, f"this stack requires an image pinned @sha256:<digest>: {image!r}")
        return self

    def require_portkey_workspace(self) -> str:
        """The workspace of the Portkey control plane; required once there is one to manage."""
        if self.portkey_workspace_id is None:
            raise SettingsError(
                f"{NAMESPACE}:portkeyWorkspaceId: required while {NAMESPACE}:portkeyControlPlane is true for an "
                "environment served by Portkey's hosted gateway: the id or slug of the environment's own workspace"
            )
        return self.portkey_workspace_id

    @property
    def engine_spec(self) -> Engine:
        """The registry entry of the engine this stack runs."""
        return ENGINES[self.engine]

    @property
    def gateway_image(self) -> str:
        """The image of the engine this stack runs (the setting the registry names for it)."""
        image: str = getattr(self, _field_of_alias(self.engine_spec.image_setting))
        return image

    @property
    def gateway_resources(self) -> Resources:
        return Resources(
            self.gateway_cpu_request, self.gateway_cpu_limit, self.gateway_memory_request, self.gateway_memory_limit
        )

    @property
    def autoscaling(self) -> Autoscaling:
        return Autoscaling(self.replicas, self.max_replicas, self.target_cpu_utilization)

    @property
    def disruption(self) -> Disruption:
        return Disruption(self.pdb_min_available)

    @property
    def redis_resources(self) -> Resources:
        # Requests equal limits for memory: maxmemory is sized from it, and Redis must not be evicted.
        memory = f"{self.redis_memory_mi}Mi"
        return Resources(self.redis_cpu_request, self.redis_cpu_limit, memory, memory)


def _field_of_alias(alias: str) -> str:
    for name, field in StackSettings.model_fields.items():
        if field.alias == alias:
            return name
    raise KeyError(alias)


class _KeyedError(ValueError):
    """A cross-field rule broken by one specific key (so the message can name it)."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


@dataclass(frozen=True)
class ProviderKeys:
    """Provider API keys as secret Outputs, keyed by the env var the gateway reads them from."""

    by_env_var: dict[str, pulumi.Output[str]]


@dataclass(frozen=True)
class LoadedSettings:
    """Everything the program needs from stack config."""

    stack: StackSettings
    provider_keys: ProviderKeys

    @property
    def managed_by(self) -> str:
        """The marker objects this stack owns outside Kubernetes carry (Portkey descriptions, ESC comments)."""
        return f"pulumi {pulumi.get_project()}/{pulumi.get_stack()}"


def _raw_namespace_config() -> dict[str, str]:
    """All config values in our namespace, by short key.

    ``pulumi.Config`` can only answer for keys it is asked about, so a misspelled key would go
    unnoticed; the language host passes the whole config map to the program (``PULUMI_CONFIG``,
    which the offline runner sets the same way), and that lists every key that was set.
    """
    prefix = f"{NAMESPACE}:"
    config: dict[str, Any] = pulumi.runtime.get_config_env()
    return {key[len(prefix) :]: value for key, value in config.items() if key.startswith(prefix)}


def _is_secret(full_key: str) -> bool:
    # The CLI names secret keys in PULUMI_CONFIG_SECRET_KEYS; an embedding program may set them instead.
    return pulumi.runtime.is_config_secret(full_key) or full_key in pulumi.runtime.get_config_secret_keys_env()


def _decode(value: Any) -> Any:
    # Pulumi passes lists/objects as JSON text and scalars as plain strings; scalars are left for
    # pydantic's lax parsing ("3" -> 3, "true" -> True) so "three" fails with a clear message.
    if isinstance(value, str) and value.strip()[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _format_validation_error(err: ValidationError) -> list[str]:
    lines = []
    for problem in err.errors():
        location = [str(part) for part in problem["loc"]] or ["<settings>"]
        ctx_error = (problem.get("ctx") or {}).get("error")
        if isinstance(ctx_error, _KeyedError):
            location = [ctx_error.key]
            message = str(ctx_error)
        else:
            message = problem["msg"].removeprefix("Value error, ")
            got = repr(problem.get("input"))
            if problem["type"] not in ("missing", "extra_forbidden") and "input" in problem and got not in message:
                message += f" (got {got})"
        key = f"{NAMESPACE}:{location[0]}" + "".join(f"[{part}]" for part in location[1:])
        lines.append(f"{key}: {message}")
    return lines


def _known_keys() -> set[str]:
    fields = StackSettings.model_fields
    return {field.alias or name for name, field in fields.items()} | set(SECRET_ESC_PATHS)


def parse_stack_settings(raw: dict[str, Any], stack_name: str) -> StackSettings:
    """Validate raw config values (short keys → strings) into :class:`StackSettings`.

    Pure function: the offline tests and the program share it. Raises :class:`SettingsError`.
    """
    problems: list[str] = []
    known = _known_keys()
    for key in sorted(set(raw) - known):
        close = difflib.get_close_matches(key, sorted(known), n=1)
        hint = f" (did you mean {NAMESPACE}:{close[0]}?)" if close else ""
        problems.append(f"{NAMESPACE}:{key}: unknown setting{hint}")

    values = {key: _decode(value) for key, value in raw.items() if key in known}
    # Pulumi.yaml declares optional strings with default "" (a declared key without a default
    # would be required by the CLI); "" means unset.
    for key in ("environment", "redisStorageClass", "portkeyWorkspaceId"):
        if values.get(key) == "":
            del values[key]
    for key in SECRET_ESC_PATHS:
        values.pop(key, None)
    if "environment" not in values:
        if stack_name not in STACK_ENVIRONMENTS:
            raise SettingsError(
                f"{NAMESPACE}:environment: required for stack {stack_name!r} "
                f"(only {', '.join(STACK_ENVIRONMENTS)} map to an environment by name)"
            )
        values["environment"] = STACK_ENVIRONMENTS[stack_name]
    try:
        settings = StackSettings.model_validate(values)
    except ValidationError as err:
        # Report the unknown keys and the ill-typed ones together: one round trip to fix them all.
        raise SettingsError("\n".join([*problems, *_format_validation_error(err)])) from None
    if problems:
        raise SettingsError("\n".join(problems))
    return settings


def provider_key_problems(
    raw: dict[str, Any],
    is_secret: Callable[[str], bool],
    stack_name: str,
    keys: tuple[str, ...] = tuple(PROVIDER_KEY_SETTINGS),
) -> list[str]:
    """One message per secret setting in ``keys`` that is unset, the ESC placeholder, or not marked secret.

    The messages name the key, never its value.
    """
    problems = []
    for key in keys:
        full_key = f"{NAMESPACE}:{key}"
        value = raw.get(key)
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{full_key}: required secret is not set (it comes from the ESC environment)")
        elif value.strip() == ESC_PLACEHOLDER:
            problems.append(
                f"{full_key}: still the ESC placeholder; set the real key with "
                f"esc env set {NAMESPACE}/{stack_name} {SECRET_ESC_PATHS[key]} '<key>' --secret"
            )
        elif not is_secret(full_key):
            problems.append(f"{full_key}: must be a secret (ESC `fn::secret`, or `pulumi config set --secret`)")
    return problems


def load_settings() -> LoadedSettings:
    """Read and validate this stack's config. Raises :class:`SettingsError` naming the bad keys."""
    raw = _raw_namespace_config()
    stack_name = pulumi.get_stack()
    stack = parse_stack_settings(raw, stack_name)

    required = (*PROVIDER_KEY_SETTINGS, *([PORTKEY_ADMIN_KEY_SETTING] if stack.portkey_control_plane else []))
    problems = provider_key_problems(raw, _is_secret, stack_name, required)
    if problems:
        raise SettingsError("\n".join(problems))

    config = pulumi.Config(NAMESPACE)
    keys = {env_var: config.require_secret(key) for key, env_var in PROVIDER_KEY_SETTINGS.items()}
    return LoadedSettings(stack=stack, provider_keys=ProviderKeys(by_env_var=keys))
