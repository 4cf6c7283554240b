"""The gateway's contract with its clients (docs/client-api.md), through the official SDKs.

LiteLLM (the in-cluster engine): every status code a client can act on arrives as each SDK's own
exception class (portkey-ai: its vendored ``portkey_ai.openai`` classes); streaming works through every
SDK; ``GET /v1/models`` lists the tasks a key may use; the response headers name the target that served;
embeddings answer with where they run. The isolation test sends every request shape a client can send
and checks, at the mock and in the router's Redis, that no target's state changed, while an upstream
429 or 504 still cools a target down. Every error body the suite sees is scanned for tracebacks and
local paths (tests/e2e/conftest.py).

Portkey (the OSS engine, where it applies): what it does and does not check, its ``models`` answer
(the first target's provider's list, from the mock's models route) and its status codes.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic
import pytest
import yaml
from e2e_engines import LiteLLMEngine, LiteLLMPool
from e2e_support import gateway_client, route, unique_body
from sdk_clients import (
    ERRORS,
    SDKS,
    RequestCount,
    answer_text,
    anthropic_client,
    chat,
    error_message,
    openai_client,
    portkey_to_litellm,
    portkey_to_portkey,
)

from local.client import CHAT_PATH, gateway_tasks, portkey_headers, post_chat
from local.environment import LocalEnvironment
from local.mock_provider import MockControl, routed_models
from local.processes import ServerProcess

pytestmark = pytest.mark.e2e


def _key_for(engine: LiteLLMEngine, task: str, allowed: bool = True) -> tuple[str, str]:
    """(application, key) of an application that may (or may not) use ``task``."""
    for name, key in sorted(engine.env.application_keys.items()):
        if (task in engine.env.application_tasks(name)) == allowed:
            return name, key
    raise AssertionError(f"the spec has no application that {'may' if allowed else 'may not'} use {task}")


def _key_for_every_task(engine: LiteLLMEngine) -> str:
    tasks = set(gateway_tasks(engine.env.routing))
    name = next(n for n in engine.env.application_keys if tasks <= set(engine.env.application_tasks(n)))
    return engine.env.application_keys[name]


def _deployments(routing: dict[str, Any], task: str) -> list[str]:
    """The task's LiteLLM deployment ids as the generated config names them (``<task>/<model>``)."""
    return [f"{task}/{target['model']}" for target in routing["tasks"][task]["targets"]]


def _first_choices(routing: dict[str, Any], task: str) -> set[str]:
    """The mock targets that serve the task's requests while every target is healthy (each branch's first)."""
    targets = route(routing, task).targets
    return {targets[branch["chain"][0]] for branch in routing["tasks"][task]["traffic"]}


def _raises(sdk: str, name: str, status: int, call: Any) -> Exception:
    """Run ``call``; it must raise ``sdk``'s exception class ``name`` with HTTP ``status``."""
    expected = getattr(ERRORS[sdk], name)
    with pytest.raises(expected) as caught:
        call()
    assert caught.value.status_code == status, (sdk, name, caught.value)  # type: ignore[attr-defined]
    return caught.value


# --- status codes a client can act on -----------------------------------------------------------------


@pytest.mark.parametrize("sdk", SDKS)
def test_litellm_status_codes_through_each_sdk(litellm: LiteLLMEngine, routing: dict[str, Any], sdk: str) -> None:
    url = litellm.url
    task = "experimental"
    _, key = _key_for(litellm, task)
    other, other_key = _key_for(litellm, task, allowed=False)

    wrong = _raises(sdk, "AuthenticationError", 401, lambda: chat(sdk, url, "sk-not-a-key", task))
    assert "Invalid API key" in error_message(wrong) and "sk-not-a-key" not in error_message(wrong)

    denied = _raises(sdk, "PermissionDeniedError", 403, lambda: chat(sdk, url, other_key, task))
    assert f"Application '{other}' may not use task '{task}'" in error_message(denied)

    unknown = _raises(sdk, "NotFoundError", 404, lambda: chat(sdk, url, key, "nosuchtask"))
    assert "'nosuchtask'" in error_message(unknown) and "GET /v1/models" in error_message(unknown)

    cortex = _raises(sdk, "NotFoundError", 404, lambda: chat(sdk, url, key, "embeddings"))
    assert "Snowflake Cortex" in error_message(cortex)

    for bad in ("hello", [], ["hello"], [{"role": "user", "content": ["x"]}]):
        malformed = _raises(sdk, "BadRequestError", 400, lambda bad=bad: chat(sdk, url, key, task, messages=bad))
        assert "'messages" in error_message(malformed), error_message(malformed)

    # A client may not buy itself more upstream calls than the route's budget.
    retries = _raises(sdk, "BadRequestError", 400, lambda: chat(sdk, url, key, task, extra_body={"num_retries": 9}))
    assert "'num_retries' is not accepted" in error_message(retries)


