"""The request log end to end: the real LiteLLM proxy with the generated config writes each request
through its ``s3_v2`` callback to a local S3 server (moto, on loopback); the test reads back the
objects it wrote and loads them into Snowflake's table with the pipe's own SELECT (fakesnow).

One scenario covers what the analytics rely on: ids from the body and from headers, a cache hit, a
fallback (two rows, one call id), a request every target refused, the chat experiment's variant, a
stream, a client that sends the gateway's own tags, and prompts that must never reach the log.

``UPDATE_FIXTURES=1`` rewrites ``tests/analytics/fixtures/litellm-request-log.jsonl`` from this run
(the captured payloads the offline COPY tests use); review its diff like any other change.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from e2e_engines import LiteLLMEngine, LiteLLMPool, require_tool

from gateway_config.prices import load_price_map
from gateway_config.runtime_env import S3_FLUSH_INTERVAL
from local.client import CHAT_PATH
from local.mock_provider import MockControl
from local.processes import LITELLM_VENV, MOTO_SERVER, REPO_ROOT, ServerProcess, start_s3
from local.request_log import MOTO_CREDENTIAL, LocalRequestLog
from program.analytics_sql import budget_rows
from tests.analytics.snowflake_support import CAPTURED, load, qualified, rows, snowflake_cursor

pytestmark = pytest.mark.e2e

GENERATED_ENV = json.loads((REPO_ROOT / "gateway_config" / "generated" / "local" / "litellm" / "env.json").read_text())
FLUSH_SECONDS = float(GENERATED_ENV[S3_FLUSH_INTERVAL])
SECRET_WORD = "CONFIDENTIAL"


@dataclass
class Scenario:
    """What the test sent: call ids by label, the prompts (which must not be logged), the objects."""

    log: LocalRequestLog
    engine: LiteLLMEngine
    calls: dict[str, str] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)
    prompts: list[str] = field(default_factory=list)
    payloads: list[dict[str, Any]] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    seconds_to_last_object: float = 0.0

    def by_call(self, label: str) -> list[dict[str, Any]]:
        return sorted(
            (p for p in self.payloads if p["litellm_call_id"] == self.calls[label]), key=lambda p: p["startTime"]
        )


def _send(
    scenario: Scenario,
    client: httpx.Client,
    label: str,
    task: str,
    headers: dict[str, str] | None = None,
    stream: bool = False,
    **extra: Any,
) -> httpx.Response:
    prompt = f"{SECRET_WORD} {label} {uuid.uuid4().hex}"
    scenario.prompts.append(prompt)
    body = {"model": task, "messages": [{"role": "user", "content": prompt}], "max_tokens": 16, **extra}
    if stream:
        body["stream"] = True
        with client.stream("POST", CHAT_PATH, json=body, headers=headers) as response:
            for _ in response.iter_lines():
                pass
    else:
        response = client.post(CHAT_PATH, json=body, headers=headers)
    scenario.calls[label] = response.headers["x-litellm-call-id"]
    scenario.statuses[label] = response.status_code
    return response


@pytest.fixture(scope="module")
def local_s3(e2e_dir: Path) -> Iterator[ServerProcess]:
    require_tool("moto", MOTO_SERVER.exists())
    server = start_s3(e2e_dir / "logs")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def scenario(litellm_pool: LiteLLMPool, local_s3: ServerProcess, mock_server: ServerProcess) -> Iterator[Scenario]:
    log = LocalRequestLog(local_s3.url)
    log.create_bucket()
    mock = MockControl(mock_server.url)
    mock.reset()
    # The flush interval is the generated one (litellm/env.json), not a test override.
    engine = litellm_pool.start_engine("request-log", request_log=log)
    run = Scenario(log, engine)
    try:
        with engine.client() as client:
            ids = {"session_id": "sess-body-0001", "conversation_id": "conv-body-42", "workflow_id": "wf-nightly"}
            forged = ["team:search", "llm-gateway:variant=variant", "llm-gateway:portkey=forged"]
            _send(run, client, "body-ids", "code_generation", user="user-alice", metadata={**ids, "tags": forged})
            cached = {
                "model": "code_generation",
                "messages": [{"role": "user", "content": run.prompts[-1]}],
                "max_tokens": 16,
                "user": "user-alice",
                "metadata": ids,
            }
            for _ in range(25):  # the entry is written just after the answer: repeat until it is served
                response = client.post(CHAT_PATH, json=cached)
                if response.headers.get("x-litellm-cache-key"):
                    break
                time.sleep(0.2)
            run.calls["cache-hit"] = response.headers["x-litellm-call-id"]
            run.statuses["cache-hit"] = response.status_code
            headers = {
                "x-litellm-session-id": "sess-header-0002",
                "x-litellm-spend-logs-metadata": json.dumps({"conversation_id": "conv-hdr", "workflow_id": "wf-hdr"}),
            }
            mock.fail("openai/gpt-4o", 500)
            _send(run, client, "fallback", "business_intelligence", headers=headers, user="user-bob")
            mock.reset()
            for attempt in range(300):  # the variant takes 10 %: P(no variant in 300) < 1e-13
                response = _send(run, client, f"chat-{attempt}", "chat")
                if response.headers.get("x-litellm-model-id") == "chat/claude-haiku":
                    run.calls["variant"] = run.calls[f"chat-{attempt}"]
                    break
            _send(run, client, "stream", "code_generation", stream=True, user="user-alice")
            # LiteLLM's per-request switch off redaction: the generated config keeps prompts out regardless.
            _send(run, client, "unredact", "chat", headers={"litellm-disable-message-redaction": "true"})
            mock.fail("*", 400)  # refused everywhere and not retried: one failure row, an error for the client
            _send(run, client, "refused", "chat", user="user-carol")
            mock.reset()
        started = time.monotonic()
        expected = set(run.calls.values())
        logged = _wait_for_payloads(log, expected, FLUSH_SECONDS * 2 + 15)
        run.payloads = [p for p in logged if p["litellm_call_id"] in expected]  # not the engine's warm-up
        run.seconds_to_last_object = time.monotonic() - started
        run.keys = log.object_keys()
        yield run
    finally:
        mock.reset()
        engine.stop()


def _wait_for_payloads(log: LocalRequestLog, call_ids: set[str], seconds: float) -> list[dict[str, Any]]:
    """Poll the bucket until a payload for every call id is there (bounded by ``seconds``)."""
    deadline = time.monotonic() + seconds
    while True:
        payloads = log.payloads()
        if call_ids <= {p["litellm_call_id"] for p in payloads} or time.monotonic() > deadline:
            return payloads
        time.sleep(0.5)


def test_every_request_reaches_the_bucket_within_the_flush_interval(scenario: Scenario) -> None:
    logged = {p["litellm_call_id"] for p in scenario.payloads}
    missing = {label for label, call in scenario.calls.items() if call not in logged}
    assert not missing, f"not in the request log: {sorted(missing)}"
    assert scenario.seconds_to_last_object <= FLUSH_SECONDS * 2 + 5
    # One NDJSON object per flush, under <prefix>/<UTC date>/, in the bucket the generated config names.
    assert scenario.keys and all(key.startswith(f"{scenario.log.prefix}/") for key in scenario.keys)
    assert all(key.endswith(".jsonl") for key in scenario.keys)
    head = scenario.log.client().head_object(Bucket=scenario.log.bucket, Key=scenario.keys[0])
    assert head["ContentType"] == "application/x-ndjson"


def test_prompts_and_answers_never_reach_the_log(scenario: Scenario) -> None:
    assert scenario.statuses["unredact"] == 200
    everything = b"".join(scenario.log.read_object(key) for key in scenario.keys).decode()
    assert SECRET_WORD not in everything
    for payload in scenario.payloads:
        assert {m["content"] for m in payload["messages"]} == {"redacted-by-litellm"}
    # Nor do credentials: the master key, the provider keys, moto's placeholder ones.
    env = scenario.engine.env.env
    for secret in (env["LITELLM_MASTER_KEY"], *(v for k, v in env.items() if k.endswith("_API_KEY"))):
        assert secret not in everything
    assert f'"{MOTO_CREDENTIAL}"' not in everything and "Bearer" not in everything


def test_a_fallback_is_two_rows_and_a_refusal_one(scenario: Scenario) -> None:
    failed, served = scenario.by_call("fallback")
    assert (failed["status"], failed["model_id"]) == ("failure", "business_intelligence/gpt-4o")
    assert failed["error_information"]["error_code"] == "500"
    assert (served["status"], served["model_id"]) == ("success", "business_intelligence/claude-sonnet")
    assert served["hidden_params"]["additional_headers"]["x-litellm-attempted-retries"] == 1
    (refused,) = scenario.by_call("refused")
    assert scenario.statuses["refused"] == 400 and refused["status"] == "failure"


def test_ids_from_body_and_headers_reach_the_payload(scenario: Scenario) -> None:
    (body,) = scenario.by_call("body-ids")
    assert body["end_user"] == "user-alice" and body["session_id"] == "sess-body-0001"
    assert body["metadata"]["requester_metadata"]["conversation_id"] == "conv-body-42"
    assert body["metadata"]["requester_metadata"]["workflow_id"] == "wf-nightly"
    served = scenario.by_call("fallback")[-1]
    assert served["session_id"] == "sess-header-0002"
    assert served["metadata"]["spend_logs_metadata"] == {"conversation_id": "conv-hdr", "workflow_id": "wf-hdr"}


def test_the_pipe_select_loads_these_payloads(scenario: Scenario, tmp_path: Path) -> None:
    """The objects the callback wrote, through the pipe's SELECT: one row each, the columns right."""
    files = []
    for index, key in enumerate(scenario.keys):
        files.append(tmp_path / f"{index}.jsonl")
        files[-1].write_bytes(scenario.log.read_object(key))
    with snowflake_cursor(budget_rows(scenario.engine.env.routing)) as cursor:
        load(cursor, files, environment="local")
        loaded = {
            (row["CALL_ID"], row["STATUS"]): row
            for row in rows(cursor, f"SELECT * EXCLUDE (RAW) FROM {qualified('REQUEST_LOG')}")
        }
    by_label = {
        label: loaded[(call, "success")] for label, call in scenario.calls.items() if (call, "success") in loaded
    }

    prices = load_price_map()
    body = by_label["body-ids"]
    # A client's copy of the gateway's tags does not win: the deployment's are appended after it.
    assert (body["VARIANT"], body["PORTKEY_PROVIDER"], body["EXPERIMENT"]) == ("control", "openai", None)
    assert (body["USER_ID"], body["SESSION_ID"], body["CONVERSATION_ID"], body["WORKFLOW_ID"]) == (
        "user-alice",
        "sess-body-0001",
        "conv-body-42",
        "wf-nightly",
    )
    price = prices.price("gpt-4o")
    expected = Decimal(body["PROMPT_TOKENS"]) * Decimal(repr(price.input_per_token)) + Decimal(
        body["COMPLETION_TOKENS"]
    ) * Decimal(repr(price.output_per_token))
    assert body["COST_USD"] == expected.quantize(Decimal("1e-10")) and body["CACHE_STATUS"] == "miss"
    hit = by_label["cache-hit"]
    assert (hit["CACHE_STATUS"], hit["COST_USD"], hit["SAVED_CACHE_COST_USD"]) == ("hit", 0, body["COST_USD"])

    served = by_label["fallback"]
    assert (served["MODEL"], served["PROVIDER"], served["FALLBACK"], served["HTTP_STATUS"]) == (
        "claude-sonnet",
        "anthropic",
        True,
        200,
    )
    assert (served["SESSION_ID"], served["CONVERSATION_ID"], served["WORKFLOW_ID"]) == (
        "sess-header-0002",
        "conv-hdr",
        "wf-hdr",
    )
    failed = loaded[(scenario.calls["fallback"], "failure")]
    assert (failed["MODEL"], failed["HTTP_STATUS"], failed["ERROR_CLASS"]) == ("gpt-4o", 500, "InternalServerError")
    refused = loaded[(scenario.calls["refused"], "failure")]
    assert (refused["HTTP_STATUS"], refused["TASK"], refused["ENVIRONMENT"]) == (400, "chat", "local")

    variant = by_label["variant"]
    assert (variant["EXPERIMENT"], variant["VARIANT"], variant["MODEL"]) == (
        "chat-haiku-first",
        "variant",
        "claude-haiku",
    )
    control = by_label["chat-0"] if scenario.calls["chat-0"] != scenario.calls["variant"] else by_label["chat-1"]
    assert (control["EXPERIMENT"], control["VARIANT"]) == ("chat-haiku-first", "control")

    stream = by_label["stream"]
    assert stream["STREAM"] is True and 0 < stream["TTFT_MS"] <= stream["LATENCY_MS"]
    # LiteLLM logs no usage for this stream (docs/runtime-facts.md): the views count it as unmetered.
    # When this fails LiteLLM meters such streams again: drop the caveat from the docs.
    assert (stream["PROMPT_TOKENS"], stream["COST_USD"]) == (0, 0)

    if os.environ.get("UPDATE_FIXTURES") == "1":
        CAPTURED.write_text("".join(json.dumps(p, sort_keys=True) + "\n" for p in scenario.payloads))


