"""Helpers of the Portkey dynamic-provider tests: providers as the engine holds them, and their inputs."""

from __future__ import annotations

import base64
from typing import Any, TypeVar

import dill
from pulumi.dynamic import ConfigureRequest, ResourceProvider
from pulumi.dynamic.config import Config
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime._serialization import _deserialize, _serialize

from program.portkey.api import ADMIN_KEY_SETTING
from program.portkey.base import managed_marker
from tests.fakes.portkey_admin import ADMIN_KEY, FakePortkeyAdmin

P = TypeVar("P", bound=ResourceProvider)
MANAGED_BY = "pulumi llm-gateway/prod"
WORKSPACE = "ws-prod-7c1e"


def serialized(provider: ResourceProvider) -> str:
    """What the program stores in `__provider`: `pulumi.dynamic.Resource`'s own serialization."""
    text, _contains_secrets = _serialize(True, serialize_provider, provider)
    return str(text)


def as_engine_holds(provider_class: type[P], admin_key: str | None = ADMIN_KEY) -> P:
    """Serialize a fresh provider as the program does, deserialize and configure it as the host does."""
    text = serialized(provider_class())
    provider: P = _deserialize(lambda: dill.loads(base64.b64decode(text)))
    raw = {ADMIN_KEY_SETTING: admin_key} if admin_key is not None else {}
    provider.configure(ConfigureRequest(Config(raw_config=raw, project_name="llm-gateway")))
    return provider


SLUG = "llm-gateway-prod-openai"
MARKER = managed_marker(MANAGED_BY)


def integration_props(fake: FakePortkeyAdmin, **changes: Any) -> dict[str, Any]:
    return {
        "base_url": fake.base_url,
        "slug": SLUG,
        "name": "llm-gateway prod openai",
        "ai_provider_id": "openai",
        "key": "sk-test-first-key-0001",
        "description": f"OpenAI key of prod. {MARKER}",
        "managed_by": MANAGED_BY,
        **changes,
    }


def access_props(fake: FakePortkeyAdmin) -> dict[str, Any]:
    return {"base_url": fake.base_url, "integration_slug": SLUG, "workspace_id": WORKSPACE, "enabled": True}


def provider_props(fake: FakePortkeyAdmin, **changes: Any) -> dict[str, Any]:
    return {
        "base_url": fake.base_url,
        "workspace_id": WORKSPACE,
        "slug": "prod-gpt4-primary",
        "name": "prod-gpt4-primary",
        "integration_id": SLUG,
        "note": f"GPT-4 class models. {MARKER}",
        "managed_by": MANAGED_BY,
        "usage_limits": {"credit_limit": 17000, "type": "cost", "periodic_reset": "monthly", "alert_threshold": 13600},
        "rate_limits": None,
        **changes,
    }


def config_props(fake: FakePortkeyAdmin, **changes: Any) -> dict[str, Any]:
    body = {"strategy": {"mode": "fallback"}, "targets": [{"override_params": {"model": "@prod-gpt4-primary/gpt-4o"}}]}
    props = {"base_url": fake.base_url, "workspace_id": WORKSPACE, "name": "llm-gateway-prod-chat", "config": body}
    return props | changes


def policy_props(fake: FakePortkeyAdmin, **changes: Any) -> dict[str, Any]:
    return {
        "base_url": fake.base_url,
        "workspace_id": WORKSPACE,
        "name": "llm-gateway-prod-task-chat",
        "conditions": [{"key": "config", "value": "pc-llmgat-000001"}],
        "group_by": [{"key": "config"}],
        "type": "cost",
        "periodic_reset": "monthly",
        "credit_limit": 4000,
        "alert_threshold": 3200,
        **changes,
    }
