"""The LiteLLM proxy is closed by default, as deployed (runtime/engines.py sets the switches).

Without a key, the admin and management routes answer 401 and the API docs 404; a browser on an
origin the stack does not allow gets no CORS grant. What stays open is listed in docs/security.md
(liveness and readiness, the static admin UI shell, which holds no data without a key).
"""

from __future__ import annotations

import httpx
import pytest
from e2e_engines import LiteLLMEngine

pytestmark = pytest.mark.e2e

# Routes that read or change keys, users, models, config, spend or the cache.
ADMIN_ROUTES = [
    ("POST", "/key/generate"),
    ("GET", "/key/list"),
    ("POST", "/user/new"),
    ("GET", "/user/list"),
    ("POST", "/model/new"),
    ("GET", "/model/info"),
    ("POST", "/config/update"),
    ("GET", "/get/config/callbacks"),
    ("GET", "/global/spend/logs"),
    ("POST", "/cache/flushall"),
    ("GET", "/cache/redis/info"),
    ("GET", "/v1/models"),
    ("POST", "/v1/chat/completions"),
]
DOCS_ROUTES = ["/openapi.json", "/redoc", "/docs", "/docs/oauth2-redirect"]


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
def test_admin_routes_refuse_a_request_without_the_master_key(litellm: LiteLLMEngine, method: str, path: str) -> None:
    with httpx.Client(base_url=litellm.url, timeout=10) as client:
        response = client.request(method, path, json={})
        assert response.status_code == 401, (response.status_code, response.text[:300])
        # Any other key would be looked up in a database; the gateway has none, so it is refused (400).
        wrong = client.request(method, path, headers={"Authorization": "Bearer sk-not-the-master-key"}, json={})
        assert wrong.status_code in (400, 401), (wrong.status_code, wrong.text[:300])
        if wrong.status_code == 400:
            assert wrong.json()["error"]["type"] == "no_db_connection", wrong.text[:300]


def test_api_docs_are_off(litellm: LiteLLMEngine) -> None:
    with httpx.Client(base_url=litellm.url, timeout=10) as client:
        for path in DOCS_ROUTES:
            assert client.get(path).status_code == 404, path
        root = client.get("/")
        assert "swagger" not in root.text.lower() and root.headers["content-type"].startswith("application/json")


def test_no_browser_origin_is_granted_cors(litellm: LiteLLMEngine) -> None:
    preflight = {"Origin": "https://attacker.example", "Access-Control-Request-Method": "POST"}
    with httpx.Client(base_url=litellm.url, timeout=10) as client:
        response = client.options("/v1/chat/completions", headers=preflight)
        assert "access-control-allow-origin" not in response.headers, response.headers
        simple = client.get("/health/liveliness", headers={"Origin": "https://attacker.example"})
        assert "access-control-allow-origin" not in simple.headers, simple.headers
