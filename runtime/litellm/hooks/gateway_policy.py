"""The gateway's contract with its clients, as plain decisions (docs/client-api.md).

Who may call (the master key for administrators, one key per application), which routes and tasks a
key may use, which request bodies are refused before they reach the router, and what a client is told
when a route's budget is spent. Standard library only: the LiteLLM adapters (``gateway_auth.py``,
``gateway_hooks.py``, in this folder) turn these decisions into the engine's types, and the tests run
them without the engine. The three files ship next to the generated ``litellm/config.yaml``; the facts
come from the generated ``routing.json`` one folder up and the keys from the environment.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

MASTER_KEY_ENV = "LITELLM_MASTER_KEY"
CLIENT_API = "docs/client-api.md"

# The API surface an application key may call (method, path); the admin key keeps every route.
CLIENT_ROUTES: Mapping[str, str] = {
    "/v1/chat/completions": "POST",
    "/chat/completions": "POST",
    "/v1/messages": "POST",
    "/v1/models": "GET",
    "/models": "GET",
}
SURFACE = "POST /v1/chat/completions (streaming too), POST /v1/messages and GET /v1/models"
EMBEDDING_ROUTES = frozenset({"/v1/embeddings", "/embeddings"})

# Request fields that would let one client change how the gateway routes or calls providers: the route's
# retry budget, its fallbacks and the gateway's provider keys belong to the routing spec.
ROUTE_OWNED_FIELDS: Mapping[str, str] = {
    "num_retries": "the retry budget is the route's (routing.json: tasks.<task>.retry); "
    "the x-litellm-num-retries header is refused for the same reason",
    "fallbacks": "fallbacks are the route's (routing.json: tasks.<task>.targets)",
    "context_window_fallbacks": "fallbacks are the route's (routing.json: tasks.<task>.targets)",
    "content_policy_fallbacks": "fallbacks are the route's (routing.json: tasks.<task>.targets)",
    "api_key": "the gateway calls providers with its own keys",
}
CHAT_CALL_TYPES = frozenset({"completion", "acompletion", "anthropic_messages"})

TRACEBACK_MARKER = "Traceback (most recent call last)"
# Absolute paths of this machine or the image (source files, site-packages, work folders): an error
# body must not map the gateway's file system for a client.
LOCAL_PATH = re.compile(
    r"""(?<![\w.:/])/(?:usr|home|tmp|work|app|etc|opt|root|var|srv|mnt|lib|nix|private|Users)(?:/[^\s'"(),;:]+)+"""
)
SOURCE_LINE = re.compile(r"""\s*File "[^"]*", line \d+.*""")

FailureKind = Literal["cooling", "timeout", "unavailable", "failed"]


class Refusal(Exception):
    """A request the gateway refuses: HTTP status, message, OpenAI/Anthropic error type, offending field."""

    def __init__(self, status: int, message: str, kind: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.kind = kind
        self.param = param


def key_id(key: str) -> str:
    """What logs and spend records carry instead of a key (LiteLLM's own token hash is sha256 too)."""
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class Caller:
    """Who sent a request: an application (``tasks`` it may use) or an administrator (``tasks`` None)."""

    name: str
    tasks: frozenset[str] | None
    key_id: str

    @property
    def is_admin(self) -> bool:
        return self.tasks is None


@dataclass(frozen=True)
class ClientContract:
    """The facts the hooks decide by: the gateway's tasks, the Cortex ones, and who holds which key."""

    gateway_tasks: frozenset[str]
    # task → how to run it in Snowflake instead (`SNOWFLAKE.CORTEX.EMBED_TEXT_768('<model>', <text>)`)
    cortex_tasks: Mapping[str, str]
    applications: Mapping[str, frozenset[str]]
    # key_id(key) → application
    application_keys: Mapping[str, str]
    master_key: str

    @classmethod
    def load(cls, routing_path: Path, environ: Mapping[str, str]) -> ClientContract:
        """From the generated ``routing.json`` and the process environment (keys are read once, at start)."""
        routing: dict[str, Any] = json.loads(routing_path.read_text(encoding="utf-8"))
        tasks: dict[str, Any] = routing["tasks"]
        applications: dict[str, Any] = routing.get("applications") or {}
        keys: dict[str, str] = {}
        for name, application in applications.items():
            key = environ.get(application["key_env"], "")
            if key:
                keys[key_id(key)] = name
            else:
                print(
                    f"llm-gateway: application {name!r} has no key ({application['key_env']} is unset); "
                    "its requests will be refused",
                    file=sys.stderr,
                )
        return cls(
            gateway_tasks=frozenset(name for name, task in tasks.items() if task.get("route") == "gateway"),
            cortex_tasks={
                name: f"{task['cortex']['function']}('{task['cortex']['model']}', <text>)"
                for name, task in tasks.items()
                if task.get("route") == "snowflake_cortex"
            },
            applications={name: frozenset(app["tasks"]) for name, app in applications.items()},
            application_keys=keys,
            master_key=environ.get(MASTER_KEY_ENV, ""),
        )

    # --- who ----------------------------------------------------------------------------------------

    def authenticate(self, api_key: str | None) -> Caller:
        """The caller a key belongs to; :class:`Refusal` 401 for a missing or unknown key (never echoed)."""
        if not api_key:
            raise Refusal(
                401,
                "No API key. Send your application's key as 'Authorization: Bearer <key>' (the OpenAI and "
                f"Portkey SDKs' api_key) or 'x-api-key' (the Anthropic SDK); see {CLIENT_API}.",
                "authentication_error",
            )
        if self.master_key and hmac.compare_digest(api_key.encode(), self.master_key.encode()):
            return Caller("admin", None, key_id(api_key))
        application = self.application_keys.get(key_id(api_key))
        if application is None:
            raise Refusal(
                401,
                f"Invalid API key. Each application has its own key (routing.json: applications); see {CLIENT_API}.",
                "authentication_error",
            )
        return Caller(application, self.applications[application], key_id(api_key))

    # --- what ---------------------------------------------------------------------------------------

    def embeddings_answer(self) -> str:
        where = "; ".join(f"task '{task}': SELECT {call}" for task, call in sorted(self.cortex_tasks.items()))
        return (
            "Embeddings are not served by this gateway: they run in Snowflake Cortex, next to the data "
            f"({where or 'no Cortex task is defined'}). routing.json lists each task's route and function."
        )

    def check_route(self, caller: Caller, method: str, path: str) -> None:
        """:class:`Refusal` 404 for a route outside the client surface (administrators keep every route)."""
        path = path.rstrip("/") or "/"
        if path in EMBEDDING_ROUTES:
            raise Refusal(404, self.embeddings_answer(), "not_found_error")
        if caller.is_admin or path in CLIENT_ROUTES:
            return
        raise Refusal(
            404,
            f"{method} {path} is not served by this gateway. It serves {SURFACE}; see {CLIENT_API}.",
            "not_found_error",
        )

    def check_task(self, caller: Caller, task: object) -> None:
        """:class:`Refusal` for a task the gateway does not route (404) or the caller may not use (403).

        No ``model`` at all is left to the engine, which names the missing field."""
        if task is None:
            return
        if not isinstance(task, str):
            raise Refusal(
                400,
                "'model' must be a string: the name of a task (GET /v1/models lists them).",
                "invalid_request_error",
                "model",
            )
        if task in self.cortex_tasks:
            raise Refusal(
                404,
                f"Task '{task}' is not served by this gateway: it runs in Snowflake Cortex, next to the data: "
                f"SELECT {self.cortex_tasks[task]} (routing.json: tasks.{task}).",
                "not_found_error",
                "model",
            )
        if task not in self.gateway_tasks:
            raise Refusal(
                404,
                f"Unknown task '{task}'. Name a task in 'model'; GET /v1/models lists the tasks this key may use.",
                "not_found_error",
                "model",
            )
        if caller.tasks is not None and task not in caller.tasks:
            raise Refusal(
                403,
                f"Application '{caller.name}' may not use task '{task}'; it may use {_names(caller.tasks)}. "
                f"The tasks of an application are listed in gateway_config/routing.yaml (applications.{caller.name}).",
                "permission_error",
                "model",
            )


def _names(names: Iterable[str]) -> str:
    return ", ".join(f"'{name}'" for name in sorted(names))


# --- request bodies --------------------------------------------------------------------------------


def check_body(data: Mapping[str, Any], call_type: str) -> None:
    """:class:`Refusal` 400 naming the field, for a body the router would turn into a confusing error
    (or a traceback), and for fields that belong to the route rather than to one client."""
    for field, reason in ROUTE_OWNED_FIELDS.items():
        if data.get(field) is not None:
            raise Refusal(400, f"'{field}' is not accepted: {reason}.", "invalid_request_error", field)
    if call_type not in CHAT_CALL_TYPES:
        return
    _check_messages(data.get("messages"))
    tools = data.get("tools")
    if tools is not None and not (isinstance(tools, list) and all(isinstance(tool, dict) for tool in tools)):
        raise Refusal(400, "'tools' must be a list of tool objects.", "invalid_request_error", "tools")
    response_format = data.get("response_format")
    if response_format is not None and not isinstance(response_format, dict):
        raise Refusal(
            400,
            '\'response_format\' must be an object, e.g. {"type": "json_object"}.',
            "invalid_request_error",
            "response_format",
        )


def _check_messages(messages: object) -> None:
    shape = "a non-empty list of message objects ({'role': 'user', 'content': '...'})"
    if messages is None:
        return  # the engine answers "Missing required parameter: 'messages'"
    if not isinstance(messages, list) or not messages:
        raise Refusal(400, f"'messages' must be {shape}.", "invalid_request_error", "messages")
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            raise Refusal(
                400, f"'{where}' must be a message object, not {_kind(message)}.", "invalid_request_error", where
            )
        if not isinstance(message.get("role"), str):
            raise Refusal(400, f"'{where}.role' must be a string.", "invalid_request_error", f"{where}.role")
        content = message.get("content")
        if content is None or isinstance(content, str):
            continue
        if not isinstance(content, list) or not all(isinstance(part, dict) for part in content):
            raise Refusal(
                400,
                f"'{where}.content' must be a string or a list of content parts ({{'type': 'text', 'text': '...'}}).",
                "invalid_request_error",
                f"{where}.content",
            )


def _kind(value: object) -> str:
    return {str: "a string", int: "a number", float: "a number", bool: "a boolean", list: "a list"}.get(
        type(value), type(value).__name__
    )


# --- error bodies ----------------------------------------------------------------------------------


def has_internals(message: str) -> bool:
    """True when an error message carries a traceback or a local path."""
    return TRACEBACK_MARKER in message or bool(SOURCE_LINE.search(message)) or bool(LOCAL_PATH.search(message))


def scrub(message: str) -> str:
    """The message without its traceback, source lines and local paths."""
    message = message.split(TRACEBACK_MARKER, 1)[0]
    message = SOURCE_LINE.sub("", message)
    message = LOCAL_PATH.sub("<path>", message)
    return message.strip() or "The request failed inside the gateway."


@dataclass(frozen=True)
class FailureAnswer:
    """What a client gets when a route's budget is spent: status, message, response headers."""

    status: int
    message: str
    kind: str
    headers: Mapping[str, str]


def upstream_failure(
    task: str,
    kind: FailureKind,
    targets: Sequence[str],
    last_target: str | None,
    last_error: str,
    retry_after_seconds: int | None = None,
) -> FailureAnswer:
    """The answer for a request whose every target failed, timed out or is cooling down.

    502 (targets answered with errors), 503 (targets overloaded or cooling down: retry later), 504 (no
    target answered in time). The gateway already retried within the route's budget, so the SDKs are
    told not to repeat the request: ``x-should-retry: false`` (openai, anthropic) and
    ``x-portkey-gateway-exception: true`` (portkey-ai retries a 5xx unless the gateway itself raised it);
    ``retry-after`` says when a cooling target is tried again. Names the task and its targets (deployment
    ids), never a key or a provider URL.
    """
    tried = ", ".join(targets) or "none"
    last = f"; last: {last_error} from {last_target}" if last_target else f"; last: {last_error}"
    headers = {"x-should-retry": "false", "x-portkey-gateway-exception": "true"}
    if kind == "cooling":
        wait = max(1, retry_after_seconds or 1)
        headers["retry-after"] = str(wait)
        return FailureAnswer(
            503,
            f"Task '{task}': every target ({tried}) is cooling down after upstream failures; retry after {wait} s.",
            "service_unavailable",
            headers,
        )
    if kind == "timeout":
        return FailureAnswer(
            504,
            f"Task '{task}': no target answered in time (targets {tried}{last}); the route's retries are spent.",
            "gateway_timeout",
            headers,
        )
    status, what = (503, "unavailable") if kind == "unavailable" else (502, "failing")
    return FailureAnswer(
        status,
        f"Task '{task}': every target is {what} (targets {tried}{last}); the route's retries are spent.",
        "service_unavailable" if status == 503 else "bad_gateway",
        headers,
    )
