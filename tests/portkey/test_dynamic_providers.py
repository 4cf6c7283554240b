"""The Portkey dynamic providers against a fake admin API on 127.0.0.1, driven by the real portkey-ai SDK.

Every provider is used as the engine holds it: serialized by `pulumi.dynamic.Resource`'s own code,
deserialized and configured with the stack config (tests/portkey/conftest.py). The fake speaks
Portkey's wire format (tests/fakes/portkey_admin.py); what it holds is inspected, or changed behind
the program's back, to see create, read (drift), diff (update vs replace), update, delete.
"""

from __future__ import annotations

import traceback

import pytest
from portkey_ai import Portkey
from portkey_support import (
    MARKER,
    SLUG,
    WORKSPACE,
    access_props,
    as_engine_holds,
    config_props,
    integration_props,
    policy_props,
    provider_props,
    serialized,
)

from program.portkey.api import PortkeyApiError
from program.portkey.config import ConfigResourceProvider
from program.portkey.integration import IntegrationResourceProvider
from program.portkey.provider import ProviderResourceProvider
from program.portkey.usage_limits_policy import UsageLimitsPolicyResourceProvider
from program.portkey.workspace_access import WorkspaceAccessResourceProvider
from tests.fakes.portkey_admin import ADMIN_KEY, FakePortkeyAdmin


def enabled_integration(fake: FakePortkeyAdmin) -> None:
    as_engine_holds(IntegrationResourceProvider).create(integration_props(fake))
    as_engine_holds(WorkspaceAccessResourceProvider).create(access_props(fake))


def one_line(error: BaseException) -> str:
    message = str(error)
    assert "\n" not in message, message
    # What the dynamic-provider host hands the engine is the formatted traceback: our frames and this
    # one line, never an SDK frame or a chained error before it.
    printed = "".join(traceback.format_exception(error))
    assert "portkey_ai" not in printed and "During handling" not in printed and "direct cause" not in printed, printed
    return message


# --- integrations: create, read, drift, rotation, delete -------------------------------------------


def test_integration_lifecycle_and_rotation_in_place(fake: FakePortkeyAdmin) -> None:
    provider = as_engine_holds(IntegrationResourceProvider)
    created = provider.create(integration_props(fake))
    assert created.id == SLUG
    assert fake.integration_key(SLUG) == "sk-test-first-key-0001"
    state = created.outs
    assert state["key"] == "sk-test-first-key-0001"  # kept under the input's name: the engine re-marks it secret
    assert "masked_key" not in state and state["status"] == "active"

    # Nothing changed: read returns the same state, diff is empty.
    read = provider.read(SLUG, state)
    assert read.id == SLUG and read.outs == state
    assert provider.diff(SLUG, state, integration_props(fake)).changes is False

    # Rotation: a new key from ESC is an update in place (same slug, providers untouched), never a replace.
    rotated = integration_props(fake, key="sk-test-rotated-key-0002")
    diff = provider.diff(SLUG, state, rotated)
    assert (diff.changes, diff.replaces) == (True, [])
    updated = provider.update(SLUG, state, rotated)
    assert fake.integration_key(SLUG) == "sk-test-rotated-key-0002"
    assert updated.outs["key"] == "sk-test-rotated-key-0002" and updated.outs["slug"] == SLUG
    puts = [r for r in fake.requests if r.method == "PUT" and r.path == f"/v1/integrations/{SLUG}"]
    assert puts[-1].body["key"] == "sk-test-rotated-key-0002"
    assert fake.count("DELETE", f"/v1/integrations/{SLUG}") == 0

    # A changed AI provider or slug is a replacement, deleted first (the slug is unique).
    diff = provider.diff(SLUG, updated.outs, integration_props(fake, ai_provider_id="anthropic"))
    assert diff.replaces == ["ai_provider_id"] and diff.delete_before_replace is True

    provider.delete(SLUG, updated.outs)
    assert SLUG not in fake.state.integrations
    provider.delete(SLUG, updated.outs)  # already gone: not an error
    assert provider.read(SLUG, updated.outs).id == ""  # gone: refresh drops it


