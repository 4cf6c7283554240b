"""The ESC side of the app environment against a fake ESC API on 127.0.0.1, with the real pulumi-esc-sdk.

- Why the application key has an environment of its own: a definition written with
  `fn::secret: <plaintext>` reads back as ciphertext (what pulumiservice.Environment's refresh turns
  into its inputs), and the SDK's typed model rejects an `fn::secret` under `environmentVariables`.
- The credential environment's dynamic provider (held as the engine holds it): create, read,
  drift by ciphertext, rotation in place, delete.
- The app environment's YAML: accepted by ESC with its import, read back unchanged (no refresh
  drift), and parsed by the SDK's typed model.
"""

from __future__ import annotations

import base64
from typing import Any

import dill
import pulumi_esc_sdk as esc
import pytest
import yaml
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime._serialization import _deserialize, _serialize

from components.app_environment import (
    APPLICATION_KEY_PATH,
    app_environment_name,
    app_environment_yaml,
    application_environment_name,
    application_environment_yaml,
    credential_environment_name,
)
from program.esc.client import EscError, client, stored_definition
from program.esc.credential_environment import CredentialEnvironmentResourceProvider
from tests.fakes.esc_api import FakeEsc

ORG = "acme"
KEY = "sk-application-key-first-51c2"
CREDENTIAL = credential_environment_name("prod", "support-assistant")


def _provider() -> CredentialEnvironmentResourceProvider:
    text, _ = _serialize(True, serialize_provider, CredentialEnvironmentResourceProvider())
    provider: CredentialEnvironmentResourceProvider = _deserialize(lambda: dill.loads(base64.b64decode(text)))
    return provider


def _props(**changes: Any) -> dict[str, Any]:
    return {
        "organization": ORG,
        "project": "llm-gateway",
        "name": CREDENTIAL,
        "path": APPLICATION_KEY_PATH,
        "value": KEY,
        "comment": "Written by `pulumi up` (pulumi llm-gateway/prod).",
        **changes,
    }


def test_plaintext_secrets_read_back_as_ciphertext_and_break_the_typed_model(fake_esc: FakeEsc) -> None:
    sdk = client()
    sdk.create_environment(ORG, "llm-gateway", "trap")
    written = "values:\n  environmentVariables:\n    API_KEY:\n      fn::secret: sk-plain-in-yaml-0001\n"
    sdk.update_environment_yaml(ORG, "llm-gateway", "trap", written)
    stored = stored_definition(sdk, ORG, "llm-gateway", "trap")
    assert stored is not None and stored != yaml.safe_load(written)  # what a refresh would see
    assert set(stored["values"]["environmentVariables"]["API_KEY"]["fn::secret"]) == {"ciphertext"}
    with pytest.raises(ValueError):  # pydantic: environmentVariables are strings only
        sdk.get_environment(ORG, "llm-gateway", "trap")


def test_credential_environment_lifecycle_drift_and_rotation(fake_esc: FakeEsc) -> None:
    provider = _provider()
    created = provider.create(_props())
    assert created.id == f"{ORG}/llm-gateway/{CREDENTIAL}"
    assert fake_esc.plaintext(ORG, "llm-gateway", CREDENTIAL, APPLICATION_KEY_PATH) == KEY
    state = created.outs
    assert state["written_ciphertext"] == state["observed_ciphertext"] and KEY not in state["written_ciphertext"]

    # Refresh-stable: reading back changes nothing, the diff is empty.
    read = provider.read(created.id, state)
    assert read.outs == state
    assert provider.diff(created.id, read.outs, _props()).changes is False

    # Someone sets the key by hand in ESC: the ciphertext moves, the diff says so, up writes ours back.
    fake_esc.put(
        ORG,
        "llm-gateway",
        CREDENTIAL,
        "values:\n  gateway:\n    applicationKey:\n      fn::secret: sk-by-hand\n",
    )
    drifted = provider.read(created.id, state)
    assert drifted.outs["observed_ciphertext"] != drifted.outs["written_ciphertext"]
    diff = provider.diff(created.id, drifted.outs, _props())
    assert (diff.changes, diff.replaces) == (True, [])
    restored = provider.update(created.id, drifted.outs, _props()).outs
    assert fake_esc.plaintext(ORG, "llm-gateway", CREDENTIAL, APPLICATION_KEY_PATH) == KEY

    # A rotated key is an update in place: same environment, new value.
    rotated = _props(value="sk-application-key-rotated-8a")
    assert provider.diff(created.id, restored, rotated).replaces == []
    provider.update(created.id, restored, rotated)
    assert fake_esc.plaintext(ORG, "llm-gateway", CREDENTIAL, APPLICATION_KEY_PATH) == rotated["value"]
    assert provider.diff(created.id, restored, _props(name="other")).replaces == ["name"]

    provider.delete(created.id, restored)
    provider.delete(created.id, restored)  # already gone: fine
    assert provider.read(created.id, restored).id == ""