def test_litellm_missing_key_is_a_json_401(litellm: LiteLLMEngine) -> None:
    # No Authorization at all: LiteLLM's own path answered a plain-text 500 without `prisma`.
    with gateway_client(litellm.url) as client:
        response = client.post(CHAT_PATH, json=unique_body("chat"))
    assert response.status_code == 401 and response.headers["content-type"].startswith("application/json")
    assert response.json()["error"]["type"] == "authentication_error"
    client = openai_client(litellm.url, "unused", max_retries=0, default_headers={"Authorization": ""})
    error = _raises("openai", "AuthenticationError", 401, lambda: client.models.list())
    assert "No API key" in error_message(error)


def test_litellm_refuses_endpoints_outside_the_surface_and_names_cortex_for_embeddings(
    litellm: LiteLLMEngine, routing: dict[str, Any], mock: MockControl
) -> None:
    key = _key_for_every_task(litellm)
    client = openai_client(litellm.url, key)
    calls: dict[str, Any] = {
        "completions": lambda: client.completions.create(model="chat", prompt="hello"),
        "responses": lambda: client.responses.create(model="chat", input="hello"),
        "images": lambda: client.images.generate(model="chat", prompt="a cat"),
        "speech": lambda: client.audio.speech.create(model="chat", voice="alloy", input="hello"),
        "moderations": lambda: client.moderations.create(model="chat", input="hello"),
    }
    for name, call in calls.items():
        error = _raises("openai", "NotFoundError", 404, call)
        assert "is not served by this gateway" in error_message(error) and "POST /v1/chat/completions" in error_message(
            error
        ), name
    cortex = routing["tasks"]["embeddings"]["cortex"]
    for sdk_client in (client, portkey_to_litellm(litellm.url, key)):
        sdk = "openai" if sdk_client is client else "portkey-ai"
        for model in ("embeddings", "chat"):
            error = _raises(
                sdk, "NotFoundError", 404, lambda c=sdk_client, m=model: c.embeddings.create(model=m, input="x")
            )
            for fragment in ("Snowflake Cortex", cortex["function"], cortex["model"], "routing.json"):
                assert fragment in error_message(error), (sdk, model, fragment)
    assert mock.calls() == {}, "a refused request reached an upstream"


# --- provider failures after the route's budget ---------------------------------------------------------

# task → the status every target answers, and what a client gets once the route's budget is spent
SPENT_ROUTES = {"code_generation": (503, 503), "business_intelligence": (500, 502), "chat": (504, 504)}
COOLING = 503  # once every target is cooling down


def _cooldown_seconds(engine: LiteLLMEngine, task: str) -> int:
    config = yaml.safe_load(engine.env.litellm_config.read_text())
    return int(next(d["model_info"]["cooldown_time"] for d in config["model_list"] if d["model_name"] == task))


