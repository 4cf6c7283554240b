"""The Portkey dynamic providers in the real dynamic-provider host, driven over gRPC as the engine drives it.

`pulumi up` starts `python -m pulumi.dynamic` in the project root and speaks the ResourceProvider
gRPC protocol to it: Configure (the whole stack config, secrets decrypted), then Create / Read /
Diff / Update / Delete with the serialized provider in `__provider`. Running the same host here
proves the providers are importable from the project root and picklable, and shows the exact text a
user gets for an API error.
"""

from __future__ import annotations

import asyncio
import os
import select
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from portkey_support import WORKSPACE, integration_props, provider_props, serialized
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from program.portkey.api import ADMIN_KEY_SETTING
from program.portkey.integration import IntegrationResourceProvider
from program.portkey.provider import ProviderResourceProvider
from tests.fakes.portkey_admin import ADMIN_KEY, FakePortkeyAdmin
from tools.offline import ROOT

URN = "urn:pulumi:prod::llm-gateway::pulumi-python:dynamic/portkey:{kind}::{name}"
START_TIMEOUT_SECONDS = 30
CALL_TIMEOUT_SECONDS = 30


def _wire(properties: dict[str, Any]) -> Any:
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(rpc.serialize_properties(properties, {}))
    finally:
        loop.close()


def _plain(struct: Any) -> dict[str, Any]:
    return {key: value for key, value in rpc.deserialize_properties(struct).items() if key != "__provider"}


@pytest.fixture
def host() -> Iterator[provider_pb2_grpc.ResourceProviderStub]:
    # Its own process group, stopped by group; no proxy: it only talks to 127.0.0.1.
    env = {key: value for key, value in os.environ.items() if "proxy" not in key.lower()}
    process = subprocess.Popen(
        [sys.executable, "-u", "-m", "pulumi.dynamic"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], START_TIMEOUT_SECONDS)
        assert ready, "the dynamic-provider host printed no port"
        port = process.stdout.readline().decode().strip()
        assert port.isdigit(), f"unexpected first line {port!r}"
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        grpc.channel_ready_future(channel).result(timeout=START_TIMEOUT_SECONDS)
        stub = provider_pb2_grpc.ResourceProviderStub(channel)
        stub.Configure(
            provider_pb2.ConfigureRequest(args=_wire({ADMIN_KEY_SETTING: ADMIN_KEY})), timeout=CALL_TIMEOUT_SECONDS
        )
        yield stub
        channel.close()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)


def test_integration_crud_and_rotation_through_the_host(host: Any, fake: FakePortkeyAdmin) -> None:
    provider = serialized(IntegrationResourceProvider())
    urn = URN.format(kind="Integration", name="openai")
    props = integration_props(fake)
    created = host.Create(
        provider_pb2.CreateRequest(urn=urn, properties=_wire({"__provider": provider, **props})),
        timeout=CALL_TIMEOUT_SECONDS,
    )
    state = _plain(created.properties)
    assert created.id == "llm-gateway-prod-openai" and state["key"] == props["key"]

    rotated = integration_props(fake, key="sk-test-rotated-key-0002")
    change = {
        "id": created.id,
        "urn": urn,
        "olds": _wire({"__provider": provider, **state}),
        "news": _wire({"__provider": provider, **rotated}),
    }
    diff = host.Diff(provider_pb2.DiffRequest(**change), timeout=CALL_TIMEOUT_SECONDS)
    assert diff.changes == provider_pb2.DiffResponse.DIFF_SOME and list(diff.replaces) == []
    updated = host.Update(provider_pb2.UpdateRequest(**change), timeout=CALL_TIMEOUT_SECONDS)
    assert _plain(updated.properties)["key"] == "sk-test-rotated-key-0002"
    assert fake.integration_key("llm-gateway-prod-openai") == "sk-test-rotated-key-0002"

    fake.state.integrations["llm-gateway-prod-openai"]["name"] = "renamed by hand"
    read = host.Read(
        provider_pb2.ReadRequest(id=created.id, urn=urn, properties=updated.properties), timeout=CALL_TIMEOUT_SECONDS
    )
    assert read.id == created.id and _plain(read.inputs)["name"] == "renamed by hand"

    for _ in range(2):  # the second delete finds nothing, which is what was asked for
        host.Delete(
            provider_pb2.DeleteRequest(id=created.id, urn=urn, properties=updated.properties),
            timeout=CALL_TIMEOUT_SECONDS,
        )
    assert fake.state.integrations == {}
    gone = host.Read(
        provider_pb2.ReadRequest(id=created.id, urn=urn, properties=updated.properties), timeout=CALL_TIMEOUT_SECONDS
    )
    assert gone.id == ""


def test_an_api_error_reaches_the_engine_as_one_line_without_sdk_frames(host: Any, fake: FakePortkeyAdmin) -> None:
    # The integration is not enabled for the workspace: Portkey refuses the provider with 400 AB01.
    props = {"__provider": serialized(ProviderResourceProvider()), **provider_props(fake)}
    with pytest.raises(grpc.RpcError) as caught:
        host.Create(
            provider_pb2.CreateRequest(urn=URN.format(kind="Provider", name="gpt4"), properties=_wire(props)),
            timeout=CALL_TIMEOUT_SECONDS,
        )
    details = caught.value.details()
    last = details.strip().splitlines()[-1]
    assert last.startswith("program.portkey.api.PortkeyApiError: Portkey API 400 (AB01: Integration llm-gateway-prod")
    assert "provider '@prod-gpt4-primary'" in last and WORKSPACE in last
    assert "portkey_ai" not in details and "During handling" not in details
