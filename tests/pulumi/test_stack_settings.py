"""Typed stack settings: a bad setting is one clear message naming the key, exit 2, no traceback;
Pulumi.yaml, the stack files and the ESC definitions agree with the settings model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from program.generated_tree import GeneratedConfigError, load_generated_config
from program.stack_settings import (
    ESC_PATHS,
    ESC_PLACEHOLDER,
    OFFLINE_IMAGE_DIGEST,
    SECRET_SETTINGS,
    SettingsError,
    StackSettings,
    parse_stack_settings,
    provider_key_problems,
)
from runtime.engines import ENGINES, LITELLM, PORTKEY
from tools.offline import ROOT, stack_config

PROD_DIGEST = "redis:8.4.4@sha256:" + "a" * 64
LITELLM_DIGEST = f"{LITELLM.default_image}@sha256:" + "b" * 64
# The settings every stack must give (Pulumi.yaml declares them without a default, or as "" where the
# model requires them): the cluster, and the analytics' account, bucket and key as in the stack files.
ANALYTICS = {
    key.removeprefix("llm-gateway:"): value
    for key, value in yaml.safe_load((ROOT / "Pulumi.staging.yaml").read_text())["config"].items()
    if key.removeprefix("llm-gateway:")
    in {
        "snowflakeOrganization",
        "snowflakeAccount",
        "requestLogBucket",
        "requestLogStorageRoleArn",
        "snowflakeServiceUserPublicKey",
    }
}
REQUIRED = {"clusterServer": "https://k8s.example.test", **ANALYTICS}


def _parse(raw: dict[str, Any], stack: str = "staging", **options: bool) -> StackSettings:
    return parse_stack_settings({**REQUIRED, **raw}, stack, **options)


def _error(raw: dict[str, Any], stack: str = "staging") -> str:
    with pytest.raises(SettingsError) as caught:
        _parse(raw, stack)
    return str(caught.value)


def test_strings_from_pulumi_are_parsed() -> None:
    settings = _parse(
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
        ({"replicas": "2", "pdbMaxUnavailable": "2"}, "llm-gateway:pdbMaxUnavailable", "must be < replicas"),
        ({"requireImageDigests": "true"}, "llm-gateway:redisImage", "requires an image pinned"),
        # Item 6: what the settings used to accept.
        ({"redisImage": "redis :8.4.4"}, "llm-gateway:redisImage", "not an image reference"),
        ({"redisImage": "redis:"}, "llm-gateway:redisImage", "no empty tag"),
        ({"portkeyImage": "portkeyai/gateway:latest"}, "llm-gateway:portkeyImage", "the tag 'latest'"),
        ({"gatewayCpuRequest": "2"}, "llm-gateway:gatewayCpuRequest", "above its limit llm-gateway:gatewayCpuLimit"),
        ({"gatewayMemoryRequest": "2Gi"}, "llm-gateway:gatewayMemoryRequest", "above its limit"),
        ({"redisCpuRequest": "1", "redisCpuLimit": "500m"}, "llm-gateway:redisCpuRequest", "above its limit"),
        ({"gatewayMemoryLimit": "1Ti"}, "llm-gateway:gatewayMemoryLimit", "outside 64Mi..256Gi"),
        ({"gatewayMemoryLimit": "1024m"}, "llm-gateway:gatewayMemoryLimit", "outside 64Mi..256Gi"),
        ({"gatewayCpuLimit": "1000"}, "llm-gateway:gatewayCpuLimit", "outside 10m..64"),
        ({"redisStorageSize": "100Ti"}, "llm-gateway:redisStorageSize", "outside 1Gi..16Ti"),
        ({"redisMemoryMi": "10000000"}, "llm-gateway:redisMemoryMi", "less than or equal"),
        ({"maxReplicas": "5000"}, "llm-gateway:maxReplicas", "less than or equal"),
        ({"redisStorageClass": "Fast SSD"}, "llm-gateway:redisStorageClass", "not a Kubernetes object name"),
        ({"corsOrigins": '["https://app.example.com/path"]'}, "llm-gateway:corsOrigins[0]", "not a browser origin"),
        ({"egressProxy": "http://10.0.0.1:3128"}, "llm-gateway:egressProxy", "not an in-cluster proxy"),
        ({"clusterServer": "http://k8s.example.test"}, "llm-gateway:clusterServer", "API server URL"),
        (
            {"engine": "portkey", "corsOrigins": '["https://app.example.com"]'},
            "llm-gateway:corsOrigins",
            "portkey answers no CORS",
        ),
        ({"requestLogBucket": "My_Bucket"}, "llm-gateway:requestLogBucket", "S3 bucket name"),
        ({"requestLogStorageRoleArn": "arn:aws:iam::1:role/x"}, "llm-gateway:requestLogStorageRoleArn", "IAM role ARN"),
        ({"snowflakeAccount": "acme-prod"}, "llm-gateway:snowflakeAccount", "Snowflake organization or account"),
        ({"snowflakeObjectPrefix": "llm"}, "llm-gateway:snowflakeObjectPrefix", "upper-case Snowflake identifier"),
        ({"snowflakeAutoSuspendSeconds": "600"}, "llm-gateway:snowflakeAutoSuspendSeconds", "less than or equal to 60"),
        (
            {"snowflakeServiceUserPublicKey": "-----BEGIN PUBLIC KEY-----"},
            "llm-gateway:snowflakeServiceUserPublicKey",
            "without -----BEGIN/END----- lines",
        ),
        (
            {"snowflakeServiceUserPublicKey": "bm90IGEga2V5"},
            "llm-gateway:snowflakeServiceUserPublicKey",
            "RSA public key",
        ),
        (
            {"snowflakeMonitorSuspendPercent": "100", "snowflakeMonitorSuspendImmediatePercent": "90"},
            "llm-gateway:snowflakeMonitorSuspendImmediatePercent",
            "must be >= snowflakeMonitorSuspendPercent",
        ),
        ({"requestLogBucket": ""}, "llm-gateway:requestLogBucket", "not an S3 bucket name"),
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
    settings = _parse({"portkeyBaseUrl": "http://127.0.0.1:8787/v1/"}, "staging")
    assert settings.portkey_base_url == "http://127.0.0.1:8787/v1" and settings.portkey_control_plane
    assert settings.portkey_usage_policies and settings.esc_app_environment
    with pytest.raises(SettingsError) as caught:
        settings.require_portkey_workspace()
    assert str(caught.value).startswith("llm-gateway:portkeyWorkspaceId: required while")
    assert _parse({"portkeyWorkspaceId": "llm-gateway-prod"}, "prod").require_portkey_workspace() == (
        "llm-gateway-prod"
    )


def test_unknown_stack_needs_an_environment() -> None:
    assert _error({}, stack="dev").startswith("llm-gateway:environment: required for stack 'dev'")
    assert _parse({"environment": "staging"}, "dev").environment == "staging"


def test_prod_stack_refuses_staging_routing() -> None:
    # It would deploy staging's routing with prod's keys.
    assert _error({"environment": "staging"}, "prod") == (
        "llm-gateway:environment: stack 'prod' serves environment 'prod' (its keys and cluster are prod's); "
        "got 'staging'"
    )


def test_namespaces_cannot_collide_between_stacks() -> None:
    assert _parse({}, "staging").namespace == "llm-gateway-staging"
    assert _parse({}, "prod").namespace == "llm-gateway-prod"
    assert _parse({"namespace": "team-llm-prod"}, "prod").namespace == "team-llm-prod"
    assert _error({"namespace": "llm-gateway"}, "prod").startswith(
        "llm-gateway:namespace: must end in '-prod' so stacks sharing a cluster never share a namespace"
    )


def test_digest_requirement_covers_the_engine_in_use() -> None:
    pinned = {"requireImageDigests": "true", "redisImage": PROD_DIGEST}
    # The default LiteLLM image is pinned by tag only: a digest-requiring stack must set its own.
    assert _error(pinned, "prod").startswith("llm-gateway:litellmImage: this stack requires an image pinned")
    assert _parse({**pinned, "litellmImage": LITELLM_DIGEST}, "prod").gateway_image == LITELLM_DIGEST
    assert "llm-gateway:portkeyImage" in _error({**pinned, "litellmImage": LITELLM_DIGEST, "engine": "portkey"}, "prod")


def test_digest_stack_runs_only_the_tested_versions() -> None:
    pinned = {"requireImageDigests": "true", "redisImage": PROD_DIGEST}
    old = "ghcr.io/berriai/litellm:v1.103.0@sha256:" + "b" * 64
    assert _error({**pinned, "litellmImage": old}, "prod") == (
        "llm-gateway:litellmImage: this stack runs the tested version v1.106.12 (the default "
        f"{LITELLM.default_image}); got {old!r}"
    )
    # A mirror of the tested image in another registry is the same version.
    mirrored = "registry.internal:5000/mirror/litellm:v1.106.12@sha256:" + "c" * 64
    assert _parse({**pinned, "litellmImage": mirrored}, "prod").gateway_image == mirrored
    assert "tested version 8.4.4" in _error(
        {**pinned, "litellmImage": LITELLM_DIGEST, "redisImage": "redis:8.4.0@sha256:" + "a" * 64}, "prod"
    )


def test_offline_placeholder_digest_never_deploys() -> None:
    offline = {
        "requireImageDigests": "true",
        "redisImage": PROD_DIGEST,
        "litellmImage": f"{LITELLM.default_image}@{OFFLINE_IMAGE_DIGEST}",
    }
    assert _parse(offline, "prod", allow_offline_images=True).gateway_image.endswith(OFFLINE_IMAGE_DIGEST)
    message = _error(offline, "prod")
    assert message.startswith("llm-gateway:litellmImage: the offline plan's placeholder digest, never deployable; ")
    assert "esc env set llm-gateway/prod images.litellm" in message


def test_esc_placeholder_in_a_plain_setting_is_named() -> None:
    assert _error({"kubeContext": ESC_PLACEHOLDER}, "prod") == (
        "llm-gateway:kubeContext: still the ESC placeholder; set it with esc env set llm-gateway/prod "
        "cluster.context '<context>'"
    )


# --- Provider keys: set, secret, and not the ESC placeholder ----------------------------------


def _key_problems(**overrides: str | None) -> list[str]:
    raw: dict[str, Any] = {key: f"sk-real-{key}" for key in SECRET_SETTINGS}
    raw.update(overrides)
    return provider_key_problems({k: v for k, v in raw.items() if v is not None}, lambda _key: True, "staging")


def test_real_provider_keys_pass() -> None:
    assert _key_problems() == []


@pytest.mark.parametrize("value", [ESC_PLACEHOLDER, f"  {ESC_PLACEHOLDER}\n"])
def test_esc_placeholder_is_not_a_key(value: str) -> None:
    # The value comes from standard input, never from the command line (shell history, `ps`).
    assert _key_problems(openaiApiKey=value) == [
        "llm-gateway:openaiApiKey: still the ESC placeholder; set the real value with "
        "esc env set llm-gateway/staging providerKeys.openai --secret --string --file - < <file>"
    ]


@pytest.mark.parametrize("value", [None, "", "   "])
def test_missing_or_empty_provider_key_is_refused(value: str | None) -> None:
    assert _key_problems(anthropicApiKey=value) == [
        "llm-gateway:anthropicApiKey: required secret is not set (it comes from the ESC environment)"
    ]


def test_plain_provider_key_is_named() -> None:
    raw = {key: f"sk-real-{key}" for key in SECRET_SETTINGS}
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
    manifest = {
        "environment": "staging",
        "portkey_targets": portkey_targets,
        "providers": {},
        "shared_cache": {"mode": "simple", "embedding_model": None},
        "tasks": {},
    }
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
        settings = _parse({"engine": engine.name}, "staging")
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


# Required by the model but derived from the stack when unset (Pulumi.yaml declares them as "").
DERIVED = {"environment", "namespace"}


def test_pulumi_yaml_declares_every_setting_with_the_models_default() -> None:
    declared = _project_config()
    fields = {field.alias: field for field in StackSettings.model_fields.values()}
    assert set(declared) == set(fields) | set(SECRET_SETTINGS)
    for key, decl in declared.items():
        assert decl.get("description"), key
        if key in SECRET_SETTINGS:
            assert decl.get("secret") is True and "default" not in decl, key
            continue
        field = fields[key]
        if field.is_required() and key not in DERIVED:
            assert "default" not in decl, key  # the CLI requires it of every stack
            continue
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
    ours = {key: value for key, value in stack_file["config"].items() if not key.startswith("pulumi:")}
    assert stack_file["config"]["pulumi:disable-default-providers"] == ["kubernetes"]
    raw = {key.removeprefix("llm-gateway:"): value for key, value in ours.items()}
    assert all(key.startswith("llm-gateway:") for key in ours)
    assert not set(raw) & set(SECRET_SETTINGS), "secrets belong in ESC, not in a stack file"
    # As the CLI passes them (strings, JSON for lists and booleans), merged with the ESC environment
    # (offline stand-ins for what only the real one holds).
    config, _ = stack_config(stack)
    merged = {
        key.removeprefix("llm-gateway:"): value for key, value in config.items() if key.startswith("llm-gateway:")
    }
    assert {key: merged[key] for key in raw} == {k: v if isinstance(v, str) else json.dumps(v) for k, v in raw.items()}
    parse_stack_settings(
        {k: v for k, v in merged.items() if k not in SECRET_SETTINGS}, stack, allow_offline_images=True
    )


def _esc(name: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / "esc" / f"{name}.yaml").read_text())


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_esc_environments_supply_every_secret_setting_as_a_secret(env: str) -> None:
    definition = _esc(env)
    assert definition["imports"] == ["llm-gateway/common"]
    values = definition["values"]
    config = values["pulumiConfig"]
    assert {f"llm-gateway:{key}" for key in SECRET_SETTINGS} <= set(config)
    for key in SECRET_SETTINGS:
        reference = config[f"llm-gateway:{key}"]
        assert reference.startswith("${") and reference.endswith("}"), key
        assert reference[2:-1] == ESC_PATHS[key], key  # the path the error message tells users to set
        node: Any = values
        for part in reference[2:-1].split("."):
            node = node[part]
        assert set(node) == {"fn::secret"}, f"{key} must be an fn::secret"
        # The one placeholder the program refuses (program.stack_settings.ESC_PLACEHOLDER), documented in the file.
        assert node["fn::secret"] == ESC_PLACEHOLDER, key
    assert f"`{ESC_PLACEHOLDER}`, program.stack_settings.ESC_PLACEHOLDER" in (ROOT / "esc" / f"{env}.yaml").read_text()


def test_esc_supplies_the_cluster_and_the_prod_image() -> None:
    for env in ("staging", "prod"):
        config = _esc(env)["values"]["pulumiConfig"]
        for key in ("kubeconfig", "kubeContext", *(("litellmImage",) if env == "prod" else ())):
            assert config[f"llm-gateway:{key}"] == "${" + ESC_PATHS[key] + "}", (env, key)
    prod = _esc("prod")["values"]
    assert prod["images"]["litellm"] == ESC_PLACEHOLDER  # never a digest written into the repository
    assert set(prod["cluster"]["kubeconfig"]) == {"fn::secret"}


def test_esc_pulumi_config_keys_are_known_settings() -> None:
    known = {field.alias for field in StackSettings.model_fields.values()} | set(SECRET_SETTINGS)
    for name in ("common", "staging", "prod"):
        for key in _esc(name)["values"].get("pulumiConfig", {}):
            assert key.startswith("llm-gateway:") and key.removeprefix("llm-gateway:") in known, (name, key)


def test_no_real_key_is_committed() -> None:
    for path in [*Path(ROOT / "esc").glob("*.yaml"), *ROOT.glob("Pulumi*.yaml")]:
        text = path.read_text()
        assert "sk-" not in text and "ciphertext" not in text, path