@pytest.mark.parametrize("task", sorted(SPENT_ROUTES))
def test_litellm_spent_route_is_502_503_504_naming_task_and_targets(
    litellm_pool: LiteLLMPool, routing: dict[str, Any], mock: MockControl, task: str
) -> None:
    upstream, expected = SPENT_ROUTES[task]
    engine = litellm_pool.claim([task])
    _, key = _key_for(engine, task)
    mock.fail("*", upstream)
    for sdk in ("openai", "portkey-ai"):
        counter = RequestCount()
        # The SDKs' own retries are on (their default): `x-should-retry: false` keeps them from repeating
        # a request the gateway already retried within the route's budget.
        with pytest.raises(ERRORS[sdk].InternalServerError) as caught:
            chat(sdk, engine.url, key, task, counter)
        error = caught.value
        message = error_message(error)
        assert counter.count == 1, (sdk, counter.paths)
        assert error.response.headers["x-should-retry"] == "false"
        assert f"Task '{task}'" in message, message
        for deployment in _deployments(routing, task):
            assert deployment in message, (deployment, message)
        if "is cooling down" in message:  # the route's earlier failures cooled every target
            assert error.status_code == COOLING and 1 <= int(error.response.headers["retry-after"]) <= 3600
        else:
            assert error.status_code == expected, (sdk, error.status_code, message)
        for secret in (*engine.env.application_keys.values(), engine.env.env["LITELLM_MASTER_KEY"]):
            assert secret not in error.response.text

    # /v1/messages builds its error body itself and ignores the callback's answer (docs/client-api.md):
    # the last provider status, or 429 once every target cools, with LiteLLM's message. The Anthropic SDK
    # raises its class for that status; with max_retries=0 (the docs' advice) it does not repeat it.
    counter = RequestCount()
    client = anthropic_client(engine.url, key, counter, max_retries=0)
    with pytest.raises(anthropic.APIStatusError) as raw:
        client.messages.create(model=task, max_tokens=16, messages=[{"role": "user", "content": "spent"}])
    status = raw.value.status_code
    assert status in (upstream, expected, 408, 429), status
    assert isinstance(raw.value, getattr(anthropic, ANTHROPIC_CLASSES[status])), (status, type(raw.value))
    assert counter.count == 1


# The Anthropic SDK's class for each status (anthropic/_exceptions.py), subclasses of InternalServerError
# for 503 and 504.
ANTHROPIC_CLASSES = {
    408: "RequestTimeoutError",
    429: "RateLimitError",
    500: "InternalServerError",
    502: "InternalServerError",
    503: "ServiceUnavailableError",
    504: "GatewayTimeoutError",
}


def test_litellm_targets_all_cooling_is_503_with_retry_after(
    litellm_pool: LiteLLMPool, routing: dict[str, Any], mock: MockControl
) -> None:
    task = "experimental"
    engine = litellm_pool.claim([task])
    _, key = _key_for(engine, task)
    client = openai_client(engine.url, key)
    mock.fail("*", 429)  # 429s cool every deployment of the group down, the last resort too
    first = _raises("openai", "InternalServerError", 503, lambda: client.chat.completions.create(**unique_body(task)))
    assert "every target is unavailable" in error_message(first)
    for _ in range(3):  # the last resort cools down after a few 429s of its own
        answer = _raises(
            "openai", "InternalServerError", 503, lambda: client.chat.completions.create(**unique_body(task))
        )
        if "is cooling down" in error_message(answer):
            break
    cooling = _raises("openai", "InternalServerError", 503, lambda: client.chat.completions.create(**unique_body(task)))
    assert "is cooling down" in error_message(cooling)
    assert 1 <= int(cooling.response.headers["retry-after"]) <= _cooldown_seconds(engine, task)


# --- streaming, models, headers ---------------------------------------------------------------------------


def test_litellm_streams_through_every_sdk_on_every_task(litellm: LiteLLMEngine, routing: dict[str, Any]) -> None:
    key = _key_for_every_task(litellm)
    for task in gateway_tasks(routing):
        targets = set(route(routing, task).targets.values())
        stream = openai_client(litellm.url, key).chat.completions.create(**unique_body(task), stream=True)
        text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
        assert text.removeprefix("served-by ") in targets, (task, text)

        messages = [{"role": "user", "content": f"stream {task}"}]
        with anthropic_client(litellm.url, key).messages.stream(model=task, max_tokens=16, messages=messages) as events:
            text = "".join(events.text_stream)
        assert text.removeprefix("served-by ") in targets, (task, text)

        chunks = portkey_to_litellm(litellm.url, key).chat.completions.create(**unique_body(task), stream=True)
        text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
        assert text.removeprefix("served-by ") in targets, (task, text)


def test_litellm_models_lists_the_tasks_a_key_may_use(litellm: LiteLLMEngine, routing: dict[str, Any]) -> None:
    for name, key in litellm.env.application_keys.items():
        listed = sorted(model.id for model in openai_client(litellm.url, key).models.list())
        assert listed == sorted(litellm.env.application_tasks(name)), name
        via_portkey = sorted(model.id for model in portkey_to_litellm(litellm.url, key).models.list().data)
        assert via_portkey == listed
    admin = openai_client(litellm.url, litellm.env.env["LITELLM_MASTER_KEY"])
    assert set(gateway_tasks(routing)) <= {model.id for model in admin.models.list()}


