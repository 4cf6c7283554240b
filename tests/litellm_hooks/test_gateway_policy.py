"""The client contract's decisions (runtime/litellm/hooks/gateway_policy.py), on the committed ``local``
routing.json: who may call, which routes and tasks, which bodies are refused, what errors say.

The LiteLLM adapters around these decisions run on the real proxy in tests/e2e/test_client_contract.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from gateway_policy import (
    CLIENT_ROUTES,
    ClientContract,
    Refusal,
    check_body,
    has_internals,
    key_id,
    scrub,
    upstream_failure,
)
from hypothesis import given
from hypothesis import strategies as st

ROUTING = Path(__file__).resolve().parents[2] / "gateway_config" / "generated" / "local" / "routing.json"
MANIFEST: dict[str, Any] = json.loads(ROUTING.read_text())
MASTER = "sk-test-master"


def _keys() -> dict[str, str]:
    return {name: f"sk-app-{name}-secret" for name in MANIFEST["applications"]}


@pytest.fixture(scope="module")
def contract() -> ClientContract:
    environ = {"LITELLM_MASTER_KEY": MASTER}
    for name, key in _keys().items():
        environ[MANIFEST["applications"][name]["key_env"]] = key
    return ClientContract.load(ROUTING, environ)


def _refused(call: Any, *args: Any) -> Refusal:
    with pytest.raises(Refusal) as caught:
        call(*args)
    return caught.value


def _app_with_and_without(task: str) -> tuple[str, str]:
    apps = MANIFEST["applications"]
    allowed = next(name for name, app in apps.items() if task in app["tasks"])
    refused = next(name for name, app in apps.items() if task not in app["tasks"])
    return allowed, refused


# --- who ---------------------------------------------------------------------------------------------


def test_master_key_is_the_administrator_and_each_application_key_its_application(contract: ClientContract) -> None:
    admin = contract.authenticate(MASTER)
    assert admin.is_admin and admin.name == "admin" and admin.key_id == key_id(MASTER)
    for name, key in _keys().items():
        caller = contract.authenticate(key)
        assert (caller.name, caller.tasks) == (name, frozenset(MANIFEST["applications"][name]["tasks"]))
        assert not caller.is_admin
        assert key not in caller.key_id


@pytest.mark.parametrize("key", [None, "", "sk-wrong", MASTER + "x", "Bearer " + MASTER])
def test_a_missing_or_unknown_key_is_401_and_never_echoed(contract: ClientContract, key: str | None) -> None:
    refusal = _refused(contract.authenticate, key)
    assert (refusal.status, refusal.kind) == (401, "authentication_error")
    assert "docs/client-api.md" in refusal.message
    if key:
        assert key not in refusal.message


def test_an_application_without_its_key_in_the_environment_cannot_call(capsys: pytest.CaptureFixture[str]) -> None:
    name, app = next(iter(MANIFEST["applications"].items()))
    contract = ClientContract.load(ROUTING, {"LITELLM_MASTER_KEY": MASTER})
    assert name not in contract.application_keys.values()
    assert f"{app['key_env']} is unset" in capsys.readouterr().err
    assert _refused(contract.authenticate, "").status == 401


# --- routes ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/v1/images/generations", "/v1/responses", "/v1/completions", "/v1/audio/speech", "/key/generate", "/"]
)
def test_an_application_gets_404_outside_the_surface(contract: ClientContract, path: str) -> None:
    caller = contract.authenticate(next(iter(_keys().values())))
    refusal = _refused(contract.check_route, caller, "POST", path)
    assert (refusal.status, refusal.kind) == (404, "not_found_error")
    assert f"POST {path} is not served" in refusal.message
    assert "POST /v1/chat/completions" in refusal.message and "GET /v1/models" in refusal.message


def test_the_surface_is_open_to_applications_and_everything_to_administrators(contract: ClientContract) -> None:
    caller = contract.authenticate(next(iter(_keys().values())))
    for path, method in CLIENT_ROUTES.items():
        contract.check_route(caller, method, path)
        contract.check_route(caller, method, path + "/")
    contract.check_route(contract.authenticate(MASTER), "GET", "/model/info")


@pytest.mark.parametrize("key", [MASTER, *_keys().values()])
@pytest.mark.parametrize("path", ["/v1/embeddings", "/embeddings"])
def test_embeddings_name_snowflake_cortex_and_routing_json(contract: ClientContract, key: str, path: str) -> None:
    refusal = _refused(contract.check_route, contract.authenticate(key), "POST", path)
    assert refusal.status == 404
    cortex = MANIFEST["tasks"]["embeddings"]["cortex"]
    for fragment in ("Snowflake Cortex", cortex["function"], cortex["model"], "routing.json"):
        assert fragment in refusal.message


# --- tasks -------------------------------------------------------------------------------------------


def test_tasks_an_application_may_and_may_not_use(contract: ClientContract) -> None:
    allowed, refused = _app_with_and_without("experimental")
    contract.check_task(contract.authenticate(_keys()[allowed]), "experimental")
    refusal = _refused(contract.check_task, contract.authenticate(_keys()[refused]), "experimental")
    assert (refusal.status, refusal.kind, refusal.param) == (403, "permission_error", "model")
    assert f"Application '{refused}' may not use task 'experimental'" in refusal.message
    for task in MANIFEST["applications"][refused]["tasks"]:
        assert f"'{task}'" in refusal.message


def test_unknown_task_is_404_naming_it_and_the_list_endpoint(contract: ClientContract) -> None:
    for key in (MASTER, *_keys().values()):
        refusal = _refused(contract.check_task, contract.authenticate(key), "nosuchtask")
        assert (refusal.status, refusal.param) == (404, "model")
        assert "'nosuchtask'" in refusal.message and "GET /v1/models" in refusal.message


def test_a_cortex_task_named_on_a_chat_route_says_where_it_runs(contract: ClientContract) -> None:
    refusal = _refused(contract.check_task, contract.authenticate(MASTER), "embeddings")
    assert refusal.status == 404
    assert (
        "Snowflake Cortex" in refusal.message
        and MANIFEST["tasks"]["embeddings"]["cortex"]["function"] in refusal.message
    )


def test_administrators_may_use_every_gateway_task_and_model_must_be_a_string(contract: ClientContract) -> None:
    admin = contract.authenticate(MASTER)
    for task, entry in MANIFEST["tasks"].items():
        if entry["route"] == "gateway":
            contract.check_task(admin, task)
    contract.check_task(admin, None)  # the engine names the missing field itself
    assert _refused(contract.check_task, admin, ["chat"]).status == 400


# --- bodies ------------------------------------------------------------------------------------------


def _chat(**fields: Any) -> dict[str, Any]:
    return {"model": "chat", "messages": [{"role": "user", "content": "hi"}], **fields}


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "chat", "messages": "hello"}, "messages"),
        ({"model": "chat", "messages": []}, "messages"),
        ({"model": "chat", "messages": ["hello"]}, "messages[0]"),
        ({"model": "chat", "messages": [{"content": "hi"}]}, "messages[0].role"),
        ({"model": "chat", "messages": [{"role": "user", "content": ["x"]}]}, "messages[0].content"),
        ({"model": "chat", "messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
        (_chat(tools="x"), "tools"),
        (_chat(tools=[1]), "tools"),
        (_chat(response_format="json"), "response_format"),
        (_chat(num_retries=10), "num_retries"),
        (_chat(fallbacks=["experimental"]), "fallbacks"),
        (_chat(context_window_fallbacks=[{"chat": ["experimental"]}]), "context_window_fallbacks"),
        (_chat(api_key="sk-my-own-provider-key"), "api_key"),
    ],
)
@pytest.mark.parametrize("call_type", ["acompletion", "anthropic_messages"])
def test_bodies_the_router_would_mangle_are_400_naming_the_field(
    body: dict[str, Any], param: str, call_type: str
) -> None:
    refusal = _refused(check_body, body, call_type)
    assert (refusal.status, refusal.kind, refusal.param) == (400, "invalid_request_error", param)
    assert f"'{param}'" in refusal.message
    assert "sk-my-own-provider-key" not in refusal.message


@pytest.mark.parametrize(
    "body",
    [
        _chat(),
        _chat(stream=True, user="user-1", metadata={"request_id": "r-1"}, temperature=0.2, unknown_param="kept"),
        {"model": "chat", "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]},
        {"model": "chat", "messages": [{"role": "assistant", "content": None, "tool_calls": []}]},
        _chat(tools=[{"type": "function", "function": {"name": "f"}}], response_format={"type": "json_object"}),
        {"model": "chat"},  # the engine names the missing 'messages'
    ],
)
def test_well_formed_bodies_pass(body: dict[str, Any]) -> None:
    check_body(body, "acompletion")


def test_other_call_types_are_not_read_as_chat() -> None:
    check_body({"model": "x", "input": "text"}, "aembedding")
    assert _refused(check_body, {"model": "x", "num_retries": 3}, "aembedding").param == "num_retries"


# --- error bodies ------------------------------------------------------------------------------------

LITELLM_TRACEBACK = (
    "litellm.APIConnectionError: 'str' object has no attribute 'get'\n"
    "Traceback (most recent call last):\n"
    '  File "/work/main/runtime/litellm/.venv/lib/python3.11/site-packages/litellm/main.py", line 689, in acompletion\n'
    "    messages = validate_and_fix_openai_messages(messages=messages)\n"
    "AttributeError: 'str' object has no attribute 'get'"
)


def test_scrub_keeps_the_message_and_drops_the_traceback() -> None:
    assert has_internals(LITELLM_TRACEBACK)
    assert scrub(LITELLM_TRACEBACK) == "litellm.APIConnectionError: 'str' object has no attribute 'get'"
    assert scrub("failed to read /usr/local/lib/python3.11/x.py today") == "failed to read <path> today"
    # Request paths and URLs are not local paths.
    for message in ("POST /v1/foo is not served", "see https://api.openai.com/v1/chat/completions"):
        assert not has_internals(message) and scrub(message) == message


@given(
    prefix=st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=40),
    path=st.lists(st.from_regex(r"[A-Za-z0-9_.-]{1,12}", fullmatch=True), min_size=1, max_size=5),
    root=st.sampled_from(["usr", "home", "tmp", "work", "app", "opt", "root", "var"]),
)
def test_scrubbed_messages_have_no_internals(prefix: str, path: list[str], root: str) -> None:
    message = f"{prefix} /{root}/{'/'.join(path)} {prefix}\n{LITELLM_TRACEBACK}"
    assert not has_internals(scrub(message))


def test_spent_routes_answer_502_503_504_naming_the_task_and_targets() -> None:
    targets = ["chat/gpt-4o-mini", "chat/claude-haiku"]
    cases = {
        "failed": (502, "every target is failing"),
        "unavailable": (503, "every target is unavailable"),
        "timeout": (504, "no target answered in time"),
        "cooling": (503, "is cooling down"),
    }
    for kind, (status, text) in cases.items():
        answer = upstream_failure("chat", kind, targets, "chat/claude-haiku", "ServiceUnavailableError 503", 7)  # type: ignore[arg-type]
        assert answer.status == status and text in answer.message, kind
        assert "Task 'chat'" in answer.message and all(target in answer.message for target in targets)
        assert answer.headers["x-should-retry"] == "false"
        assert answer.headers["x-portkey-gateway-exception"] == "true"
        assert ("retry-after" in answer.headers) == (kind == "cooling")
    assert upstream_failure("chat", "cooling", targets, None, "", 7).headers["retry-after"] == "7"
