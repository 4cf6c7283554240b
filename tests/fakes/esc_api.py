"""A fake Pulumi ESC API on 127.0.0.1 that speaks the wire format the real ``pulumi-esc-sdk`` uses.

Paths are under ``/api/esc`` (the SDK appends it to any host), requests authenticate with
``Authorization: token <token>``, errors are ``{"code": <status>, "message": ...}``. What matters for
the tests is how ESC stores secrets: an ``fn::secret: <plaintext>`` written with ``PATCH`` is kept
as ``fn::secret: {ciphertext: …}``, a ciphertext that changes on every write and says nothing about
the value; ``GET`` returns the definition that way (YAML, ``application/x-yaml``), ``/decrypt``
returns plaintext. Only the fake holds the plaintext (:meth:`FakeEsc.plaintext`).

Routes: ``GET /environments/{org}`` (list), ``POST /environments/{org}`` (create ``{project, name}``;
409 if it exists), ``GET|PATCH|DELETE /environments/{org}/{project}/{env}``,
``GET /environments/{org}/{project}/{env}/decrypt``.
"""

from __future__ import annotations

import json
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import yaml

from tests.fakes.loopback import LoopbackServer, QuietHandler

TOKEN = "pul-fake-esc-token-3b9d"  # what the fake accepts; not a real token


@dataclass
class StoredEnvironment:
    definition: dict[str, Any]  # secrets as {"ciphertext": ...}
    revision: int = 1
    created: str = "2026-01-01 00:00:00"


@dataclass
class FakeEscState:
    environments: dict[tuple[str, str, str], StoredEnvironment] = field(default_factory=dict)
    vault: dict[str, str] = field(default_factory=dict)  # ciphertext -> plaintext


class EscFailure(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class FakeEsc(LoopbackServer):
    def __init__(self, token: str = TOKEN) -> None:
        super().__init__()
        self.handler = _Handler
        self.token = token
        self.state = FakeEscState()
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.RLock()

    @property
    def url(self) -> str:
        return self.origin

    # --- test controls ------------------------------------------------------------------------------

    def put(self, org: str, project: str, name: str, text: str) -> None:
        """Store a definition as `esc env edit` would (secrets encrypted)."""
        with self.lock:
            existing = self.state.environments.get((org, project, name))
            revision = existing.revision + 1 if existing else 1
            document = yaml.safe_load(text) or {}
            self.state.environments[(org, project, name)] = StoredEnvironment(self._encrypt(document), revision)

    def stored(self, org: str, project: str, name: str) -> dict[str, Any]:
        return self.state.environments[(org, project, name)].definition

    def plaintext(self, org: str, project: str, name: str, path: list[str]) -> str:
        node: Any = self.stored(org, project, name)["values"]
        for part in path:
            node = node[part]
        return self.state.vault[node["fn::secret"]["ciphertext"]]

    # --- behaviour ---------------------------------------------------------------------------------

    def _encrypt(self, node: Any) -> Any:
        if isinstance(node, dict):
            if set(node) == {"fn::secret"} and not isinstance(node["fn::secret"], dict):
                ciphertext = secrets.token_urlsafe(24)
                self.state.vault[ciphertext] = str(node["fn::secret"])
                return {"fn::secret": {"ciphertext": ciphertext}}
            return {key: self._encrypt(value) for key, value in node.items()}
        if isinstance(node, list):
            return [self._encrypt(value) for value in node]
        return node

    def _decrypt(self, node: Any) -> Any:
        if isinstance(node, dict):
            secret = node.get("fn::secret")
            if set(node) == {"fn::secret"} and isinstance(secret, dict) and "ciphertext" in secret:
                return {"fn::secret": self.state.vault[secret["ciphertext"]]}
            return {key: self._decrypt(value) for key, value in node.items()}
        if isinstance(node, list):
            return [self._decrypt(value) for value in node]
        return node

    def handle(self, method: str, path: str, body: bytes, auth: str | None) -> tuple[int, str, str]:
        with self.lock:
            self.requests.append((method, path))
            if auth != f"token {self.token}":
                raise EscFailure(401, "Unauthorized: No credentials provided or are invalid.")
            parts = [part for part in path.removeprefix("/api/esc/environments").split("/") if part]
            if len(parts) == 1 and method == "GET":
                listed = [
                    {"organization": o, "project": p, "name": n, "created": e.created, "modified": e.created}
                    for (o, p, n), e in sorted(self.state.environments.items())
                    if o == parts[0]
                ]
                return 200, "application/json", json.dumps({"environments": listed})
            if len(parts) == 1 and method == "POST":
                request = json.loads(body or b"{}")
                key = (parts[0], request["project"], request["name"])
                if key in self.state.environments:
                    raise EscFailure(409, f"environment {request['project']}/{request['name']} already exists")
                self.state.environments[key] = StoredEnvironment({})
                return 200, "application/json", json.dumps({"name": request["name"], "project": request["project"]})
            if len(parts) < 3:
                raise EscFailure(404, "Not found")
            key = (parts[0], parts[1], parts[2])
            stored = self.state.environments.get(key)
            if stored is None:
                raise EscFailure(404, f"Environment '{parts[1]}/{parts[2]}' not found")
            if len(parts) == 4 and parts[3] == "decrypt" and method == "GET":
                return 200, "application/x-yaml", yaml.safe_dump(self._decrypt(stored.definition), sort_keys=False)
            if len(parts) == 3 and method == "GET":
                return 200, "application/x-yaml", yaml.safe_dump(stored.definition, sort_keys=False)
            if len(parts) == 3 and method == "PATCH":
                try:
                    document = yaml.safe_load(body.decode()) or {}
                except yaml.YAMLError as error:
                    raise EscFailure(400, f"invalid YAML: {error}") from None
                for imported in document.get("imports") or []:
                    project, _, name = str(imported).partition("/")
                    if (parts[0], project, name) not in self.state.environments:
                        raise EscFailure(400, f"unknown environment {imported!r} in imports")
                stored.definition = self._encrypt(document)
                stored.revision += 1
                return 200, "application/json", json.dumps({"diagnostics": []})
            if len(parts) == 3 and method == "DELETE":
                del self.state.environments[key]
                return 200, "application/json", ""
            raise EscFailure(404, "Not found")


class _Handler(QuietHandler):
    fake: FakeEsc

    def _serve(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            status, content_type, payload = self.fake.handle(
                self.command, urlsplit(self.path).path, body, self.headers.get("authorization")
            )
        except EscFailure as failure:
            status, content_type = failure.status, "application/json"
            payload = json.dumps({"code": failure.status, "message": str(failure)})
        self.reply(status, content_type, payload.encode())

    do_GET = do_POST = do_PATCH = do_DELETE = _serve
