"""Helpers of the end-to-end tests: routes read from ``routing.json``, requests, SSE, statistics.

Routes come from the generated manifest rather than hard-coded model names, so a change to the spec
changes what the tests expect. A *mock target* is ``"<provider>/<provider_model>"``
(``local.client.target_label``), the name the mock provider records calls under and signs its answers
with. Request bodies, headers and ``post_chat`` are ``local.client``'s, shared with ``make smoke`` and
the benchmarks.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from gateway_policy import has_internals

from local.client import CHAT_PATH, SERVED_BY_MARKER, chat_body, gateway_tasks, target_label
from local.processes import REPO_ROOT


@dataclass
class ErrorBodies:
    """Every error response (status >= 400) the e2e tests' clients receive, raw httpx and SDKs alike
    (they all get their HTTP client from :func:`gateway_client`), so a check after each test can tell
    whether one leaked a traceback or a local path (tests/e2e/conftest.py)."""

    seen: list[tuple[str, int, str]] = field(default_factory=list)

    def record(self, response: httpx.Response) -> None:
        # Also an httpx2.Response (the Anthropic SDK's HTTP client): the same API.
        if response.status_code >= 400:
            response.read()
            request = response.request
            self.seen.append((f"{request.method} {request.url.path}", response.status_code, response.text))

    @staticmethod
    def leaks(text: str) -> bool:
        return has_internals(text) or str(REPO_ROOT) in text or "site-packages" in text


ERROR_BODIES = ErrorBodies()


def gateway_client(
    base_url: str = "",
    headers: dict[str, str] | None = None,
    timeout: float = 30.0,
    on_request: Callable[[httpx.Request], None] | None = None,
) -> httpx.Client:
    """An httpx client whose error responses :data:`ERROR_BODIES` scans; ``on_request`` sees each request."""
    return httpx.Client(base_url=base_url, headers=headers, timeout=timeout, event_hooks=scanned_hooks(on_request))


def scanned_hooks(on_request: Callable[[Any], None] | None = None) -> dict[str, list[Callable[[Any], None]]]:
    """The ``event_hooks`` of an HTTP client whose error responses :data:`ERROR_BODIES` scans."""
    return {"request": [on_request] if on_request else [], "response": [ERROR_BODIES.record]}


@dataclass(frozen=True)
class Route:
    """A task of ``routing.json``: its targets as mock targets, and its traffic branches."""

    task: str
    tier: str
    targets: dict[str, str]  # spec model name → mock target
    branches: dict[str, list[str]]  # branch name → chain of mock targets (first serves, rest fall back)
    shares: dict[str, float]  # branch name → share of traffic (0..1)
    experiments: list[dict[str, Any]]

    @property
    def control_chain(self) -> list[str]:
        return self.branches["control"]

    @property
    def primary(self) -> str:
        return self.control_chain[0]

    @property
    def fallback(self) -> str:
        return self.control_chain[1]


def route(routing: dict[str, Any], task: str) -> Route:
    entry = routing["tasks"][task]
    targets = {t["model"]: target_label(t) for t in entry["targets"]}
    branches: dict[str, list[str]] = {}
    shares: dict[str, float] = {}
    for branch in entry["traffic"]:
        # A loadbalanced tier lists several "control" branches; the first one is the primary's.
        branches.setdefault(branch["branch"], [targets[name] for name in branch["chain"]])
        shares[branch["branch"]] = shares.get(branch["branch"], 0.0) + branch["percent"] / 100
    return Route(task, entry["tier"], targets, branches, shares, list(entry.get("experiments") or []))


def tasks_of_tier(routing: dict[str, Any], tier: str) -> list[str]:
    return [task for task in gateway_tasks(routing) if routing["tasks"][task].get("tier") == tier]


def cached_tasks(routing: dict[str, Any]) -> list[str]:
    return [
        task
        for task in gateway_tasks(routing)
        if (routing["tasks"][task].get("cache") or {}).get("mode", "off") != "off"
    ]


def unique_body(task: str, label: str = "e2e", stream: bool = False) -> dict[str, Any]:
    """``local.client.chat_body`` with a prompt never sent before, so no test meets another's cache entry."""
    return chat_body(task, f"{label} {uuid.uuid4().hex}", stream=stream)


@dataclass
class Stream:
    """A streamed answer as the client saw it."""

    status: int
    content_type: str
    data_lines: list[str]
    text: str  # the concatenated content deltas
    first_byte_seconds: float
    seconds: float

    @property
    def done(self) -> bool:
        return bool(self.data_lines) and self.data_lines[-1] == "data: [DONE]"

    @property
    def target(self) -> str | None:
        return self.text.removeprefix(SERVED_BY_MARKER) if self.text.startswith(SERVED_BY_MARKER) else None


def post_stream(client: httpx.Client, body: dict[str, Any], headers: dict[str, str] | None = None) -> Stream:
    """Send ``body`` (``stream: true``) and read the SSE answer line by line, as it arrives."""
    assert body.get("stream") is True
    started = time.perf_counter()
    first_byte = 0.0
    lines: list[str] = []
    with client.stream("POST", CHAT_PATH, json=body, headers=headers) as response:
        for line in response.iter_lines():
            if not first_byte:
                first_byte = time.perf_counter() - started
            if line.startswith("data: "):
                lines.append(line)
        status, content_type = response.status_code, response.headers.get("content-type", "")
    text = ""
    for line in lines:
        if line == "data: [DONE]":
            continue
        chunk = json.loads(line.removeprefix("data: "))
        for choice in chunk.get("choices") or []:
            text += (choice.get("delta") or {}).get("content") or ""
    return Stream(status, content_type, lines, text, first_byte, time.perf_counter() - started)


def binomial_bounds(n: int, p: float, false_failure: float) -> tuple[int, int]:
    """The narrowest [lo, hi] with P(X < lo) and P(X > hi) each at most ``false_failure / 2``, X ~ Bin(n, p).

    Exact tails (no normal approximation): a correct gateway fails the test with probability at most
    ``false_failure``.
    """

    def pmf(k: int) -> float:
        log = math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
        return math.exp(log + k * math.log(p) + (n - k) * math.log1p(-p))

    half = false_failure / 2
    lo, tail = 0, 0.0
    while lo <= n and tail + pmf(lo) <= half:
        tail += pmf(lo)
        lo += 1
    hi, tail = n, 0.0
    while hi >= 0 and tail + pmf(hi) <= half:
        tail += pmf(hi)
        hi -= 1
    return lo, hi