def test_litellm_answers_every_sdk_and_names_the_target_that_served(
    litellm: LiteLLMEngine, routing: dict[str, Any]
) -> None:
    key = _key_for_every_task(litellm)
    for sdk in SDKS:
        for task in gateway_tasks(routing):
            answer = chat(sdk, litellm.url, key, task, messages=[{"role": "user", "content": f"{sdk} {task}"}])
            assert answer_text(sdk, answer).removeprefix("served-by ") in route(routing, task).targets.values()
    raw = openai_client(litellm.url, key).chat.completions.with_raw_response.create(
        **unique_body("code_generation"),
        user="user-42",
        extra_headers={"x-litellm-session-id": "session-0001", "x-request-id": "request-0001"},
        extra_body={"metadata": {"request_id": "request-0001"}},
    )
    assert raw.headers["x-litellm-model-id"] in _deployments(routing, "code_generation")
    assert raw.headers["x-litellm-model-group"] == "code_generation"
    assert "x-litellm-cache-key" not in raw.headers  # a miss: the header is there on cache hits only


def test_litellm_anthropic_format_is_served_on_every_task(
    litellm: LiteLLMEngine, routing: dict[str, Any], mock: MockControl
) -> None:
    key = _key_for_every_task(litellm)
    client = anthropic_client(litellm.url, key, max_retries=0)
    for task in gateway_tasks(routing):
        message = client.messages.create(model=task, max_tokens=16, messages=[{"role": "user", "content": task}])
        served = answer_text("anthropic", message).removeprefix("served-by ")
        # Served by the task's first choice (no fallback): the primary answers in its own wire format.
        assert served in _first_choices(routing, task), (task, served)
    assert all(entry["failed"] == 0 for entry in mock.calls().values())


# --- no client can change routing for another ---------------------------------------------------------


def _client_shapes(engine: LiteLLMEngine, routing: dict[str, Any]) -> list[tuple[str, str, dict[str, str], Any]]:
    """(label, path, headers, JSON body or raw bytes) of every request shape a client can send."""
    key = _key_for_every_task(engine)
    auth = {"Authorization": f"Bearer {key}"}
    anthropic_auth = {"x-api-key": key, "anthropic-version": "2023-06-01"}
    shapes: list[tuple[str, str, dict[str, str], Any]] = []
    for task in gateway_tasks(routing):
        shapes += [
            (
                f"anthropic format {task}",
                "/v1/messages",
                anthropic_auth,
                {"model": task, "max_tokens": 16, "messages": [{"role": "user", "content": "x"}]},
            ),
            (
                f"anthropic stream {task}",
                "/v1/messages",
                anthropic_auth,
                {"model": task, "max_tokens": 16, "stream": True, "messages": [{"role": "user", "content": "x"}]},
            ),
            (
                f"anthropic bad body {task}",
                "/v1/messages",
                anthropic_auth,
                {"model": task, "max_tokens": 16, "messages": "hello"},
            ),
            (f"bad body {task}", CHAT_PATH, auth, {"model": task, "messages": "hello"}),
            (f"no messages {task}", CHAT_PATH, auth, {"model": task}),
            (
                f"content list {task}",
                CHAT_PATH,
                auth,
                {"model": task, "messages": [{"role": "user", "content": ["x"]}]},
            ),
            (f"tools {task}", CHAT_PATH, auth, {**unique_body(task), "tools": "x"}),
            (f"response_format {task}", CHAT_PATH, auth, {**unique_body(task), "response_format": "json"}),
            (
                f"unknown params {task}",
                CHAT_PATH,
                auth,
                {**unique_body(task), "foo": 1, "temperature": "hot", "max_tokens": -5},
            ),
            (f"huge prompt {task}", CHAT_PATH, auth, unique_body(task, "x" * 1_000_000)),
            (f"num_retries {task}", CHAT_PATH, auth, {**unique_body(task), "num_retries": 10}),
            (f"num_retries header {task}", CHAT_PATH, {**auth, "x-litellm-num-retries": "10"}, unique_body(task)),
            (f"fallbacks {task}", CHAT_PATH, auth, {**unique_body(task), "fallbacks": ["experimental"]}),
            (f"client key {task}", CHAT_PATH, auth, {**unique_body(task), "api_key": "sk-client-provider-key"}),
            (f"api_base {task}", CHAT_PATH, auth, {**unique_body(task), "api_base": "http://127.0.0.1:9/v1"}),
            (
                f"broken json {task}",
                CHAT_PATH,
                {**auth, "content-type": "application/json"},
                b'{"model": "' + task.encode(),
            ),
            (f"wrong key {task}", CHAT_PATH, {"Authorization": "Bearer sk-wrong"}, unique_body(task)),
            (f"no key {task}", CHAT_PATH, {}, unique_body(task)),
        ]
        for path in (
            "/v1/responses",
            "/v1/completions",
            "/v1/images/generations",
            "/v1/audio/speech",
            "/v1/embeddings",
        ):
            shapes.append((f"wrong endpoint {path} {task}", path, auth, {"model": task, "input": "x", "prompt": "x"}))
    shapes.append(("unknown task", CHAT_PATH, auth, unique_body("nosuchtask")))
    return shapes


