"""Typed stack settings: a bad setting is one clear message naming the key, exit 2, no traceback;
Pulumi.yaml, the stack files and the ESC definitions agree with the settings model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.settings import PROVIDER_KEY_SETTINGS, SettingsError, StackSettings, parse_stack_settings
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
        ({"engine": "nginx"}, "llm-gateway:engine", "'litellm' or 'portkey'"),
        ({"gatewayMemoryLimit": "lots"}, "llm-gateway:gatewayMemoryLimit", "Kubernetes quantity"),
        ({"allowedNamespaces": '["Not_A_Namespace"]'}, "llm-gateway:allowedNamespaces[0]", "RFC 1123"),
        ({"redisImage": "redis"}, "llm-gateway:redisImage", "pinned by tag or digest"),
        ({"redisImage": "redis@sha256:abc"}, "llm-gateway:redisImage", "@sha256:<64 hex>"),
        ({"replicas": "3", "maxReplicas": "2"}, "llm-gateway:maxReplicas", "must be >= replicas"),
        ({"replicas": "2", "pdbMinAvailable": "2"}, "llm-gateway:pdbMinAvailable", "must be < replicas"),
        ({"requireImageDigests": "true"}, "llm-gateway:redisImage", "requires an image pinned"),
    ],
)
def test_ill_typed_settings_name_the_key(raw: dict[str, str], key: str, fragment: str) -> None:
    message = _error(raw)
    assert message.startswith(f"{key}: "), message
    assert fragment in message


def test_unknown_stack_needs_an_environment() -> None:
    assert _error({}, stack="dev").startswith("llm-gateway:environment: required for stack 'dev'")
    assert parse_stack_settings({"environment": "staging"}, "dev").environment == "staging"


def test_digest_requirement_covers_the_engine_in_use() -> None:
    pinned = {"requireImageDigests": "true", "redisImage": PROD_DIGEST}
    assert parse_stack_settings(pinned, "prod").gateway_image.startswith("ghcr.io/berriai/litellm@sha256:")
    assert "llm-gateway:portkeyImage" in _error({**pinned, "engine": "portkey"}, "prod")


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
    assert set(declared) == set(fields) | set(PROVIDER_KEY_SETTINGS)
    for key, decl in declared.items():
        assert decl.get("description"), key
        if key in PROVIDER_KEY_SETTINGS:
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
    assert not set(raw) & set(PROVIDER_KEY_SETTINGS), "provider keys belong in ESC, not in a stack file"
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
    assert {f"llm-gateway:{key}" for key in PROVIDER_KEY_SETTINGS} <= set(config)
    for key in PROVIDER_KEY_SETTINGS:
        reference = config[f"llm-gateway:{key}"]
        assert reference.startswith("${") and reference.endswith("}"), key
        node: Any = values
        for part in reference[2:-1].split("."):
            node = node[part]
        assert set(node) == {"fn::secret"}, f"{key} must be an fn::secret"


def test_esc_pulumi_config_keys_are_known_settings() -> None:
    known = {field.alias for field in StackSettings.model_fields.values()} | set(PROVIDER_KEY_SETTINGS)
    for name in ("common", "staging", "prod"):
        for key in _esc(name)["values"].get("pulumiConfig", {}):
            assert key.startswith("llm-gateway:") and key.removeprefix("llm-gateway:") in known, (name, key)


def test_no_real_key_is_committed() -> None:
    for path in [*Path(ROOT / "esc").glob("*.yaml"), *ROOT.glob("Pulumi*.yaml")]:
        text = path.read_text()
        assert "sk-" not in text and "ciphertext" not in text, path
