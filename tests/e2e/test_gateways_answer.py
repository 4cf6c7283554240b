"""Both real engines answer every routed task of the generated ``local`` config through the mock."""

from __future__ import annotations

import json

import httpx
import pytest

from local.environment import LocalEnvironment
from local.mock_provider import MockControl
from local.processes import ServerProcess
from local.run import served_by

pytestmark = pytest.mark.e2e


def _targets(env: LocalEnvironment, task: str) -> set[str]:
    return {f"{t['provider']}/{t['provider_model']}" for t in env.routing["tasks"][task]["targets"]}


def _chat(task: str, stream: bool = False) -> dict[str, object]:
    return {"model": task, "messages": [{"role": "user", "content": f"e2e {task}"}], "max_tokens": 16,
            "stream": stream}


def test_litellm_answers_every_routed_task(
    litellm_gateway: ServerProcess, litellm_env: LocalEnvironment, mock: MockControl
) -> None:
    tasks = litellm_env.gateway_tasks()
    assert tasks, "the generated routing.json routes no task through the gateway"
    headers = {"Authorization": f"Bearer {litellm_env.env['LITELLM_MASTER_KEY']}"}
    with httpx.Client(base_url=litellm_gateway.url, headers=headers, timeout=30) as client:
        for task in tasks:
            response = client.post("/v1/chat/completions", json=_chat(task))
            assert response.status_code == 200, (task, response.text)
            assert served_by(response) in _targets(litellm_env, task), (task, response.text)
    assert sum(entry["count"] for entry in mock.calls().values()) == len(tasks)


def test_litellm_streams_sse_chunks(
    litellm_gateway: ServerProcess, litellm_env: LocalEnvironment, mock: MockControl
) -> None:
    task = litellm_env.gateway_tasks()[0]
    headers = {"Authorization": f"Bearer {litellm_env.env['LITELLM_MASTER_KEY']}"}
    with httpx.Client(base_url=litellm_gateway.url, headers=headers, timeout=30) as client, \
            client.stream("POST", "/v1/chat/completions", json=_chat(task, stream=True)) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert len(events) >= 3 and events[-1] == "data: [DONE]"
    chunks = [json.loads(line.removeprefix("data: ")) for line in events[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c.get("choices"))
    assert text.removeprefix("served-by ") in _targets(litellm_env, task), text


def test_portkey_answers_every_routed_task(
    portkey_gateway: ServerProcess, portkey_env: LocalEnvironment, mock: MockControl
) -> None:
    tasks = portkey_env.gateway_tasks()
    with httpx.Client(base_url=portkey_gateway.url, timeout=30) as client:
        for task in tasks:
            headers = {"Authorization": "Bearer mock-key", "x-portkey-config": portkey_env.portkey_config(task)}
            response = client.post("/v1/chat/completions", json=_chat(task), headers=headers)
            assert response.status_code == 200, (task, response.text)
            assert served_by(response) in _targets(portkey_env, task), (task, response.text)
            assert response.headers["x-portkey-last-used-option-index"].startswith("config.targets")
