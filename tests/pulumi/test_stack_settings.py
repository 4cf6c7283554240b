"""Typed stack settings: a bad setting is one clear message naming the key, exit 2, no traceback;
Pulumi.yaml, the stack files and the ESC definitions agree with the settings model."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from program.generated_tree import GeneratedConfigError, load_generated_config
from program.stack_settings import (
    ESC_PLACEHOLDER,
    PROVIDER_KEY_SETTINGS,
    SECRET_ESC_PATHS,
    SettingsError,
    StackSettings,
    parse_stack_settings,
    provider_key_problems,
)
from runtime.engines import ENGINES, LITELLM, PORTKEY
from tools.offline import ROOT

PROD_DIGEST = "redis:8.4.0@sha256:" + "a" * 64


def _error(raw: dict[str, Any], stack: str = "staging") -> str:
    with pytest.raises(SettingsError) as caught:
        parse_stack_settings(raw, stack)
    return str(caught.value)


def test_strings_from_pulumi_are_parsed() -> None:
    settings = parse_stack_settings(
        {"replicas": "3", "maxReplicas": "5", "redisPersistence": "true", "allowedNamespaces": '["apps"]'}, "prod"
    )
    assert (settings.replicas, settings.max_replicas, settings.redis_persistence) == (3, 5, True)
    assert settings.allowed_namespaces == ["apps"] and settings.environment == "prod"


def test_misspelled_key_is_named_with_a_suggestion() -> None:
    assert _error({"replicaz": "3"}) == ("llm-gateway:replicaz: unknown setting (did you mean llm-gateway:replicas?)")


@pytest.mark.parametrize(
    ("raw", "key", "fragment"),
    [
        ({"replicas": "three"}, "llm-gateway:replicas", "valid integer"),
        ({"engine": "nginx"}, "llm-gateway:engine", "unknown engine 'nginx'; choose one of: litellm, portkey"),
        ({"gatewayMemoryLimit": "lots"}, "llm-gateway:gatewayMemoryLimit", "Kubernetes quantity"),
        ({"allowedNamespaces": '["Not_A_Namespace"]'}, "llm-gateway:allowedNamespaces[0]", "RFC 1123"),
        ({"redisImage": "redis"}, "llm-gateway:redisImage", "pinned by tag or digest"),
        ({"redisImage": "redis@sha256:abc"}, "llm-gateway:redisImage", "@sha256:<64 hex>"),
        ({"replicas": "3", "maxReplicas": "2"}, "llm-gateway:maxReplicas", "must be >= replicas"),
        ({"replicas": "2", "pdbMinAvailable": "2"}, "llm-gateway:pdbMinAvailable", "must be < replicas"),
        ({"requireImageDigests": "true"}, "llm-gateway:redisImage", "requires an image pinned"),
        # The admin key travels with every call: https only, except to loopback (a local fake).
        ({"portkeyBaseUrl": "http://api.portkey.ai/v1"}, "llm-gateway:portkeyBaseUrl", "not a Portkey API URL"),
        ({"portkeyBaseUrl": "https://api.portkey.ai"}, "llm-gateway:portkeyBaseUrl", "https://…/v1"),
        ({"portkeyWorkspaceId": "my workspace"}, "llm-gateway:portkeyWorkspaceId", "not a Portkey workspace"),
        ({"portkeyUsagePolicies": "sometimes"}, "llm-gateway:portkeyUsagePolicies", "valid boolean"),
    ],
)
def test_ill_typed_settings_name_the_key(raw: dict[str, str], key: str, fragment: str) -> None:
    message = _error(raw)
    assert message.startswith(f"{key}: "), message
    assert fragment in message


def test_portkey_settings_defaults_and_loopback() -> None:
    settings = parse_stack_settings({"portkeyBaseUrl": "http://127.0.0.1:8787/v1/"}, "staging")
    assert settings.portkey_base_url == "http://127.0.0.1:8787/v1" and settings.portkey_control_plane
    assert settings.portkey_usage_policies and settings.esc_app_environment
    with pytest.raises(SettingsError) as caught:
        settings.require_portkey_workspace()
    assert str(caught.value).startswith("llm-gateway:portkeyWorkspaceId: required while")
    assert parse_stack_settings({"portkeyWorkspaceId": "llm-gateway-prod"}, "prod").require_portkey_workspace() == (
        "llm-gateway-prod"
    )


def test_unknown_stack_needs_an_environment() -> None:
    assert _error({}, stack="dev").startswith("llm-gateway:environment: required for stack 'dev'")
    assert parse_stack_settings({"environment": "staging"}, "dev").environment == "staging"


def test_digest_requirement_covers_the_engine_in_use() -> None:
    pinned = {"requireImageDigests": "true", "redisImage": PROD_DIGEST}
    # The default LiteLLM image is pinned by tag only: a digest-requiring stack must set its own.
    assert _error(pinned, "prod").startswith("llm-gateway:litellmImage: this stack requires an image pinned")
    litellm = "ghcr.io/berriai/litellm:v1.106.12@sha256:" + "b" * 64  # name:tag@digest is accepted
    assert parse_stack_settings({**pinned, "litellmImage": litellm}, "prod").gateway_image == litellm
    assert "llm-gateway:portkeyImage" in _error({**pinned, "litellmImage": litellm, "engine": "portkey"}, "prod")


# --- Provider keys: set, secret, and not the ESC placeholder ----------------------------------


def _key_problems(**overrides: str | None) -> list[str]:
    raw: dict[str, Any] = {key: f"sk-real-{key}" for key in PROVIDER_KEY_SETTINGS}
    raw.update(overrides)
    return provider_key_problems({k: v for k, v in raw.items() if v is not None}, lambda _key: True, "staging")


def test_real_provider_keys_pass() -> None:
    assert _key_problems() == []


@pytest.mark.parametrize("value", [ESC_PLACEHOLDER, f"  {ESC_PLACEHOLDER}\n"])
def test_esc_placeholder_is_not_a_key(value: str) -> None:
    assert _key_problems(openaiApiKey=value) == [
        "llm-gateway:openaiApiKey: still the ESC placeholder; set the real key with "
        "esc env set llm-gateway/staging providerKeys.openai '<key>' --secret"
    ]


@pytest.mark.parametrize("value", [None, "", "   "])
def test_missing_or_empty_provider_key_is_refused(value: str | None) -> None:
    assert _key_problems(anthropicApiKey=value) == [
        "llm-gateway:anthropicApiKey: required secret is not set (it comes from the ESC environment)"
    ]


def test_plain_provider_key_is_named() -> None:
    raw = {key: f"sk-real-{key}" for key in PROVIDER_KEY_SETTINGS}
    problems = provider_key_problems(raw, lambda key: key != "llm-gateway:openrouterApiKey", "prod")
    assert problems == [
        "llm-gateway:openrouterApiKey: must be a secret (ESC `fn::secret`, or `pulumi config set --secret`)"
    ]


# --- Portkey OSS engine: only for environments whose configs use custom_host ------------------


def _portkey_tree(root: Path, portkey_targets: str) -> Path:
    # What the generator states in routing.json decides, not a search of the Portkey configs.
    env_dir = root / "staging"
    (env_dir / "portkey").mkdir(parents=True)
    (env_dir / "portkey" / "chat.json").write_text(json.dumps({"targets": [{"custom_host": "https://x/v1"}]}))
    (env_dir / "portkey" / "code_generation.json").write_text("{}")
    manifest = {"environment": "staging", "portkey_targets": portkey_targets, "providers": {}, "tasks": {}}
    (env_dir / "routing.json").write_text(json.dumps(manifest))
    return root


def test_portkey_engine_needs_custom_host_configs(tmp_path: Path) -> None:
    keys = _portkey_tree(tmp_path / "keys", "model_catalog")
    with pytest.raises(GeneratedConfigError) as caught:
        load_generated_config("staging", PORTKEY, keys)
    message = str(caught.value)
    assert message.startswith("llm-gateway:engine: portkey cannot serve environment 'staging'")
    assert "(@slug/model: portkey/chat.json, portkey/code_generation.json)" in message
    assert "environments.staging.portkey_targets: custom_host" in message

    hosts = _portkey_tree(tmp_path / "hosts", "custom_host")
    assert set(load_generated_config("staging", PORTKEY, hosts).files) == {
        "routing.json",
        "portkey/chat.json",
        "portkey/code_generation.json",
    }


def test_engine_registry_and_settings_agree() -> None:
    # Each engine's image setting is a declared setting whose default is the registry's image.
    declared = _project_config()
    for engine in ENGINES.values():
        assert declared[engine.image_setting]["default"] == engine.default_image, engine.name
        settings = parse_stack_settings({"engine": engine.name}, "staging")
        assert settings.engine_spec is engine and settings.gateway_image == engine.default_image
    assert StackSettings.model_fields["engine"].default == LITELLM.name


def test_program_exits_2_naming_each_bad_key(offline_runs: Any) -> None:
    result = offline_runs.get("prod-bad-settings")
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        "error: invalid configuration for stack 'prod':",
        "llm-gateway:replicaz: unknown setting (did you mean llm-gateway:replicas?)",
        "llm-gateway:maxReplicas: Input should be a valid integer, unable to parse string as an integer (got 'three')",
    ]
    assert result.stdout == ""


def _project_config() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]


def test_pulumi_yaml_declares_every_setting_with_the_models_default() -> None:
    declared = _project_config()
    fields = {field.alias: field for field in StackSettings.model_fields.values()}
    assert set(declared) == set(fields) | set(SECRET_ESC_PATHS)
    for key, decl in declared.items():
        assert decl.get("description"), key
        if key in SECRET_ESC_PATHS:
            assert decl.get("secret") is True and "default" not in decl, key
            continue
        field = fields[key]
        default = None if field.is_required() else field.get_default(call_default_factory=True)
        if default is None:  # optional/derived strings are declared as "": the CLI requires keys without one
            assert decl["default"] == "", key
        else:
            assert decl["default"] == default, key
        python_type = {"string": str, "integer": int, "boolean": bool, "array": list}[decl["type"]]
        assert isinstance(decl["default"], python_type), key


def test_pulumi_yaml_project_and_runtime() -> None:
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    assert project["name"] == "llm-gateway"
    assert project["runtime"] == {"name": "python", "options": {"toolchain": "pip", "virtualenv": ".venv"}}


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_stack_files_use_known_keys_and_import_esc(stack: str) -> None:
    stack_file = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
    assert stack_file["environment"] == [f"llm-gateway/{stack}"]
    raw = {key.removeprefix("llm-gateway:"): value for key, value in stack_file["config"].items()}
    assert all(key.startswith("llm-gateway:") for key in stack_file["config"])
    assert not set(raw) & set(SECRET_ESC_PATHS), "provider and admin keys belong in ESC, not in a stack file"
    # As the CLI passes them: strings, JSON for lists and booleans.
    parse_stack_settings({k: v if isinstance(v, str) else json.dumps(v) for k, v in raw.items()}, stack)


def _esc(name: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / "esc" / f"{name}.yaml").read_text())


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_esc_environments_supply_every_provider_key_as_a_secret(env: str) -> None:
    definition = _esc(env)
    assert definition["imports"] == ["llm-gateway/common"]
    values = definition["values"]
    config = values["pulumiConfig"]
    assert {f"llm-gateway:{key}" for key in SECRET_ESC_PATHS} <= set(config)
    for key in SECRET_ESC_PATHS:
        reference = config[f"llm-gateway:{key}"]
        assert reference.startswith("${") and reference.endswith("}"), key
        assert reference[2:-1] == SECRET_ESC_PATHS[key], key  # the path the error message tells users to set
        node: Any = values
        for part in reference[2:-1].split("."):
            node = node[part]
        assert set(node) == {"fn::secret"}, f"{key} must be an fn::secret"
        # The one placeholder the program refuses (program.stack_settings.ESC_PLACEHOLDER), documented in the file.
        assert node["fn::secret"] == ESC_PLACEHOLDER, key
    assert f"`{ESC_PLACEHOLDER}`, program.stack_settings.ESC_PLACEHOLDER" in (ROOT / "esc" / f"{env}.yaml").read_text()


def test_esc_pulumi_config_keys_are_known_settings() -> None:
    known = {field.alias for field in StackSettings.model_fields.values()} | set(SECRET_ESC_PATHS)
    for name in ("common", "staging", "prod"):
        for key in _esc(name)["values"].get("pulumiConfig", {}):
            assert key.startswith("llm-gateway:") and key.removeprefix("llm-gateway:") in known, (name, key)


def test_no_real_key_is_committed() -> None:
    for path in [*Path(ROOT / "esc").glob("*.yaml"), *ROOT.glob("Pulumi*.yaml")]:
        text = path.read_text()
        assert "sk-" not in text and "ciphertext" not in text, path


# --- The deployed LiteLLM is the tested one ---------------------------------------------------

LITELLM_REQUIREMENTS = ROOT / "runtime" / "litellm" / "requirements.txt"
# Prod image versions allowed to differ from the runtime pin, each with the reason. Remove an entry
# as soon as Pulumi.prod.yaml carries a verified digest of the pinned version (the test fails on a
# stale entry, so the list cannot outlive its reason).
PROD_LITELLM_VERSION_EXCEPTIONS: dict[str, str] = {
    "1.103.0": "no verified digest of 1.106.12 available offline; replace before first prod rollout",
}


def _runtime_litellm_version() -> str:
    """The LiteLLM version runtime/litellm and every measurement use: the single source of truth."""
    pins = set()
    for line in LITELLM_REQUIREMENTS.read_text().splitlines():
        match = re.match(r"^litellm(?:\[[a-z,]+\])?==([0-9][0-9.]*)\b", line.strip())
        if match:
            pins.add(match.group(1))
    assert len(pins) == 1, f"expected one litellm pin in {LITELLM_REQUIREMENTS}, found {sorted(pins)}"
    return pins.pop()


def _image_version(image: str) -> str:
    # LiteLLM tags releases v1.2.3 (older ones main-v1.2.3); a digest may follow the tag.
    match = re.search(r":(?:main-)?v([0-9]+\.[0-9]+\.[0-9]+)(?:@sha256:[0-9a-f]{64})?$", image)
    assert match, f"LiteLLM image has no version tag (use name:vX.Y.Z[@sha256:...]): {image!r}"
    return match.group(1)


def test_default_litellm_image_is_the_runtime_version() -> None:
    version = _runtime_litellm_version()
    default = LITELLM.default_image
    assert StackSettings.model_fields["litellm_image"].default == default
    assert _image_version(default) == version
    assert _project_config()["litellmImage"]["default"] == default
    staging = yaml.safe_load((ROOT / "Pulumi.staging.yaml").read_text())["config"]
    assert "llm-gateway:litellmImage" not in staging, "staging runs the default (tested) image"


def test_prod_litellm_image_is_the_runtime_version_or_an_explained_exception() -> None:
    image = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())["config"]["llm-gateway:litellmImage"]
    assert re.search(r"@sha256:[0-9a-f]{64}$", image), "prod stays digest-pinned"
    version, runtime = _image_version(image), _runtime_litellm_version()
    if version != runtime:
        assert version in PROD_LITELLM_VERSION_EXCEPTIONS, (
            f"prod runs LiteLLM {version} but runtime/litellm pins {runtime}: move Pulumi.prod.yaml to a "
            f"verified digest of {runtime}, or list {version} in PROD_LITELLM_VERSION_EXCEPTIONS with the reason"
        )
    needed = {version} if version != runtime else set()
    stale = set(PROD_LITELLM_VERSION_EXCEPTIONS) - needed
    assert not stale, f"remove the no longer needed exceptions {sorted(stale)}"