def test_integration_drift_is_read_back_and_reverted(fake: FakePortkeyAdmin) -> None:
    provider = as_engine_holds(IntegrationResourceProvider)
    state = provider.create(integration_props(fake)).outs
    fake.state.integrations[SLUG]["name"] = "renamed in the Portkey app"
    read = provider.read(SLUG, state)
    assert read.outs["name"] == "renamed in the Portkey app"
    assert read.inputs is not None and read.inputs["name"] == "renamed in the Portkey app"  # refresh shows it
    diff = provider.diff(SLUG, read.outs, integration_props(fake))
    assert (diff.changes, diff.replaces) == (True, [])
    provider.update(SLUG, read.outs, integration_props(fake))
    assert fake.state.integrations[SLUG]["name"] == "llm-gateway prod openai"


def test_integration_slug_of_this_stack_is_adopted_and_anyone_elses_stops(fake: FakePortkeyAdmin) -> None:
    # State lost, object still there with this stack's marker: adopted, and the key is written.
    client = Portkey(api_key=ADMIN_KEY, base_url=fake.base_url)
    client.integrations.create(slug=SLUG, name="old", ai_provider_id="openai", key="sk-old", description=f"x {MARKER}")
    outs = as_engine_holds(IntegrationResourceProvider).create(integration_props(fake)).outs
    assert outs["name"] == "llm-gateway prod openai" and fake.integration_key(SLUG) == "sk-test-first-key-0001"
    assert len(fake.state.integrations) == 1

    # Someone else's integration under the slug: stop, name it, say how to proceed.
    fake.state.integrations[SLUG]["description"] = "made by hand"
    with pytest.raises(PortkeyApiError) as caught:
        as_engine_holds(IntegrationResourceProvider).create(integration_props(fake))
    message = one_line(caught.value)
    assert f"integration '{SLUG}' already exists in Portkey and is not this stack's" in message
    assert f"add '{MARKER}' to its description" in message


# --- workspace access --------------------------------------------------------------------------------


def test_workspace_access_without_default_provider_and_its_drift(fake: FakePortkeyAdmin) -> None:
    as_engine_holds(IntegrationResourceProvider).create(integration_props(fake))
    access = as_engine_holds(WorkspaceAccessResourceProvider)
    created = access.create(access_props(fake))
    assert created.id == f"{SLUG}/{WORKSPACE}" and created.outs["enabled"] is True
    # Portkey would add a provider of its own next to the spec's: none was created.
    assert fake.state.providers == {}
    fake.state.access[SLUG][WORKSPACE]["enabled"] = False
    read = access.read(created.id, created.outs)
    assert read.outs["enabled"] is False
    assert access.diff(created.id, read.outs, access_props(fake)).changes is True
    access.update(created.id, read.outs, access_props(fake))
    assert fake.state.access[SLUG][WORKSPACE]["enabled"] is True
    access.delete(created.id, created.outs)
    assert fake.state.access[SLUG][WORKSPACE]["enabled"] is False


# --- providers: budgets, rate limits, drift, replacement ---------------------------------------------