def test_an_existing_credential_environment_is_written_over(fake_esc: FakeEsc) -> None:
    fake_esc.put(ORG, "llm-gateway", CREDENTIAL, "values:\n  other: 1\n")
    _provider().create(_props())
    assert fake_esc.plaintext(ORG, "llm-gateway", CREDENTIAL, APPLICATION_KEY_PATH) == KEY
    assert "other" not in fake_esc.stored(ORG, "llm-gateway", CREDENTIAL)["values"]


def test_esc_errors_are_one_line_without_the_token(fake_esc: FakeEsc, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULUMI_ACCESS_TOKEN", "pul-not-accepted-1234")
    with pytest.raises(EscError) as caught:
        _provider().create(_props())
    message = str(caught.value)
    assert message.startswith("ESC API 401 (Unauthorized") and "\n" not in message
    assert "pul-not-accepted-1234" not in message and KEY not in message


def test_app_environments_are_accepted_read_back_unchanged_and_typed(fake_esc: FakeEsc) -> None:
    _provider().create(_props())
    shared = app_environment_yaml(
        "pulumi llm-gateway/prod",
        "http://llm-gateway.llm-gateway-prod.svc.cluster.local",
        "https://api.portkey.ai/v1",
        {"chat": "pc-llmgat-9a2eff", "code_generation": "pc-llmgat-cddd12"},
        {"environment": "prod", "tasks": {}},
    )
    application = application_environment_yaml("prod", "support-assistant", "pulumi llm-gateway/prod")
    sdk = client()
    for name, text in (("prod-app", shared), ("prod-app-support-assistant", application)):
        sdk.create_environment(ORG, "llm-gateway", name)
        sdk.update_environment_yaml(ORG, "llm-gateway", name, text)  # its imports resolve
        # No secret in either: what ESC stores is what was written, so a refresh sees no change.
        assert stored_definition(sdk, ORG, "llm-gateway", name) == yaml.safe_load(text)
    definition, _raw = sdk.get_environment(ORG, "llm-gateway", "prod-app")
    assert isinstance(definition, esc.EnvironmentDefinition)
    variables = definition.values.environment_variables
    assert variables["LLM_GATEWAY_PORTKEY_CONFIG_CODE_GENERATION"] == "${gateway.portkeyConfigs.code_generation}"
    assert "LLM_GATEWAY_KEY" not in variables and not definition.imports
    definition, _raw = sdk.get_environment(ORG, "llm-gateway", "prod-app-support-assistant")
    assert definition.imports == ["llm-gateway/prod-app", f"llm-gateway/{CREDENTIAL}"]
    assert definition.values.environment_variables["LLM_GATEWAY_KEY"] == "${gateway.applicationKey}"


def test_an_application_environment_needs_its_imports_first(fake_esc: FakeEsc) -> None:
    # Why the program creates the shared and the credential environment before the application's.
    sdk = client()
    sdk.create_environment(ORG, "llm-gateway", "prod-app-support-assistant")
    with pytest.raises(esc.ApiException) as caught:
        sdk.update_environment_yaml(
            ORG,
            "llm-gateway",
            "prod-app-support-assistant",
            application_environment_yaml("prod", "support-assistant", "pulumi llm-gateway/prod"),
        )
    assert caught.value.status == 400


def test_no_application_name_makes_an_app_environment_collide_with_a_credential() -> None:
    names = ["x", "x-credential", "credential", "credential-x", "app", "app-x"]
    apps = {application_environment_name("prod", name) for name in names} | {app_environment_name("prod")}
    credentials = {credential_environment_name("prod", name) for name in names}
    assert len(apps) == len(names) + 1 and len(credentials) == len(names) and not apps & credentials
