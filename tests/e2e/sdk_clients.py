"""The official SDKs, pointed at a local gateway the way docs/client-api.md tells an application to.

Every client gets its HTTP client from ``e2e_support.gateway_client`` (its error responses are scanned
for internals) and counts the HTTP requests it sends, so a test can tell an SDK's own retries apart.
The three SDKs raise their own exception classes: ``openai.*``, ``anthropic.*``, and for portkey-ai the
classes of its vendored OpenAI client, ``portkey_ai.openai.*`` (not ``openai.*``).
"""

from __future__ import annotations

import types
from dataclasses import dataclass, field
from typing import Any

import anthropic
import httpx
import openai
import portkey_ai
from e2e_support import gateway_client, scanned_hooks

SDKS = ("openai", "anthropic", "portkey-ai")
# The module whose exception classes each SDK raises.
ERRORS: dict[str, types.ModuleType] = {"openai": openai, "anthropic": anthropic, "portkey-ai": portkey_ai.openai}


@dataclass
class RequestCount:
    """How many HTTP requests a client sent (an SDK's retries included)."""

    count: int = 0
    paths: list[str] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> None:
        self.count += 1
        self.paths.append(request.url.path)


def _http(counter: RequestCount) -> httpx.Client:
    return gateway_client(timeout=60, on_request=counter)


def openai_client(gateway_url: str, key: str, counter: RequestCount | None = None, **options: Any) -> openai.OpenAI:
    """The SDK's own retries stay on (its default, 2) unless ``options`` say otherwise."""
    return openai.OpenAI(
        base_url=f"{gateway_url}/v1", api_key=key, http_client=_http(counter or RequestCount()), **options
    )


def anthropic_client(
    gateway_url: str, key: str, counter: RequestCount | None = None, **options: Any
) -> anthropic.Anthropic:
    # The Anthropic SDK appends /v1/messages itself, and sends the key as x-api-key. Its HTTP client is
    # httpx2's (it refuses an httpx one): the SDK's default client, with the same hooks.
    http_client = anthropic.DefaultHttpxClient(timeout=60, event_hooks=scanned_hooks(counter or RequestCount()))
    return anthropic.Anthropic(base_url=gateway_url, api_key=key, http_client=http_client, **options)


def portkey_to_litellm(gateway_url: str, key: str, counter: RequestCount | None = None) -> portkey_ai.Portkey:
    """portkey-ai against the in-cluster LiteLLM: the key goes in Authorization; no Portkey API key."""
    return portkey_ai.Portkey(
        base_url=f"{gateway_url}/v1",
        api_key="",
        Authorization=f"Bearer {key}",
        http_client=_http(counter or RequestCount()),
    )


def portkey_to_portkey(
    gateway_url: str, config: str | None, counter: RequestCount | None = None, **options: Any
) -> portkey_ai.Portkey:
    """portkey-ai against the OSS Portkey gateway: the task's config travels with every request
    (``options``: the SDK's other settings, e.g. ``Authorization`` for the provider, ``trace_id``)."""
    return portkey_ai.Portkey(
        base_url=f"{gateway_url}/v1", api_key="", config=config, http_client=_http(counter or RequestCount()), **options
    )


def chat(sdk: str, gateway_url: str, key: str, task: str, counter: RequestCount | None = None, **body: Any) -> Any:
    """One chat request through ``sdk``; ``body`` replaces or adds request fields (``messages="hello"``)."""
    fields: dict[str, Any] = {"model": task, "max_tokens": 16, "messages": [{"role": "user", "content": "hello"}]}
    fields.update(body)
    if sdk == "openai":
        return openai_client(gateway_url, key, counter).chat.completions.create(**fields)
    if sdk == "anthropic":
        return anthropic_client(gateway_url, key, counter).messages.create(**fields)
    return portkey_to_litellm(gateway_url, key, counter).chat.completions.create(**fields)


def answer_text(sdk: str, answer: Any) -> str:
    if sdk == "anthropic":
        return "".join(block.text for block in answer.content if block.type == "text")
    return str(answer.choices[0].message.content)


def error_message(error: Exception) -> str:
    """The message of an SDK's status error, from its body in either error shape."""
    body = getattr(error, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return str(inner["message"])
    return str(error)
