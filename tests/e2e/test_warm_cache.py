"""The cache-warming command (``python -m tools.warm_cache``) against the real LiteLLM with its Redis cache.

Warming a file of prompts makes the next requests for them cache hits (the answer carries
``x-litellm-cache-key`` and no call reaches the mock), also for a client with its own application key;
a prompt not in the file is a miss. The command refuses a gateway that is not on loopback unless told,
stops at ``--limit`` and ``--max-seconds``, and rejects a bad request file with exit 2, naming the file,
line and column. It runs as a subprocess, as an operator runs it: the key in the environment only.
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from e2e_engines import LiteLLMEngine
from e2e_support import cached_tasks, route

from local.client import bearer, chat_body, post_chat
from local.mock_provider import MockControl
from local.processes import REPO_ROOT
from tools.warm_cache import CACHE_KEY_HEADER, KEY_ENV, URL_ENV

pytestmark = pytest.mark.e2e

RATE = "20"  # requests per second: the tests stay quick, still through the rate limiter of the command


def _warm(args: list[str], url: str | None, key: str | None) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if name not in (URL_ENV, KEY_ENV)}
    if url is not None:
        env[URL_ENV] = url
    if key is not None:
        env[KEY_ENV] = key
    return subprocess.run(
        [sys.executable, "-m", "tools.warm_cache", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _request_file(path: Path, task: str, prompts: list[str]) -> Path:
    """A request file in the export's shape (upper-case Snowflake columns, extra columns) plus PROMPT."""
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["REQUEST_TIME", "ENVIRONMENT", "TASK", "PROMPT", "MAX_TOKENS", "CACHE_STATUS"])
        for index, prompt in enumerate(prompts):
            writer.writerow([f"2026-11-23 00:00:{index:02d}.000", "local", task, prompt, "16", "miss"])
    return path


def _prompts(label: str, count: int) -> list[str]:
    nonce = os.urandom(4).hex()
    return [f"warm {label} {nonce} prompt {index}: name three cache eviction policies" for index in range(count)]


def _upstream_calls(mock: MockControl) -> int:
    return sum(entry["count"] for entry in mock.calls().values())


def _cached_task(routing: dict[str, Any]) -> str:
    tasks = cached_tasks(routing)
    assert tasks, "the generated routing.json has no cached task"
    return tasks[0]


def _application_for(engine: LiteLLMEngine, task: str) -> str:
    for name, facts in engine.env.routing["applications"].items():
        if task in facts["tasks"]:
            return engine.env.application_keys[name]
    raise AssertionError(f"no application may call {task}")


def _master_key(engine: LiteLLMEngine) -> str:
    return engine.env.env["LITELLM_MASTER_KEY"]


def test_warming_makes_the_next_requests_hits_and_an_unwarmed_prompt_misses(
    litellm: LiteLLMEngine, routing: dict[str, Any], mock: MockControl, tmp_path: Path
) -> None:
    task = _cached_task(routing)
    warmed = _prompts("hit", 4)
    # A duplicate line is sent once.
    requests = _request_file(tmp_path / "requests.csv", task, [*warmed, warmed[0]])

    result = _warm(["--requests", str(requests), "--rate", RATE], litellm.url, _master_key(litellm))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 distinct requests" in result.stdout and "1 duplicates sent once" in result.stdout, result.stdout
    assert "hit rate before: 0/4 (0.0%); entries written: 4" in result.stdout, result.stdout
    assert "hit rate after: 4/4 (100.0%)" in result.stdout, result.stdout
    assert _master_key(litellm) not in result.stdout + result.stderr

    # A client with its own application key now gets every warmed prompt from the cache, without an
    # upstream call; a prompt that was not warmed is a miss and reaches the provider.
    before = _upstream_calls(mock)
    with litellm.client() as client:
        client.headers.update(bearer(_application_for(litellm, task)))
        hits = [post_chat(client, chat_body(task, prompt)) for prompt in warmed]
        assert [(a.status, CACHE_KEY_HEADER in a.headers) for a in hits] == [(200, True)] * len(warmed)
        assert _upstream_calls(mock) == before
        miss = post_chat(client, chat_body(task, _prompts("miss", 1)[0]))
    assert (miss.status, CACHE_KEY_HEADER in miss.headers) == (200, False), miss.text
    assert _upstream_calls(mock) == before + 1
    # The primary saw the warm pass's four misses and this one: neither the command's replay nor the
    # client's requests for warmed prompts reached it.
    assert mock.count(route(routing, task).primary) == len(warmed) + 1


