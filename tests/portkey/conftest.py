"""Fixtures of the Portkey dynamic-provider tests: the fake admin API and providers as the engine holds them."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import dill
import pytest
from pulumi.dynamic import ConfigureRequest, ResourceProvider
from pulumi.dynamic.config import Config
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime._serialization import _deserialize, _serialize

from program.portkey.api import ADMIN_KEY_SETTING
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


@pytest.fixture
def fake() -> Iterator[FakePortkeyAdmin]:
    server = FakePortkeyAdmin().start()
    yield server
    server.stop()


@pytest.fixture
def engine() -> Callable[..., Any]:
    return as_engine_holds