def test_an_empty_endpoint_writes_to_the_buckets_aws_url() -> None:
    """What the Deployment sets on AWS (REQUEST_LOG_S3_ENDPOINT=""), read by the real S3 logger."""
    program = (
        "import asyncio, litellm\n"
        "litellm.s3_callback_params = {'s3_bucket_name': 'os.environ/REQUEST_LOG_BUCKET',"
        " 's3_region_name': 'os.environ/REQUEST_LOG_REGION', 's3_endpoint_url': 'os.environ/REQUEST_LOG_S3_ENDPOINT'}\n"
        "from litellm.integrations.s3_v2 import S3Logger\n"
        "async def main():\n"
        "    print(S3Logger()._build_object_url('llm-gateway/prod/x.jsonl'))\n"
        "asyncio.run(main())\n"
    )
    env = {
        "PATH": os.environ.get("PATH", ""),
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "REQUEST_LOG_BUCKET": "gw-log",
        "REQUEST_LOG_REGION": "eu-west-1",
        "REQUEST_LOG_S3_ENDPOINT": "",
    }
    result = subprocess.run(
        [str(LITELLM_VENV / "bin" / "python"), "-c", program], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert (
        result.stdout.strip().splitlines()[-1] == "https://gw-log.s3.eu-west-1.amazonaws.com/llm-gateway/prod/x.jsonl"
    )
