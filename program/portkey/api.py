"""The Portkey admin API as the dynamic providers call it: one SDK client per call, one-line errors.

Every call goes through the official ``portkey-ai`` SDK (its ``integrations``, ``providers`` and
``configs`` clients; the generic ``get``/``post``/``put``/``delete`` for the policies it has no
client for). What this module adds:

- **Errors a person can act on.** The SDK raises ``APIStatusError`` subclasses whose message is
  the raw body; Portkey's admin errors are ``{"success": false, "data": {"message", "errorCode"}}``.
  :class:`PortkeyApiError` is one line: the HTTP status, Portkey's code and message, the resource,
  and what to do. It is raised ``from None``, so the engine shows no SDK traceback.
- **Creates that never duplicate.** The SDK retries any request once on a 5xx or a dropped
  connection, POST included, and Portkey's creates are not idempotent: a create whose answer was
  lost would be sent again. :meth:`AdminSession.create_once` disables the SDK's retry for the POST
  and looks the resource up (by slug or name) before it posts again.
- **No client objects outlive a call.** A ``Portkey`` client holds an SSL context and cannot be
  pickled, and the dynamic providers are pickled into the state: clients are built per call.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from portkey_ai import Portkey
from portkey_ai.api_resources.exceptions import APIConnectionError, APIStatusError, APITimeoutError

# The stack setting that holds the admin API key (a secret from ESC); the providers read it in
# `configure`, so it is never a resource property and never pickled into the state.
ADMIN_KEY_SETTING = "llm-gateway:portkeyAdminKey"
DEFAULT_BASE_URL = "https://api.portkey.ai/v1"
# The SDK's default is 5 s; the admin API answers in well under a second, but a slow control plane
# must not fail a `pulumi up` half-way.
TIMEOUT_SECONDS = 30.0
# Portkey error messages are short; anything longer is cut so an error stays one readable line.
_MESSAGE_LIMIT = 200

T = TypeVar("T")


class PortkeyApiError(Exception):
    """A Portkey admin API call failed; the message is one line naming the status, resource and fix."""

    def __init__(self, message: str, status: int | None = None, error_code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code

    @property
    def retryable(self) -> bool:
        """The answer may have been lost after the server acted: a 5xx, a timeout, a dropped connection."""
        return self.status is None or self.status >= 500


def _what_to_do(status: int, resource: str) -> str:
    if status == 401:
        return (
            f"the admin API key was refused: set a valid one in ESC ({ADMIN_KEY_SETTING} comes from "
            "portkey.adminKey in llm-gateway/<env>) and run pulumi up again"
        )
    if status == 402:
        return "the Portkey plan does not include this (budgets and policies need Enterprise): see docs/deploy.md"
    if status == 403:
        return (
            "the admin key lacks the scope for this (it needs integrations, providers, configs and policies "
            f"scopes); if the {resource} was deleted in Portkey, `pulumi refresh` drops it from the state"
        )
    if status == 404:
        return f"the {resource} does not exist in Portkey: `pulumi refresh` to drop it from the state, then pulumi up"
    if status == 409:
        return f"a {resource} with this identity already exists in Portkey: see docs/deploy.md, 'Adopting'"
    if status == 429:
        return "Portkey rate-limited the admin key: wait a minute and run pulumi up again"
    if status >= 500:
        return "Portkey failed on its side: run pulumi up again (creates are looked up first, never duplicated)"
    return "Portkey rejected the request: fix the value it names in gateway_config/routing.yaml or the stack settings"


def _portkey_error(body: Any) -> tuple[str | None, str]:
    """Portkey's admin error shape `{"success": false, "data": {"errorCode", "message"}}` (or a bare message)."""
    if not isinstance(body, dict):
        return None, str(body or "")
    data = body["data"] if isinstance(body.get("data"), dict) else body
    error = body["error"] if isinstance(body.get("error"), dict) else {}
    code = data.get("errorCode") or data.get("code") or error.get("code")
    message = data.get("message") or error.get("message") or ""
    return (str(code) if code else None, str(message))


