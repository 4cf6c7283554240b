"""What every client of the local gateways shares: ``make run``/``make smoke``, the benchmarks, the e2e tests.

One place for the routed tasks of a ``routing.json``, the name the mock provider gives a target, the chat
request body, the credentials a request carries, and how to read which mock target answered.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

CHAT_PATH = "/v1/chat/completions"
# The mock provider accepts any key; the Portkey gateway needs one to forward a request, and a
# provider key variable (OPENAI_API_KEY, ...) must be set for LiteLLM to build its deployments.
MOCK_KEY = "mock-key"
# Where the mock provider signs its answers: the header (LiteLLM forwards it with a prefix) and the
# content ("served-by <target>") for a gateway that drops upstream headers.
MOCK_TARGET_HEADERS = ("x-mock-target", "llm_provider-x-mock-target")
SERVED_BY_MARKER = "served-by "


def gateway_tasks(routing: Mapping[str, Any]) -> list[str]:
    """Tasks of a ``routing.json`` routed through the gateway (``route: gateway``), in manifest order."""
    return [name for name, task in routing["tasks"].items() if task.get("route") == "gateway"]


def target_label(target: Mapping[str, Any]) -> str:
    """A ``routing.json`` target as ``"<provider>/<provider_model>"``: the name the mock provider
    records calls under and signs its answers with."""
    return f"{target['provider']}/{target['provider_model']}"


def chat_body(model: str, prompt: str, stream: bool = False, max_tokens: int = 16) -> dict[str, Any]:
    """The chat completion request every client sends (the gateway maps ``model`` to its task's targets)."""
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": prompt}], "max_tokens": max_tokens}
    if stream:
        body["stream"] = True
    return body


def mock_provider_key(provider: str) -> str:
    """The dummy key a provider's key variable holds when the provider is the mock."""
    return f"{MOCK_KEY}-{provider}"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def litellm_headers(master_key: str) -> dict[str, str]:
    """A LiteLLM proxy request: its master key (``LITELLM_MASTER_KEY``)."""
    return bearer(master_key)


def portkey_headers(config: str) -> dict[str, str]:
    """A Portkey gateway request: the task's config as one-line JSON in ``x-portkey-config``.

    The ``Authorization`` is the mock key: a target of a real provider carries its own ``api_key``."""
    return {**bearer(MOCK_KEY), "x-portkey-config": config}


def served_by(response: httpx.Response) -> str | None:
    """The mock target that produced a gateway's answer (``x-mock-target``, or the content), or None."""
    for header in MOCK_TARGET_HEADERS:
        if header in response.headers:
            return response.headers[header]
    if SERVED_BY_MARKER in response.text:
        return response.text.split(SERVED_BY_MARKER, 1)[1].split('"', 1)[0].split("\\", 1)[0]
    return None


@dataclass
class Answer:
    """A (non-streamed) chat answer as the client saw it; ``target`` is the mock target that served it."""

    status: int
    target: str | None
    seconds: float
    headers: httpx.Headers
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


def post_chat(
    client: httpx.Client, body: Mapping[str, Any], headers: Mapping[str, str] | None = None, path: str = CHAT_PATH
) -> Answer:
    """POST a chat request with ``client`` (whose base URL is the gateway) and time it."""
    started = time.perf_counter()
    response = client.post(path, json=dict(body), headers=dict(headers) if headers else None)
    seconds = time.perf_counter() - started
    return Answer(response.status_code, served_by(response), seconds, response.headers, response.text)
