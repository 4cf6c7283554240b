"""The in-cluster Portkey gateway relays to any `custom_host` a caller names, unless its SSRF
blocklist refuses it. TRUSTED_CUSTOM_HOSTS exempts hosts from that blocklist; the deployment sets it
to exactly the hosts the generated configs name, which also ends Portkey's default exemption of
localhost, 127.0.0.1, ::1 and host.docker.internal. (It is not an allowlist: any public host stays
reachable, which only the egress NetworkPolicy limits; docs/security.md.)"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from local.client import CHAT_PATH, MOCK_KEY, bearer, chat_body
from local.environment import LocalEnvironment
from local.mock_provider import MockControl
from local.processes import ServerProcess

pytestmark = pytest.mark.e2e


def _custom_host_request(gateway: ServerProcess, host: str) -> httpx.Response:
    config = {"provider": "openai", "custom_host": host, "api_key": MOCK_KEY}
    with httpx.Client(base_url=gateway.url, timeout=15) as client:
        return client.post(
            CHAT_PATH,
            json=chat_body("gpt-4o", "relay"),
            headers={**bearer(MOCK_KEY), "x-portkey-config": json.dumps(config)},
        )


def test_only_the_configs_hosts_are_exempt_from_the_blocklist(
    portkey_gateway: ServerProcess, portkey_env: LocalEnvironment, routing: dict[str, Any], mock: MockControl
) -> None:
    # Portkey's default trusts host.docker.internal: with the deployment's setting it is refused
    # before any connection is made.
    refused = _custom_host_request(portkey_gateway, "http://host.docker.internal:9/v1")
    assert refused.status_code == 400, refused.text
    assert "Invalid" in refused.text and "custom host" in refused.text, refused.text
    # The configs' own host (the mock on 127.0.0.1) still serves.
    task = next(name for name, entry in routing["tasks"].items() if entry.get("route") == "gateway")
    with httpx.Client(base_url=portkey_gateway.url, timeout=30) as client:
        served = client.post(
            CHAT_PATH,
            json=chat_body(task, "relay-own-host"),
            headers={**bearer(MOCK_KEY), "x-portkey-config": portkey_env.portkey_config(task)},
        )
    assert served.status_code == 200, served.text
