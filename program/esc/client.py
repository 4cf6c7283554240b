"""An ESC client from the Pulumi CLI's credentials, stored definitions, one-line errors.

Credentials are the ones the Pulumi CLI and its providers use: ``PULUMI_ACCESS_TOKEN`` (CI), else the
token of the current login in ``~/.pulumi/credentials.json``; the service is ``PULUMI_BACKEND_URL``
(default Pulumi Cloud). The SDK appends ``/api/esc`` to the host itself.

Definitions are read as ESC stores them: ``GET /environments/{org}/{project}/{env}`` returns the
YAML with every ``fn::secret`` as ``{ciphertext: …}``. They are parsed here from the raw answer
rather than through the SDK's model, which types ``environmentVariables`` as strings only and
rejects a definition with ``fn::secret`` there. Nothing in this module decrypts a secret.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pulumi_esc_sdk as esc
import yaml
from pulumi_esc_sdk.exceptions import ApiException
from urllib3.exceptions import HTTPError

ACCESS_TOKEN_ENV = "PULUMI_ACCESS_TOKEN"
BACKEND_URL_ENV = "PULUMI_BACKEND_URL"
DEFAULT_BACKEND_URL = "https://api.pulumi.com"
CREDENTIALS_FILE = Path.home() / ".pulumi" / "credentials.json"
# Never more of an error body than this: it stays one readable line.
_MESSAGE_LIMIT = 200

T = TypeVar("T")


class EscError(Exception):
    """An ESC call failed, or there are no credentials; the message is one line and names no secret."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def backend_url() -> str:
    return os.environ.get(BACKEND_URL_ENV) or DEFAULT_BACKEND_URL


def access_token(credentials_file: Path | None = None) -> str:
    """The token the Pulumi CLI uses: the environment's, else the current login's."""
    token = os.environ.get(ACCESS_TOKEN_ENV)
    if token:
        return token
    try:
        stored = json.loads((credentials_file or CREDENTIALS_FILE).read_text())
        current = stored.get("current")
        token = (stored.get("accessTokens") or {}).get(current) if current else None
    except (OSError, ValueError, AttributeError):
        token = None
    if not token:
        raise EscError(f"no Pulumi Cloud credentials: set {ACCESS_TOKEN_ENV} or run `pulumi login`")
    return str(token)


def client(url: str | None = None, token: str | None = None) -> esc.EscClient:
    configuration = esc.Configuration(host=url or backend_url(), access_token=token or access_token())
    return esc.EscClient(configuration)


def _reason(body: str | None, fallback: str | None) -> str:
    try:
        parsed = json.loads(body or "")
        message = parsed.get("message") if isinstance(parsed, dict) else None
    except ValueError:
        message = None
    return " ".join(str(message or fallback or "").split())[:_MESSAGE_LIMIT]


def _failure(status: int, reason: str, action: str, target: str) -> EscError:
    hint = {
        401: f"the Pulumi access token was refused: set {ACCESS_TOKEN_ENV} or run `pulumi login`",
        403: "the token may not do this: it needs write access to the ESC project llm-gateway",
        404: "it does not exist",
    }.get(status, "Pulumi Cloud failed: try again" if status >= 500 else "see the message")
    return EscError(f"ESC API {status} ({reason}) on {action} {target}: {hint}", status=status)


def call(action: str, target: str, request: Callable[[], T]) -> T:
    """Run one SDK request; an API or network failure becomes an :class:`EscError` (no SDK traceback)."""
    try:
        return request()
    except ApiException as error:
        failure = _failure(int(error.status or 0), _reason(error.body, error.reason), action, target)
    except HTTPError as error:
        failure = EscError(f"ESC unreachable on {action} {target} ({type(error).__name__}): check {BACKEND_URL_ENV}")
    raise failure from None


def stored_definition(esc_client: esc.EscClient, org: str, project: str, name: str) -> dict[str, Any] | None:
    """The environment's definition as ESC stores it (secrets as ciphertext), or None if it does not exist."""
    target = f"environment {org}/{project}/{name}"
    response = call(
        "read", target, lambda: esc_client.esc_api.get_environment_without_preload_content(org, project, name)
    )
    if response.status == 404:
        return None
    if response.status >= 400:
        raise _failure(
            response.status, _reason(response.data.decode("utf-8", "replace"), response.reason), "read", target
        )
    try:
        document = yaml.safe_load(response.data.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError):
        raise EscError(f"ESC answered read {target} with something that is not a YAML definition") from None
    return document if isinstance(document, dict) else {}
