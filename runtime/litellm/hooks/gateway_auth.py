"""LiteLLM's ``general_settings.custom_auth`` hook: who may call the gateway, and what.

The proxy calls :func:`user_api_key_auth` for every authenticated route, before its own key check,
which this hook replaces: without a database LiteLLM answers a wrong key with ``400 No connected
db.``. The decisions are :mod:`gateway_policy`'s; this module turns them into LiteLLM's types. A
:class:`ProxyException` keeps its status and becomes an OpenAI-shaped error body (Anthropic-shaped on
``/v1/messages``).

LiteLLM executes this file by path, not as part of a package (``get_instance_fn``): the folder is on
PYTHONPATH for the sibling module (runtime/engines.py ``hooks_import_dir``).
"""

from __future__ import annotations

import os
from pathlib import Path

# LiteLLM executes this file by path, not as part of a package: the deployment puts this folder on
# PYTHONPATH (runtime/engines.py ``hooks_import_dir``), which makes the sibling module importable.
import gateway_policy
from fastapi import Request
from litellm.proxy._types import LitellmUserRoles, ProxyException, UserAPIKeyAuth
from litellm.proxy.common_utils.http_parsing_utils import _read_request_body

HOOKS_DIR = Path(__file__).resolve().parent

# routing.json sits one folder above litellm/config.yaml in the generated tree and the ConfigMap.
CONTRACT = gateway_policy.ClientContract.load(HOOKS_DIR.parent / "routing.json", os.environ)


def _proxy_exception(refusal: gateway_policy.Refusal) -> ProxyException:
    return ProxyException(message=refusal.message, type=refusal.kind, param=refusal.param, code=refusal.status)


async def user_api_key_auth(request: Request, api_key: str | None) -> UserAPIKeyAuth:
    """The caller of ``request``; raises :class:`ProxyException` 401/403/404 for a refused one."""
    try:
        caller = CONTRACT.authenticate(api_key)
        CONTRACT.check_route(caller, request.method, request.url.path)
        if request.method == "POST" and request.url.path.rstrip("/") in gateway_policy.CLIENT_ROUTES:
            # Parsed once and kept on the request: the proxy reads the same parsed body after this hook.
            body = await _read_request_body(request)
            CONTRACT.check_task(caller, body.get("model") if isinstance(body, dict) else None)
    except gateway_policy.Refusal as refusal:
        raise _proxy_exception(refusal) from None
    if caller.is_admin:
        return UserAPIKeyAuth(
            api_key=caller.key_id, user_id="admin", key_alias="admin", user_role=LitellmUserRoles.PROXY_ADMIN
        )
    # `models` filters GET /v1/models to the application's tasks; `key_alias` labels its requests in
    # logs and metrics; `api_key` is the key's hash, never the key.
    return UserAPIKeyAuth(
        api_key=caller.key_id,
        user_id=caller.name,
        key_alias=caller.name,
        models=sorted(caller.tasks or ()),
        user_role=LitellmUserRoles.INTERNAL_USER,
        metadata={"application": caller.name},
    )