def test_provider_with_budget_and_rate_limit(fake: FakePortkeyAdmin) -> None:
    enabled_integration(fake)
    provider = as_engine_holds(ProviderResourceProvider)
    props = provider_props(fake, rate_limits={"type": "requests", "unit": "rpm", "value": 300})
    created = provider.create(props)
    assert created.id == "prod-gpt4-primary"
    held = fake.state.providers[(WORKSPACE, "prod-gpt4-primary")]
    assert held["usage_limits"]["credit_limit"] == 17000 and held["usage_limits"]["alert_threshold"] == 13600
    assert held["rate_limits"] == [{"type": "requests", "unit": "rpm", "value": 300}]
    # Portkey's answer carries usage so far and an array of rate limits: neither is drift.
    assert provider.diff(created.id, provider.read(created.id, created.outs).outs, props).changes is False

    # Someone raises the budget in the Portkey app: refresh shows it, up puts the spec's back.
    held["usage_limits"]["credit_limit"] = 50000
    read = provider.read(created.id, created.outs)
    assert read.outs["usage_limits"]["credit_limit"] == 50000
    diff = provider.diff(created.id, read.outs, props)
    assert (diff.changes, diff.replaces) == (True, [])
    provider.update(created.id, read.outs, props)
    assert fake.state.providers[(WORKSPACE, "prod-gpt4-primary")]["usage_limits"]["credit_limit"] == 17000

    # A rate limit the spec drops is removed (sent as null), in place.
    provider.update(created.id, props, {**props, "rate_limits": None})
    assert fake.state.providers[(WORKSPACE, "prod-gpt4-primary")]["rate_limits"] == []

    moved = provider.diff(created.id, props, {**props, "integration_id": "llm-gateway-prod-other"})
    assert moved.replaces == ["integration_id"] and moved.delete_before_replace is True
    provider.delete(created.id, props)
    provider.delete(created.id, props)  # 404: already gone
    assert (WORKSPACE, "prod-gpt4-primary") not in fake.state.providers


def test_provider_needs_the_integration_enabled_for_its_workspace(fake: FakePortkeyAdmin) -> None:
    as_engine_holds(IntegrationResourceProvider).create(integration_props(fake))
    with pytest.raises(PortkeyApiError) as caught:
        as_engine_holds(ProviderResourceProvider).create(provider_props(fake))
    message = one_line(caught.value)
    assert message.startswith("Portkey API 400 (AB01: Integration llm-gateway-prod-openai is not enabled")
    assert "provider '@prod-gpt4-primary'" in message


# --- saved configs ---------------------------------------------------------------------------------


def test_config_changes_in_place_under_the_same_slug(fake: FakePortkeyAdmin) -> None:
    provider = as_engine_holds(ConfigResourceProvider)
    created = provider.create(config_props(fake))
    slug = created.id
    assert slug.startswith("pc-") and created.outs["slug"] == slug
    first_version = created.outs["version_id"]

    changed = config_props(fake, config={"strategy": {"mode": "fallback"}, "targets": [], "cache": {"mode": "simple"}})
    diff = provider.diff(slug, created.outs, changed)
    assert (diff.changes, diff.replaces) == (True, [])
    updated = provider.update(slug, created.outs, changed)
    assert updated.outs["slug"] == slug and updated.outs["version_id"] != first_version
    assert fake.state.configs[slug]["config"]["cache"] == {"mode": "simple"}
    # Portkey returns the body as a JSON string; parsed, the same body is no drift.
    assert provider.diff(slug, provider.read(slug, updated.outs).outs, changed).changes is False

    fake.state.configs[slug]["config"] = {"strategy": {"mode": "single"}, "targets": []}
    assert provider.read(slug, updated.outs).outs["config"]["strategy"] == {"mode": "single"}

    assert provider.diff(slug, updated.outs, config_props(fake, workspace_id="ws-other")).replaces == ["workspace_id"]
    provider.delete(slug, updated.outs)
    assert provider.read(slug, updated.outs).id == ""  # archived = gone
    provider.delete(slug, updated.outs)  # 404: fine


def test_config_of_this_name_is_adopted(fake: FakePortkeyAdmin) -> None:
    client = Portkey(api_key=ADMIN_KEY, base_url=fake.base_url)
    existing = client.configs.create(name="llm-gateway-prod-chat", config={"targets": []}, workspace_id=WORKSPACE)
    created = as_engine_holds(ConfigResourceProvider).create(config_props(fake))
    assert created.id == existing.slug and len(fake.state.configs) == 1
    assert fake.state.configs[created.id]["config"] == config_props(fake)["config"]


# --- usage-limits policies -------------------------------------------------------------------------