def _cooldowns(engine: LiteLLMEngine) -> list[str]:
    # Cooldowns are router state: in the router-state Redis, read as the local admin user.
    with engine.redis.endpoints.state.client() as client:
        return sorted(key.decode() for key in client.scan_iter("*cooldown*"))


def test_no_client_request_changes_routing_for_another(
    litellm_pool: LiteLLMPool, routing: dict[str, Any], mock: MockControl
) -> None:
    tasks = gateway_tasks(routing)
    engine = litellm_pool.claim(tasks)
    shapes = _client_shapes(engine, routing)
    statuses: dict[str, int] = {}
    with gateway_client(engine.url, timeout=60) as client:
        for label, path, headers, body in shapes:
            if isinstance(body, bytes):
                response = client.post(path, content=body, headers=headers)
            else:
                response = client.post(path, json=body, headers=headers)
            statuses[label] = response.status_code
    assert _cooldowns(engine) == [], statuses
    upstream = mock.calls()
    assert all(entry["failed"] == 0 for entry in upstream.values()), upstream
    # Only the well-formed requests reached an upstream, once each, at a first choice of their task.
    served = [label for label, status in statuses.items() if status == 200]
    assert sum(entry["count"] for entry in upstream.values()) == len(served), (served, upstream)
    for task in tasks:
        assert statuses[f"anthropic format {task}"] == 200 and statuses[f"unknown params {task}"] == 200
        assert statuses[f"huge prompt {task}"] == 200
        for refused in (
            "bad body",
            "anthropic bad body",
            "num_retries",
            "num_retries header",
            "fallbacks",
            "client key",
        ):
            assert statuses[f"{refused} {task}"] == 400, (refused, task, statuses)
        assert statuses[f"wrong key {task}"] == statuses[f"no key {task}"] == 401
        assert statuses[f"wrong endpoint /v1/images/generations {task}"] == 404

    # Every task is still served by its first choice, as before any of those requests.
    key = _key_for_every_task(engine)
    with gateway_client(engine.url, {"Authorization": f"Bearer {key}"}) as client:
        for task in tasks:
            first_choices = _first_choices(routing, task)
            answers = [post_chat(client, unique_body(task, "after")) for _ in range(3)]
            assert {(a.status, a.target in first_choices) for a in answers} == {(200, True)}, (task, answers)

        # The positive control: an upstream 429 or 504 still cools the primary down at once.
        for task, status in zip(tasks[:2], (429, 504), strict=True):
            primary = route(routing, task).primary
            mock.reset()
            mock.fail(primary, status, times=1)
            answers = [post_chat(client, unique_body(task, f"control-{status}")) for _ in range(4)]
            assert all(a.status == 200 and a.target != primary for a in answers), (task, status, answers)
            assert mock.count(primary) == 1, (task, status)
    assert any(key.endswith(":cooldown") or "cooldown" in key for key in _cooldowns(engine))


# --- the OSS Portkey gateway ----------------------------------------------------------------------------


def test_mock_provider_lists_each_providers_routed_models(mock_server: ServerProcess, routing: dict[str, Any]) -> None:
    expected = routed_models(routing)
    with gateway_client(mock_server.url) as client:
        for provider, models in expected.items():
            answer = client.get(f"/{provider}/v1/models").json()
            assert sorted(model["id"] for model in answer["data"]) == models
            if provider == "anthropic":
                assert answer["has_more"] is False and {m["type"] for m in answer["data"]} == {"model"}
            else:
                assert answer["object"] == "list"
        assert client.get("/nosuchprovider/v1/models").json()["data"] == []