def test_warming_stops_at_its_limit_and_time_bound(
    litellm: LiteLLMEngine, routing: dict[str, Any], mock: MockControl, tmp_path: Path
) -> None:
    task = _cached_task(routing)
    requests = _request_file(tmp_path / "requests.csv", task, _prompts("limit", 6))

    limited = _warm(
        ["--requests", str(requests), "--rate", RATE, "--limit", "2", "--no-replay"], litellm.url, _master_key(litellm)
    )
    assert limited.returncode == 0, limited.stdout + limited.stderr
    assert "warm: 2 sent" in limited.stdout and "stopped by --limit 2" in limited.stdout, limited.stdout
    assert _upstream_calls(mock) == 2

    # 1 request per second for 1 s: the second start is due when the bound has passed.
    mock.reset()
    timed = _warm(
        ["--requests", str(requests), "--rate", "1", "--max-seconds", "1", "--no-replay"],
        litellm.url,
        _master_key(litellm),
    )
    assert timed.returncode == 0, timed.stdout + timed.stderr
    assert "stopped by --max-seconds 1" in timed.stdout, timed.stdout
    # Starts at 0 s and 1 s at most, and those are the two the first run warmed: nothing reached the provider.
    assert re.search(r"^warm: [12] sent, hits [12]/[12] ", timed.stdout, re.MULTILINE), timed.stdout
    assert _upstream_calls(mock) == 0


@pytest.mark.parametrize("gateway", ["http://10.0.0.8:4000", "https://gateway.example.com", "http://[2001:db8::1]/v1"])
def test_warming_refuses_a_gateway_that_is_not_loopback(gateway: str, tmp_path: Path) -> None:
    requests = _request_file(tmp_path / "requests.csv", "chat", _prompts("remote", 1))
    result = _warm(["--requests", str(requests), "--gateway", gateway], None, "sk-test-not-sent")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "is not loopback" in result.stderr and "--allow-remote" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and "sk-test-not-sent" not in result.stderr + result.stdout
    assert result.stdout == ""  # nothing announced, nothing sent


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (["TASK,PROMPT", "chat,hello", "chat,"], "requests.csv:3: prompt: missing"),
        (["TASK,MESSAGES", 'chat,"[{""role"": ""user""}]"'], "requests.csv:2: messages: must be a non-empty JSON"),
        (["TASK,PROMPT,MAX_TOKENS", "chat,hello,many"], "requests.csv:2: max_tokens: not a number (got 'many')"),
        (["PROMPT", "hello"], "requests.csv:2: task: missing"),
        (["TASK,PROMPT"], "requests.csv: <document>: no requests"),
    ],
)
def test_a_bad_request_file_exits_2_naming_file_line_and_column(
    lines: list[str], expected: str, tmp_path: Path
) -> None:
    requests = tmp_path / "requests.csv"
    requests.write_text("\n".join(lines) + "\n")
    result = _warm(["--requests", str(requests)], "http://127.0.0.1:9", "sk-test")
    assert result.returncode == 2, result.stdout + result.stderr
    assert expected in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_a_bad_jsonl_line_and_a_missing_key_exit_2(tmp_path: Path) -> None:
    requests = tmp_path / "requests.jsonl"
    requests.write_text(json.dumps({"task": "chat", "prompt": "hi"}) + "\n{not json\n")
    result = _warm(["--requests", str(requests)], "http://127.0.0.1:9", "sk-test")
    assert result.returncode == 2 and "requests.jsonl:2: <document>: not a JSON object" in result.stderr, result.stderr

    result = _warm(["--requests", str(requests)], "http://127.0.0.1:9", None)
    assert result.returncode == 2 and f"environment: {KEY_ENV}: not set" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