def test_usage_limits_policy_updates_limits_in_place_and_replaces_on_conditions(fake: FakePortkeyAdmin) -> None:
    provider = as_engine_holds(UsageLimitsPolicyResourceProvider)
    created = provider.create(policy_props(fake))
    held = fake.state.policies[created.id]
    assert (held["credit_limit"], held["alert_threshold"], held["periodic_reset"]) == (4000, 3200, "monthly")
    raised = policy_props(fake, credit_limit=5000, alert_threshold=4000)
    assert provider.diff(created.id, created.outs, raised).replaces == []
    provider.update(created.id, created.outs, raised)
    assert fake.state.policies[created.id]["credit_limit"] == 5000
    moved = policy_props(fake, conditions=[{"key": "config", "value": "pc-other-000002"}])
    assert provider.diff(created.id, created.outs, moved).replaces == ["conditions"]
    held["credit_limit"] = 1  # changed in the app
    assert provider.read(created.id, created.outs).outs["credit_limit"] == 1
    provider.delete(created.id, created.outs)
    assert provider.read(created.id, created.outs).id == ""


def test_usage_limits_policy_of_this_name_with_other_conditions_stops(fake: FakePortkeyAdmin) -> None:
    as_engine_holds(UsageLimitsPolicyResourceProvider).create(policy_props(fake))
    with pytest.raises(PortkeyApiError) as caught:
        as_engine_holds(UsageLimitsPolicyResourceProvider).create(
            policy_props(fake, conditions=[{"key": "config", "value": "pc-other-000002"}])
        )
    assert "already exists in workspace 'ws-prod-7c1e' with other conditions" in one_line(caught.value)
    # Same name, same conditions (a lost state): adopted, not duplicated.
    adopted = as_engine_holds(UsageLimitsPolicyResourceProvider).create(policy_props(fake, credit_limit=4500))
    assert len(fake.state.policies) == 1 and fake.state.policies[adopted.id]["credit_limit"] == 4500


# --- errors: one line with the status, the resource and what to do -----------------------------------


def test_refused_admin_key_is_one_line_naming_status_resource_and_remedy(fake: FakePortkeyAdmin) -> None:
    provider = as_engine_holds(IntegrationResourceProvider, admin_key="pk-admin-wrong")
    with pytest.raises(PortkeyApiError) as caught:
        provider.create(integration_props(fake))
    message = one_line(caught.value)
    assert message.startswith(
        "Portkey API 401 (AB05: Unauthorized access: invalid or missing x-portkey-api-key) "
        f"on read integration '{SLUG}'"
    )
    assert "set a valid one in ESC" in message and "pk-admin-wrong" not in message


def test_missing_admin_key_names_the_setting(fake: FakePortkeyAdmin) -> None:
    with pytest.raises(PortkeyApiError) as caught:
        as_engine_holds(ConfigResourceProvider, admin_key=None).create(config_props(fake))
    message = one_line(caught.value)
    assert "llm-gateway:portkeyAdminKey is not set" in message and fake.requests == []


def test_server_errors_and_conflicts_are_clear(fake: FakePortkeyAdmin) -> None:
    provider = as_engine_holds(IntegrationResourceProvider)
    state = provider.create(integration_props(fake)).outs
    fake.fail("PUT", f"/v1/integrations/{SLUG}", 500, times=5)
    with pytest.raises(PortkeyApiError) as caught:
        provider.update(SLUG, state, integration_props(fake, key="sk-test-new"))
    message = one_line(caught.value)
    assert message.startswith(f"Portkey API 500 (AB04: Something went wrong) on update integration '{SLUG}'")
    assert "run pulumi up again" in message and "sk-test-new" not in message
    # An update is idempotent: the SDK's single retry is kept for it.
    assert fake.count("PUT", f"/v1/integrations/{SLUG}") == 2

    fake.faults.clear()
    enabled_integration(fake)
    as_engine_holds(ProviderResourceProvider).create(provider_props(fake))
    fake.fail("PUT", "/v1/providers/prod-gpt4-primary", 409)
    with pytest.raises(PortkeyApiError) as caught:
        as_engine_holds(ProviderResourceProvider).update("prod-gpt4-primary", {}, provider_props(fake, name="x"))
    assert one_line(caught.value).startswith("Portkey API 409 (AB07: Something went wrong) on update provider")


