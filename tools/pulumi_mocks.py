"""Pulumi's public testing API, and the one small adapter the offline plan needs around it.

Everything the program registers passes through :class:`RecordingMocks` (a public
``pulumi.runtime.Mocks``), which records each resource's type, name, inputs and the state the mock
returns, and computes what a real provider would and the program reads back: the generated name of
a Kubernetes object created without ``metadata.name`` (auto-naming) and a ``RandomPassword`` result.

The public ``MockResourceArgs`` carries no parent, and the plan prints the resource tree. That one
missing fact is read by :class:`ParentRecordingMonitor`, the adapter: a ``MockMonitor`` handed to
the public ``set_mocks(monitor=...)`` that keeps the ``parent`` field of each registration
request. The other wire-level fact used here is the shape of a secret input
(:data:`SECRET_SIG_KEY`). ``tests/pulumi/test_pulumi_mocks.py`` fails loudly if a Pulumi upgrade
changes either.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime.mocks import MockMonitor

# Pulumi's property-value wire format marks a secret as {SIG_KEY: SECRET_SIG, "value": <value>}.
SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
# How the recorded graph (JSON) marks a secret value, and an asset (its text).
SECRET_MARKER = "__secret__"
ASSET_MARKER = "__asset__"
# RecordingMocks' RandomPassword.result is this prefix + the resource name.
MOCK_PASSWORD_PREFIX = "mock-password-"
RANDOM_PASSWORD = "random:index/randomPassword:RandomPassword"
# Portkey generates a saved config's slug on create (program/portkey/config.py): `pc-<name>-<6 hex>`.
PORTKEY_CONFIG = "pulumi-python:dynamic/portkey:Config"


def is_secret_value(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SECRET_SIG_KEY) == SECRET_SIG


def marked(value: Any) -> Any:
    """Pulumi's secret wrappers as ``{"__secret__": value}``, and wire numbers as Python ints."""
    if is_secret_value(value):
        return {SECRET_MARKER: marked(value["value"])}
    if isinstance(value, pulumi.StringAsset):
        return {ASSET_MARKER: value.text}
    if isinstance(value, dict):
        return {key: marked(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [marked(item) for item in value]
    # Values travel as protobuf Struct numbers (doubles): 4000 arrives as 4000.0.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _unmarked(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {SECRET_MARKER}:
            return _unmarked(value[SECRET_MARKER])
        return {key: _unmarked(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_unmarked(item) for item in value]
    return value


def auto_name(logical_name: str, inputs: dict[str, Any]) -> str:
    """The name a provider gives an object created without one: ``<logical name>-<8 characters>``.

    Pulumi draws the suffix at random when it creates (or replaces) the object. Here it is derived
    from the inputs, so a changed object gets a new name, as a replacement would, and an identical
    run gives identical names (reproducible plans).
    """
    canonical = json.dumps(_unmarked(marked(inputs)), sort_keys=True, default=str)
    return f"{logical_name}-{hashlib.sha256(canonical.encode()).hexdigest()[:8]}"


@dataclass
class RecordedResource:
    """One registration: Pulumi type, logical name, parent URN, inputs and the mock's state."""

    type: str
    name: str
    urn: str = ""
    parent: str = ""
    # The provider reference (`<provider URN>::<id>`) the registration names; "" for the default one.
    provider: str = ""
    custom: bool = True
    inputs: dict[str, Any] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)


class RecordingMocks(pulumi.runtime.Mocks):
    """Returns inputs as state (plus provider-computed fields) and records every registration."""

    def __init__(self) -> None:
        self.recorded: list[RecordedResource] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        state = dict(args.inputs)
        if args.typ == RANDOM_PASSWORD:
            # Deterministic and recognisable, so the tests can prove it never leaks.
            state["result"] = f"{MOCK_PASSWORD_PREFIX}{args.name}"
        if args.typ == PORTKEY_CONFIG:
            # As Portkey would: derived from the name, so identical runs give identical slugs.
            digest = hashlib.sha256(str(args.inputs.get("name")).encode()).hexdigest()[:6]
            state["slug"] = f"pc-{str(args.inputs.get('name')).replace('-', '')[:6]}-{digest}"
        if args.typ.startswith("kubernetes:") and args.custom:
            metadata = dict(state.get("metadata") or {})
            if not metadata.get("name"):
                metadata["name"] = auto_name(args.name, args.inputs)
                state["metadata"] = metadata
        self.recorded.append(
            RecordedResource(
                type=args.typ,
                name=args.name,
                custom=bool(args.custom),
                inputs=marked(args.inputs),
                state=marked(state),
            )
        )
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


class ParentRecordingMonitor(MockMonitor):
    """The adapter: a ``MockMonitor`` that also keeps each registration's URN, parent URN and provider.

    ``MockMonitor.RegisterResource`` receives Pulumi's ``RegisterResourceRequest``; its ``parent``
    field is the parent's URN and its ``provider`` the provider reference, which the public
    ``MockResourceArgs`` does not carry.
    """

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self.recording_mocks = mocks
        # The SDK registers from a thread pool: one registration at a time keeps record and request paired.
        self._lock = threading.Lock()

    def RegisterResource(self, request: Any) -> Any:  # the gRPC method overridden: keep its name
        with self._lock:
            response = super().RegisterResource(request)  # type: ignore[no-untyped-call]  # pulumi SDK is untyped here
            if request.type != "pulumi:pulumi:Stack":
                # new_resource (inside super()) has just recorded this very registration.
                recorded = self.recording_mocks.recorded[-1]
                assert (recorded.type, recorded.name) == (request.type, request.name), "registration mismatch"
                recorded.urn = response.urn
                recorded.parent = request.parent
                recorded.provider = request.provider
        return response
