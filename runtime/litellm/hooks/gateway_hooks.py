"""LiteLLM callback (``litellm_settings.callbacks``): request validation and the errors clients get.

- Before the router sees a request: a body the router would answer with a confusing error or a Python
  traceback (``"messages": "hello"``) gets a 400 naming the field, and fields that belong to the route
  (``num_retries``, ``fallbacks``, ``api_key``) are refused (:func:`gateway_policy.check_body`).
- When a request fails: a route whose every target failed, timed out or is cooling down answers
  502/503/504 naming the task and its targets; any other error body loses its traceback and local
  paths. A local translation failure (``APIConnectionError``) keeps its status. LiteLLM's
  ``/v1/messages`` endpoint ignores this hook's answer (it builds its own Anthropic-shaped body), so
  there only the validation above applies (docs/client-api.md).

LiteLLM dispatches a hook only if it is defined on the registered object's own class
(``"async_pre_call_hook" in vars(type(callback))``): both are defined here, on the leaf class.
"""

from __future__ import annotations

import math
from typing import Any

# LiteLLM executes this file by path, not as part of a package: the deployment puts this folder on
# PYTHONPATH (runtime/engines.py ``hooks_import_dir``), which makes the sibling module importable.
import gateway_policy
import litellm
from fastapi import HTTPException
from litellm.integrations.custom_logger import CustomLogger
from litellm.proxy._types import ProxyException, UserAPIKeyAuth
from litellm.types.router import RouterRateLimitError


class GatewayError(HTTPException):
    """An HTTPException that carries the OpenAI error ``type`` and ``param`` LiteLLM puts in the body."""

    def __init__(self, status: int, message: str, kind: str, param: str | None = None, headers: Any = None) -> None:
        super().__init__(status_code=status, detail=message, headers=headers)
        self.type = kind
        self.param = param


def failure_kind(error: Exception) -> gateway_policy.FailureKind | None:
    """How a route's budget was spent, from LiteLLM's exception class; None for anything else.

    By class, never by status: a local translation failure is an ``APIConnectionError`` with status 500."""
    if isinstance(error, RouterRateLimitError):
        return "cooling"
    if isinstance(error, litellm.Timeout):
        return "timeout"
    if isinstance(error, litellm.RateLimitError | litellm.ServiceUnavailableError):
        return "unavailable"
    if isinstance(error, litellm.InternalServerError | litellm.BadGatewayError):
        return "failed"
    return None


def _task_targets(task: str) -> list[str]:
    """The task's deployment ids (``chat/gpt-4o-mini``, …), from the running router."""
    from litellm.proxy.proxy_server import llm_router

    if llm_router is None:
        return []
    return [str(deployment["model_info"]["id"]) for deployment in llm_router.get_model_list(model_name=task) or []]


def _last_target(request_data: dict[str, Any], error: Exception) -> str | None:
    failed = getattr(error, "failed_deployment_id", None)
    if failed:
        return str(failed)
    metadata = request_data.get("metadata") or request_data.get("litellm_metadata") or {}
    previous = [entry for entry in metadata.get("previous_models") or [] if isinstance(entry, dict)]
    return str(previous[-1].get("deployment_id")) if previous and previous[-1].get("deployment_id") else None


def _has_attribute_error(error: BaseException) -> bool:
    # LiteLLM answers 400 "Invalid request format" when the chain holds an AttributeError (a body it
    # could not read): the cleaned answer keeps that status.
    seen: set[int] = set()
    stack: list[BaseException] = [error]
    while stack and len(seen) < 20:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, AttributeError):
            return True
        for attribute in ("__cause__", "__context__", "original_exception"):
            inner = getattr(current, attribute, None)
            if isinstance(inner, BaseException):
                stack.append(inner)
    return False


class GatewayHooks(CustomLogger):
    async def async_pre_call_hook(
        self, user_api_key_dict: UserAPIKeyAuth, cache: Any, data: dict[str, Any], call_type: str
    ) -> dict[str, Any]:
        try:
            gateway_policy.check_body(data, str(call_type))
        except gateway_policy.Refusal as refusal:
            raise ProxyException(
                message=refusal.message, type=refusal.kind, param=refusal.param, code=refusal.status
            ) from None
        return data

    async def async_post_call_failure_hook(
        self,
        request_data: dict[str, Any],
        original_exception: Exception,
        user_api_key_dict: UserAPIKeyAuth,
        traceback_str: str | None = None,
    ) -> HTTPException | None:
        error = original_exception
        if isinstance(error, ProxyException | HTTPException):
            return None  # the auth hook's and the validation's own answers
        kind = failure_kind(error)
        task = request_data.get("model")
        if kind is not None and isinstance(task, str):
            wait = math.ceil(float(getattr(error, "cooldown_time", 0) or 0)) or None
            # The class and status only: a provider's message may quote the request or name its URL.
            status = getattr(error, "status_code", None)
            last_error = f"{type(error).__name__}" + (f" {status}" if isinstance(status, int) else "")
            answer = gateway_policy.upstream_failure(
                task, kind, _task_targets(task), _last_target(request_data, error), last_error, wait
            )
            return GatewayError(answer.status, answer.message, answer.kind, headers=dict(answer.headers))
        message = str(getattr(error, "message", error))
        if not gateway_policy.has_internals(message):
            return None
        status = getattr(error, "status_code", None)
        if _has_attribute_error(error):
            status = 400
        if not isinstance(status, int) or not 400 <= status <= 599:
            status = 500
        kind_name = "invalid_request_error" if status < 500 else "internal_server_error"
        return GatewayError(status, gateway_policy.scrub(message), kind_name)


proxy_handler_instance = GatewayHooks()