def test_unreachable_control_plane_names_the_url() -> None:
    provider = as_engine_holds(ConfigResourceProvider)
    with pytest.raises(PortkeyApiError) as caught:
        provider.create({"base_url": "http://127.0.0.1:9/v1", "workspace_id": WORKSPACE, "name": "n", "config": {}})
    message = one_line(caught.value)
    assert "Portkey API unreachable on look up config 'n' (http://127.0.0.1:9/v1" in message
    assert "llm-gateway:portkeyBaseUrl" in message


# --- a create whose answer is lost never duplicates ---------------------------------------------------


def test_the_sdk_alone_would_duplicate_a_create_whose_answer_was_lost(fake: FakePortkeyAdmin) -> None:
    # Why create_once exists: the SDK retries a POST once on a 5xx, and Portkey's creates are not idempotent.
    fake.fail("POST", "/v1/configs", 500, after_effect=True)
    Portkey(api_key=ADMIN_KEY, base_url=fake.base_url).configs.create(name="n", config={"targets": []})
    assert fake.count("POST", "/v1/configs") == 2 and len(fake.state.configs) == 2


@pytest.mark.parametrize("status", [500, 503])
def test_config_create_with_a_lost_answer_is_found_not_repeated(fake: FakePortkeyAdmin, status: int) -> None:
    fake.fail("POST", "/v1/configs", status, after_effect=True)
    created = as_engine_holds(ConfigResourceProvider).create(config_props(fake))
    assert fake.count("POST", "/v1/configs") == 1 and list(fake.state.configs) == [created.id]


def test_config_create_that_failed_before_acting_is_posted_again_once(fake: FakePortkeyAdmin) -> None:
    fake.fail("POST", "/v1/configs", 502)
    created = as_engine_holds(ConfigResourceProvider).create(config_props(fake))
    assert fake.count("POST", "/v1/configs") == 2 and list(fake.state.configs) == [created.id]


def test_fixed_slug_creates_with_a_lost_answer_are_found(fake: FakePortkeyAdmin) -> None:
    fake.fail("POST", "/v1/integrations", 500, after_effect=True)
    as_engine_holds(IntegrationResourceProvider).create(integration_props(fake))
    assert fake.count("POST", "/v1/integrations") == 1 and list(fake.state.integrations) == [SLUG]
    as_engine_holds(WorkspaceAccessResourceProvider).create(access_props(fake))
    fake.fail("POST", "/v1/providers", 503, after_effect=True)
    as_engine_holds(ProviderResourceProvider).create(provider_props(fake))
    assert fake.count("POST", "/v1/providers") == 1 and len(fake.state.providers) == 1
    fake.fail("POST", "/v1/policies/usage-limits", 500, after_effect=True)
    as_engine_holds(UsageLimitsPolicyResourceProvider).create(policy_props(fake))
    assert fake.count("POST", "/v1/policies/usage-limits") == 1 and len(fake.state.policies) == 1


def test_a_create_that_keeps_failing_stops_after_two_posts(fake: FakePortkeyAdmin) -> None:
    fake.fail("POST", "/v1/configs", 500, times=10)
    with pytest.raises(PortkeyApiError) as caught:
        as_engine_holds(ConfigResourceProvider).create(config_props(fake))
    assert one_line(caught.value).startswith("Portkey API 500")
    assert fake.count("POST", "/v1/configs") == 2 and fake.state.configs == {}


# --- serialization ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "provider_class",
    [
        IntegrationResourceProvider,
        WorkspaceAccessResourceProvider,
        ProviderResourceProvider,
        ConfigResourceProvider,
        UsageLimitsPolicyResourceProvider,
    ],
)
def test_serialized_providers_hold_no_key_and_no_client(provider_class: type) -> None:
    provider = as_engine_holds(provider_class)  # configured: it holds the admin key now
    text = serialized(provider)
    import base64

    payload = base64.b64decode(text)
    assert ADMIN_KEY.encode() not in payload
    # Pickled by reference to an importable module: the host imports it from the project root.
    assert f"program.portkey.{provider_class.__module__.rsplit('.', 1)[1]}".encode() in payload
    assert serialized(provider_class()) == text  # deterministic: `__provider` does not churn between runs
