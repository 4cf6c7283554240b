"""Both real engines answer every routed task of the generated ``local`` config through the mock."""

from __future__ import annotations

from typing import Any

import pytest
from e2e_engines import LiteLLMEngine
from e2e_support import gateway_client, post_stream, route, unique_body

from local.client import gateway_tasks, portkey_headers, post_chat
from local.environment import LocalEnvironment
from local.mock_provider import MockControl
from local.processes import ServerProcess

pytestmark = pytest.mark.e2e


def _routed_tasks(routing: dict[str, Any]) -> list[str]:
    tasks = gateway_tasks(routing)
    assert tasks, "the generated routing.json routes no task through the gateway"
    return tasks


def test_litellm_answers_every_routed_task(litellm: LiteLLMEngine, routing: dict[str, Any], mock: MockControl) -> None:
    tasks = _routed_tasks(routing)
    with litellm.client() as client:
        for task in tasks:
            answer = post_chat(client, unique_body(task))
            assert answer.status == 200, (task, answer.text)
            assert answer.target in route(routing, task).targets.values(), (task, answer.text)
    assert sum(entry["count"] for entry in mock.calls().values()) == len(tasks)


def test_litellm_streams_sse_chunks_for_every_routed_task(
    litellm: LiteLLMEngine, routing: dict[str, Any], mock: MockControl
) -> None:
    with litellm.client() as client:
        for task in _routed_tasks(routing):
            stream = post_stream(client, unique_body(task, stream=True))
            assert stream.status == 200, task
            assert stream.content_type.startswith("text/event-stream"), (task, stream.content_type)
            assert len(stream.data_lines) >= 3 and stream.done, (task, stream.data_lines)
            assert stream.target in route(routing, task).targets.values(), (task, stream.text)


def test_portkey_answers_every_routed_task(
    portkey_gateway: ServerProcess, portkey_env: LocalEnvironment, routing: dict[str, Any], mock: MockControl
) -> None:
    with gateway_client(portkey_gateway.url) as client:
        for task in _routed_tasks(routing):
            answer = post_chat(client, unique_body(task), portkey_headers(portkey_env.portkey_config(task)))
            assert answer.status == 200, (task, answer.text)
            assert answer.target in route(routing, task).targets.values(), (task, answer.text)
            assert answer.headers["x-portkey-last-used-option-index"].startswith("config.targets")


def test_portkey_streams_sse_chunks_for_every_routed_task(
    portkey_gateway: ServerProcess, portkey_env: LocalEnvironment, routing: dict[str, Any], mock: MockControl
) -> None:
    """OpenAI-format SSE for every task, the Anthropic targets' event streams converted by the gateway."""
    with gateway_client(portkey_gateway.url) as client:
        for task in _routed_tasks(routing):
            headers = portkey_headers(portkey_env.portkey_config(task))
            stream = post_stream(client, unique_body(task, stream=True), headers)
            assert stream.status == 200, task
            assert stream.content_type.startswith("text/event-stream"), (task, stream.content_type)
            assert len(stream.data_lines) >= 3 and stream.done, (task, stream.data_lines)
            assert stream.target in route(routing, task).targets.values(), (task, stream.text)