def test_portkey_models_is_the_first_targets_provider_list(
    portkey_gateway: ServerProcess, portkey_env: LocalEnvironment, routing: dict[str, Any]
) -> None:
    # Portkey forwards GET /v1/models to the config's first target: the answer is that provider's
    # model list, not the gateway's tasks (docs/client-api.md).
    for task in gateway_tasks(routing):
        provider = routing["tasks"][task]["targets"][0]["provider"]
        client = portkey_to_portkey(
            portkey_gateway.url, portkey_env.portkey_config(task), Authorization="Bearer mock-key"
        )
        listed = sorted(model.id for model in client.models.list().data)
        assert listed == routed_models(routing)[provider], (task, listed)


def test_portkey_checks_no_key_and_answers_through_its_sdk(
    portkey_gateway: ServerProcess, portkey_env: LocalEnvironment, routing: dict[str, Any], mock: MockControl
) -> None:
    task = "code_generation"
    config = portkey_env.portkey_config(task)
    targets = set(route(routing, task).targets.values())
    # The OSS build checks no key: without any credential the request is served (stated in the docs).
    with gateway_client(portkey_gateway.url) as client:
        assert client.post(CHAT_PATH, json=unique_body(task), headers={"x-portkey-config": config}).status_code == 200
    sdk = portkey_to_portkey(portkey_gateway.url, config, Authorization="Bearer mock-key", trace_id="trace-0001")
    answer = sdk.chat.completions.create(**unique_body(task))
    headers = answer.get_headers() or {}  # the SDK drops the headers' x-portkey- prefix
    assert headers["trace-id"] == "trace-0001"
    assert headers["last-used-option-index"].startswith("config.targets")
    assert headers["cache-status"] == "DISABLED"  # the OSS build has no cache
    assert answer_text("portkey-ai", answer).removeprefix("served-by ") in targets
    chunks = sdk.chat.completions.create(**unique_body(task), stream=True)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text.removeprefix("served-by ") in targets


def test_portkey_status_codes_through_its_sdk(
    portkey_gateway: ServerProcess, portkey_env: LocalEnvironment, routing: dict[str, Any], mock: MockControl
) -> None:
    errors = ERRORS["portkey-ai"]
    no_config = portkey_to_portkey(portkey_gateway.url, None, Authorization="Bearer mock-key")
    with pytest.raises(errors.BadRequestError) as caught:
        no_config.chat.completions.create(**unique_body("chat"))
    assert "x-portkey-config" in str(caught.value)

    task = "code_generation"
    sdk = portkey_to_portkey(portkey_gateway.url, portkey_env.portkey_config(task), Authorization="Bearer mock-key")
    mock.fail("*", 503)
    with pytest.raises(errors.InternalServerError) as failed:
        sdk.chat.completions.create(**unique_body(task))
    assert failed.value.status_code == 503
    mock.reset()

    # Embeddings never go to this engine (the contract sends them to Snowflake Cortex): a config whose
    # first target cannot embed answers 500 from the gateway itself.
    with gateway_client(portkey_gateway.url) as client:
        response = client.post(
            "/v1/embeddings",
            json={"model": "x", "input": "hello"},
            headers=portkey_headers(portkey_env.portkey_config("experimental")),
        )
    assert response.status_code == 500 and "embed is not supported" in response.json()["message"]
    assert response.headers["x-portkey-gateway-exception"] == "true"


def test_json_bodies_are_what_the_docs_say(litellm: LiteLLMEngine) -> None:
    """The OpenAI error shape on chat completions, Anthropic's on /v1/messages."""
    _, key = _key_for(litellm, "chat")
    with gateway_client(litellm.url) as client:
        openai_shape = client.post(
            CHAT_PATH, json={"model": "chat", "messages": "hello"}, headers={"Authorization": f"Bearer {key}"}
        )
        anthropic_shape = client.post(
            "/v1/messages", json={"model": "chat", "max_tokens": 5, "messages": "hello"}, headers={"x-api-key": key}
        )
    assert openai_shape.status_code == anthropic_shape.status_code == 400
    error = openai_shape.json()["error"]
    assert set(error) >= {"message", "type", "param", "code"} and error["param"] == "messages"
    assert json.loads(anthropic_shape.text)["type"] == "error"
    assert anthropic_shape.json()["error"]["type"] == "invalid_request_error"
