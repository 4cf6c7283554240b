"""A fake Portkey admin API on 127.0.0.1 that speaks Portkey's wire format, for the dynamic-provider tests.

Paths, bodies and error shapes follow Portkey's OpenAPI spec (``Portkey-AI/openapi``) and its admin
API error reference: every path is under ``/v1``, requests authenticate with ``x-portkey-api-key``,
errors are ``{"success": false, "data": {"message", "errorCode"}}`` (AB05 401, AB07 409, AB08 404,
AB01 400, AB04 500), every answer is a JSON object with ``content-type: application/json`` (the
SDK cannot parse anything else), a saved config's ``config`` comes back as a JSON *string*, a
provider's ``rate_limits`` as an array, and an integration's key never comes back (only
``masked_key``). Server-side rules the tests lean on: slugs are unique (409 AB07), a provider needs
an integration enabled for its workspace (400 AB01), and enabling an integration for a workspace
creates a default provider unless ``create_default_provider`` is false (as Portkey does).

Fault injection: :meth:`FakePortkeyAdmin.fail` makes the next matching request(s) answer an error,
either instead of acting or *after* acting (``after_effect``: the server did the work and the answer
was lost, which is what makes a retried POST dangerous). :attr:`requests` records every request
(method, path, body; never a header value).
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes.loopback import LoopbackServer, QuietHandler

ADMIN_KEY = "pk-admin-fake-4f1c2a"  # what the fake accepts; not a real key
ERRORS = {400: "AB01", 401: "AB05", 402: "AB09", 403: "AB03", 404: "AB08", 409: "AB07", 429: "AB06", 500: "AB04"}
SLUG = re.compile(r"^[a-zA-Z0-9_-]+$")


class ApiFailure(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Fault:
    method: str
    path_prefix: str
    status: int
    times: int
    after_effect: bool


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    body: Any


@dataclass
class FakeState:
    integrations: dict[str, dict[str, Any]] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)  # integration slug -> key (never returned)
    access: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # slug -> workspace -> entry
    providers: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # (workspace, slug)
    configs: dict[str, dict[str, Any]] = field(default_factory=dict)
    policies: dict[str, dict[str, Any]] = field(default_factory=dict)


def _now() -> str:
    return "2026-01-01T00:00:00.000Z"


class FakePortkeyAdmin(LoopbackServer):
    """The fake server: start(), base_url, state to inspect or change behind the program's back."""

    def __init__(self, admin_key: str = ADMIN_KEY) -> None:
        super().__init__()
        self.handler = _Handler
        self.admin_key = admin_key
        self.state = FakeState()
        self.requests: list[RecordedRequest] = []
        self.faults: list[Fault] = []
        self.lock = threading.RLock()

    @property
    def base_url(self) -> str:
        return f"{self.origin}/v1"

    # --- test controls ----------------------------------------------------------------------------

    def fail(self, method: str, path_prefix: str, status: int, times: int = 1, after_effect: bool = False) -> None:
        with self.lock:
            self.faults.append(Fault(method, path_prefix, status, times, after_effect))

    def count(self, method: str, path: str) -> int:
        return sum(1 for r in self.requests if r.method == method and r.path == path)

    def integration_key(self, slug: str) -> str:
        return self.state.keys[slug]

    # --- dispatch ---------------------------------------------------------------------------------

    def _fault_for(self, method: str, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.method == method and path.startswith(fault.path_prefix) and fault.times > 0:
                fault.times -= 1
                return fault
        return None

    def handle(self, method: str, path: str, query: dict[str, str], body: Any, key: str | None) -> tuple[int, Any]:
        with self.lock:
            self.requests.append(RecordedRequest(method, path, query, body))
            if key != self.admin_key:
                raise ApiFailure(401, "Unauthorized access: invalid or missing x-portkey-api-key")
            fault = self._fault_for(method, path)
            if fault is not None and not fault.after_effect:
                raise ApiFailure(fault.status, "Something went wrong")
            result = self._route(method, path, query, body)
            if fault is not None:
                raise ApiFailure(fault.status, "Something went wrong")
            return 200, result

    def _route(self, method: str, path: str, query: dict[str, str], body: Any) -> Any:
        parts = [part for part in path.removeprefix("/v1").split("/") if part]
        routes = {
            ("POST", "integrations", 1): lambda: self._create_integration(body),
            ("GET", "integrations", 1): lambda: self._list(self.state.integrations.values()),
            ("GET", "integrations", 2): lambda: self._get_integration(parts[1]),
            ("PUT", "integrations", 2): lambda: self._update_integration(parts[1], body),
            ("DELETE", "integrations", 2): lambda: self._delete_integration(parts[1]),
            ("GET", "integrations", 3): lambda: self._list_access(parts[1]),
            ("PUT", "integrations", 3): lambda: self._update_access(parts[1], body),
            ("POST", "providers", 1): lambda: self._create_provider(body),
            ("GET", "providers", 2): lambda: self._get_provider(query, parts[1]),
            ("PUT", "providers", 2): lambda: self._update_provider(query, parts[1], body),
            ("DELETE", "providers", 2): lambda: self._delete_provider(query, parts[1]),
            ("POST", "configs", 1): lambda: self._create_config(body),
            ("GET", "configs", 1): lambda: self._list_configs(query),
            ("GET", "configs", 2): lambda: self._get_config(parts[1]),
            ("PUT", "configs", 2): lambda: self._update_config(parts[1], body),
            ("DELETE", "configs", 2): lambda: self._delete_config(parts[1]),
        }
        if parts[:2] == ["policies", "usage-limits"]:
            return self._policy_route(method, parts[2:], query, body)
        handler = routes.get((method, parts[0] if parts else "", len(parts)))
        if handler is None:
            raise ApiFailure(404, f"Route not found: {method} {path}")
        return handler()

    @staticmethod
    def _list(items: Any) -> dict[str, Any]:
        data = list(items)
        return {"object": "list", "total": len(data), "data": data}

    # --- integrations -----------------------------------------------------------------------------

    def _create_integration(self, body: dict[str, Any]) -> dict[str, Any]:
        for required in ("name", "ai_provider_id"):
            if not body.get(required):
                raise ApiFailure(400, f'"{required}" is required')
        slug = body.get("slug") or f"{body['name'].lower()}-{secrets.token_hex(3)}"
        if not SLUG.match(slug):
            raise ApiFailure(400, '"slug" must match ^[a-zA-Z0-9_-]+$')
        if slug in self.state.integrations:
            raise ApiFailure(409, f"Integration with slug {slug} already exists")
        entry = {
            "id": str(uuid.uuid4()),
            "slug": slug,
            "name": body["name"],
            "description": body.get("description"),
            "ai_provider_id": body["ai_provider_id"],
            "status": "active",
            "created_at": _now(),
            "last_updated_at": _now(),
            "object": "integration",
        }
        self.state.integrations[slug] = entry
        self.state.keys[slug] = body.get("key", "")
        return {"id": entry["id"], "slug": slug}

    def _integration(self, slug: str) -> dict[str, Any]:
        if slug not in self.state.integrations:
            raise ApiFailure(404, "Integration not found")
        return self.state.integrations[slug]

    def _get_integration(self, slug: str) -> dict[str, Any]:
        entry = self._integration(slug)
        key = self.state.keys.get(slug, "")
        return {**entry, "masked_key": f"{key[:2]}****{key[-2:]}" if key else None, "configurations": {}}

    def _update_integration(self, slug: str, body: dict[str, Any]) -> dict[str, Any]:
        entry = self._integration(slug)
        for key in ("name", "description"):
            if key in body:
                entry[key] = body[key]
        if "key" in body:
            self.state.keys[slug] = body["key"]
        entry["last_updated_at"] = _now()
        return {}

    def _delete_integration(self, slug: str) -> dict[str, Any]:
        self._integration(slug)
        del self.state.integrations[slug]
        self.state.access.pop(slug, None)
        return {}

    def _list_access(self, slug: str) -> dict[str, Any]:
        self._integration(slug)
        entries = [
            {"id": workspace, "enabled": entry["enabled"], "usage_limits": [], "rate_limits": []}
            for workspace, entry in self.state.access.get(slug, {}).items()
        ]
        return {"total": len(entries), "workspaces": entries}

    def _update_access(self, slug: str, body: dict[str, Any]) -> dict[str, Any]:
        entry = self._integration(slug)
        default_provider = body.get("create_default_provider", True)
        for workspace in body.get("workspaces") or []:
            access = self.state.access.setdefault(slug, {})
            newly_enabled = workspace.get("enabled", True) and not access.get(workspace["id"], {}).get("enabled")
            access[workspace["id"]] = {"enabled": bool(workspace.get("enabled", True))}
            if newly_enabled and workspace.get("create_default_provider", default_provider):
                # Portkey's default: a provider named after the integration appears in the workspace.
                self.state.providers[(workspace["id"], slug)] = self._provider_entry(
                    workspace["id"], slug, {"name": entry["name"], "integration_id": slug}
                )
        return {}

    # --- providers --------------------------------------------------------------------------------

    def _provider_entry(self, workspace: str, slug: str, body: dict[str, Any]) -> dict[str, Any]:
        rate = body.get("rate_limits")
        return {
            "id": str(uuid.uuid4()),
            "slug": slug,
            "name": body["name"],
            "integration_id": body["integration_id"],
            "workspace_id": workspace,
            "note": body.get("note"),
            "status": "active",
            "usage_limits": {**body["usage_limits"], "current_usage": 0} if body.get("usage_limits") else None,
            "rate_limits": rate if isinstance(rate, list) else ([rate] if rate else []),
            "reset_usage": None,
            "expires_at": None,
            "created_at": _now(),
            "object": "provider",
        }

    @staticmethod
    def _check_limits(body: dict[str, Any]) -> None:
        limits = body.get("usage_limits")
        if limits:
            credit, alert = limits.get("credit_limit"), limits.get("alert_threshold")
            if not isinstance(credit, int) or credit < 1:
                raise ApiFailure(400, '"usage_limits.credit_limit" must be an integer >= 1')
            if alert is not None and (not isinstance(alert, int) or alert < 1):
                raise ApiFailure(400, '"usage_limits.alert_threshold" must be an integer >= 1')

    def _create_provider(self, body: dict[str, Any]) -> dict[str, Any]:
        workspace = body.get("workspace_id") or ""
        if not body.get("name") or not body.get("integration_id"):
            raise ApiFailure(400, '"name" and "integration_id" are required')
        if not workspace:
            raise ApiFailure(400, '"workspace_id" is required with an organisation admin key')
        integration = body["integration_id"]
        if not self.state.access.get(integration, {}).get(workspace, {}).get("enabled"):
            raise ApiFailure(400, f"Integration {integration} is not enabled for workspace {workspace}")
        self._check_limits(body)
        slug = body.get("slug") or f"{body['name'].lower()}-{secrets.token_hex(3)}"
        if (workspace, slug) in self.state.providers:
            raise ApiFailure(409, f"Provider with slug {slug} already exists")
        entry = self._provider_entry(workspace, slug, body)
        self.state.providers[(workspace, slug)] = entry
        return {"id": entry["id"], "slug": slug}

    def _provider(self, query: dict[str, str], slug: str) -> dict[str, Any]:
        key = (query.get("workspace_id", ""), slug)
        if key not in self.state.providers:
            raise ApiFailure(404, "Provider not found")
        return self.state.providers[key]

    def _get_provider(self, query: dict[str, str], slug: str) -> dict[str, Any]:
        entry = self._provider(query, slug)
        integration = self.state.integrations.get(entry["integration_id"], {})
        return {**entry, "ai_provider_name": integration.get("ai_provider_id")}

    def _update_provider(self, query: dict[str, str], slug: str, body: dict[str, Any]) -> dict[str, Any]:
        entry = self._provider(query, slug)
        self._check_limits(body)
        for key in ("name", "note", "expires_at"):
            if key in body:
                entry[key] = body[key]
        if "usage_limits" in body:
            entry["usage_limits"] = {**body["usage_limits"], "current_usage": 0} if body["usage_limits"] else None
        if "rate_limits" in body:
            rate = body["rate_limits"]
            entry["rate_limits"] = rate if isinstance(rate, list) else ([rate] if rate else [])
        return {"id": entry["id"], "slug": slug}

    def _delete_provider(self, query: dict[str, str], slug: str) -> dict[str, Any]:
        self._provider(query, slug)
        del self.state.providers[(query.get("workspace_id", ""), slug)]
        return {}

    # --- configs ----------------------------------------------------------------------------------

    def _create_config(self, body: dict[str, Any]) -> dict[str, Any]:
        if not body.get("name") or not isinstance(body.get("config"), dict):
            raise ApiFailure(400, '"name" and "config" (an object) are required')
        prefix = re.sub(r"[^a-z0-9]", "", body["name"].lower())[:6]
        slug = f"pc-{prefix}-{secrets.token_hex(3)}"
        entry = {
            "id": str(uuid.uuid4()),
            "slug": slug,
            "name": body["name"],
            "config": body["config"],
            "workspace_id": body.get("workspace_id"),
            "organisation_id": "org-fake",
            "is_default": 0,
            "status": "active",
            "version_id": str(uuid.uuid4()),
            "created_at": _now(),
            "last_updated_at": _now(),
        }
        self.state.configs[slug] = entry
        return {"id": entry["id"], "version_id": entry["version_id"], "slug": slug, "object": "config"}

    def _config(self, slug: str) -> dict[str, Any]:
        entry = self.state.configs.get(slug)
        if entry is None or entry["status"] != "active":
            raise ApiFailure(404, "Config not found")
        return entry

    def _list_configs(self, query: dict[str, str]) -> dict[str, Any]:
        workspace = query.get("workspace_id")
        data = [
            {key: value for key, value in entry.items() if key != "config"}
            for entry in self.state.configs.values()
            if workspace in (None, entry["workspace_id"]) and entry["status"] == "active"
        ]
        return {"success": True, "data": data}

    def _get_config(self, slug: str) -> dict[str, Any]:
        entry = self._config(slug)
        return {**entry, "config": json.dumps(entry["config"]), "format": "json", "type": "ORG_CONFIG"}

    def _update_config(self, slug: str, body: dict[str, Any]) -> dict[str, Any]:
        entry = self._config(slug)
        if "name" in body:
            entry["name"] = body["name"]
        if "config" in body:
            entry["config"] = body["config"]
        entry["version_id"] = str(uuid.uuid4())
        return {"version_id": entry["version_id"]}

    def _delete_config(self, slug: str) -> dict[str, Any]:
        self._config(slug)["status"] = "archived"  # Portkey archives a deleted config
        return {}

    # --- usage-limits policies ----------------------------------------------------------------------

    def _policy_route(self, method: str, rest: list[str], query: dict[str, str], body: Any) -> Any:
        if method == "POST" and not rest:
            for required in ("conditions", "group_by", "type", "credit_limit"):
                if body.get(required) in (None, []):
                    raise ApiFailure(400, f'"{required}" is required')
            alert = body.get("alert_threshold")
            if alert is not None and alert >= body["credit_limit"]:
                raise ApiFailure(400, '"alert_threshold" must be less than credit_limit')
            policy_id = str(uuid.uuid4())
            self.state.policies[policy_id] = {
                "id": policy_id,
                "status": "active",
                "object": "policy_usage_limits",
                "created_at": _now(),
                **{key: value for key, value in body.items()},
            }
            return {"id": policy_id, "object": "policy_usage_limits"}
        if method == "GET" and not rest:
            workspace = query.get("workspace_id")
            return self._list(
                entry
                for entry in self.state.policies.values()
                if entry["status"] == "active" and workspace in (None, entry.get("workspace_id"))
            )
        entry = self.state.policies.get(rest[0]) if rest else None
        if entry is None or entry["status"] != "active":
            raise ApiFailure(404, "Policy not found")
        if method == "GET":
            return dict(entry)
        if method == "PUT":
            for key in ("name", "credit_limit", "alert_threshold", "periodic_reset"):
                if key in body:
                    entry[key] = body[key]
            return {}
        if method == "DELETE":
            entry["status"] = "archived"
            return {}
        raise ApiFailure(404, "Route not found")


class _Handler(QuietHandler):
    fake: FakePortkeyAdmin

    def _serve(self) -> None:
        url = urlsplit(self.path)
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
            status, answer = self.fake.handle(
                self.command, url.path, query, body, self.headers.get("x-portkey-api-key")
            )
        except ApiFailure as failure:
            status = failure.status
            answer = {"success": False, "data": {"message": failure.message, "errorCode": ERRORS.get(status, "AB04")}}
        except json.JSONDecodeError:
            status, answer = 400, {"success": False, "data": {"message": "Invalid JSON", "errorCode": "AB01"}}
        self.reply(status, "application/json", json.dumps(answer).encode())

    do_GET = do_POST = do_PUT = do_DELETE = _serve


@contextmanager
def running_fake() -> Iterator[FakePortkeyAdmin]:
    fake = FakePortkeyAdmin().start()
    try:
        yield fake
    finally:
        fake.stop()