def status_error(error: APIStatusError, action: str, resource: str) -> PortkeyApiError:
    """One line for an HTTP error answer of the admin API."""
    try:
        body: Any = error.response.json()
    except ValueError:
        body = error.response.text
    code, message = _portkey_error(body)
    message = " ".join(message.split())[:_MESSAGE_LIMIT]
    detail = f" ({code}: {message})" if code and message else f" ({message or code})" if message or code else ""
    status = error.status_code
    return PortkeyApiError(
        f"Portkey API {status}{detail} on {action} {resource}: {_what_to_do(status, resource)}",
        status=status,
        error_code=code,
    )


@dataclass(frozen=True)
class AdminSession:
    """What one CRUD call needs to reach the admin API: where, with which key, about which resource."""

    base_url: str
    admin_key: str | None
    resource: str  # e.g. "integration 'llm-gateway-prod-openai'", for messages

    def _client(self, retries: bool) -> Portkey:
        if not self.admin_key:
            raise PortkeyApiError(
                f"cannot manage {self.resource}: {ADMIN_KEY_SETTING} is not set (the Portkey admin API key "
                "comes from ESC: esc env set llm-gateway/<env> portkey.adminKey --secret --string --file - < <file>)"
            )
        client = Portkey(
            api_key=self.admin_key,
            base_url=self.base_url,
            http_client=httpx.Client(base_url=self.base_url, timeout=TIMEOUT_SECONDS),
        )
        if not retries:
            client.max_retries = 0
        return client

    def call(self, action: str, request: Callable[[Portkey], T], retries: bool = True) -> T:
        """Run one SDK request; any failure becomes a :class:`PortkeyApiError` (no SDK traceback)."""
        client = self._client(retries)
        try:
            return request(client)
        except APIStatusError as error:
            failure = status_error(error, action, self.resource)
        except APITimeoutError:
            failure = PortkeyApiError(
                f"Portkey API timed out after {TIMEOUT_SECONDS:g} s on {action} {self.resource} ({self.base_url}): "
                "run pulumi up again (creates are looked up first, never duplicated)"
            )
        except APIConnectionError as error:
            reason = " ".join(str(error.__cause__ or error).split())[:_MESSAGE_LIMIT]
            failure = PortkeyApiError(
                f"Portkey API unreachable on {action} {self.resource} ({self.base_url}: {reason}): check "
                "llm-gateway:portkeyBaseUrl and the network, then run pulumi up again"
            )
        except (ValueError, KeyError) as error:
            # The SDK parses every answer as a JSON object: a proxy's HTML page or an empty body lands here.
            failure = PortkeyApiError(
                f"Portkey API answered {action} {self.resource} with something that is not the admin API's JSON "
                f"({type(error).__name__}): check llm-gateway:portkeyBaseUrl ({self.base_url}) ends in /v1"
            )
        finally:
            client.close()
        raise failure from None

    def get_or_none(self, action: str, request: Callable[[Portkey], T]) -> T | None:
        """A read where 404 means "not there" rather than an error."""
        try:
            return self.call(action, request)
        except PortkeyApiError as error:
            if error.status == 404:
                return None
            raise

    def delete(self, request: Callable[[Portkey], object]) -> None:
        """A delete where 404 means "already gone", which is what was asked for."""
        self.get_or_none("delete", request)

    def create_once(self, post: Callable[[Portkey], str], find: Callable[[], str | None]) -> str:
        """POST a create without the SDK's blind retry; if the answer was lost, look before posting again.

        ``post`` returns the new resource's identity (slug or id); ``find`` returns the identity of
        the resource if it exists already (by slug or unique name), else None.
        """
        failure: PortkeyApiError | None = None
        for _attempt in (1, 2):
            try:
                return self.call("create", post, retries=False)
            except PortkeyApiError as error:
                if not error.retryable:
                    raise
                failure = error
            # Outside the `except`: an error of the look-up must not print the create's as its context.
            found = find()
            if found is not None:
                return found
        assert failure is not None
        raise failure


def model_dict(response: Any) -> dict[str, Any]:
    """An SDK response model (pydantic, extra fields kept) as a plain dict."""
    data: dict[str, Any] = response.model_dump() if hasattr(response, "model_dump") else dict(response)
    return data


def json_object(value: Any) -> dict[str, Any]:
    """Portkey returns a saved config's body as a JSON string; older answers as an object."""
    if isinstance(value, str):
        parsed: dict[str, Any] = json.loads(value)
        return parsed
    return dict(value or {})
