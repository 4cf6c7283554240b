"""Scrape a real LiteLLM proxy's `/metrics` after a little traffic: the series the monitoring reads.

Starts, on 127.0.0.1, the mock provider, two Redis instances and the pinned LiteLLM proxy on the
generated `local` config; sends a bounded set of requests (one success per task, a repeated request
for a cache hit, code_generation with its first choice failing for fallbacks and then with both
targets failing for errors); scrapes `/metrics/` with the master key; stops everything; and prints
each `litellm_*` series with its label names. The LiteLLM table of docs/metrics.md comes from it.

    python -m tools.scrape_litellm            # series and label names
    python -m tools.scrape_litellm --raw      # the whole scrape (no secret in it: hashed keys only)
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import defaultdict

import httpx

from local.client import CHAT_PATH, gateway_tasks, litellm_headers
from local.environment import build_local_tree, load_local_spec, prepare_environment, private_work_dir
from local.mock_provider import MockControl
from local.processes import engine_environment, start_litellm, start_mock_provider, start_redis_pair
from runtime.engines import LITELLM

SERIES = re.compile(r"^(litellm_[a-z_]+)\{(.*)\} ", re.MULTILINE)
LABEL = re.compile(r'([a-z_]+)="')
FIRST_CHOICE, FALLBACK = "openai/gpt-4o", "anthropic/claude-sonnet-4-5-20250929"


def _body(task: str, text: str) -> dict[str, object]:
    return {"model": task, "messages": [{"role": "user", "content": text}], "max_tokens": 8}


def scrape() -> str:
    with private_work_dir("llm-gateway-scrape-") as work:
        generated = build_local_tree(work / "generated", load_local_spec())
        logs = work / "logs"
        mock_server = start_mock_provider(logs, routing=generated / "routing.json")
        redis = start_redis_pair(logs)
        try:
            env = prepare_environment(generated, work / "litellm", mock_server.url, redis.endpoints)
            plain = engine_environment(LITELLM, env.root, work / "litellm")
            server = start_litellm(env.litellm_config, logs, env={**plain, **env.env})
            try:
                mock = MockControl(mock_server.url)
                headers = litellm_headers(env.env["LITELLM_MASTER_KEY"])
                with httpx.Client(base_url=server.url, headers=headers, timeout=60) as client:
                    for task in gateway_tasks(env.routing):
                        client.post(CHAT_PATH, json=_body(task, f"scrape {task}"))
                    for _ in range(2):  # the second is a cache hit
                        client.post(CHAT_PATH, json=_body("chat", "the same question twice"))
                    mock.fail(FIRST_CHOICE)
                    for index in range(3):
                        client.post(CHAT_PATH, json=_body("code_generation", f"fallback {index}"))
                    mock.fail(FALLBACK)
                    for index in range(2):
                        client.post(CHAT_PATH, json=_body("code_generation", f"error {index}"))
                    return client.get("/metrics/").raise_for_status().text
            finally:
                server.stop()
        finally:
            redis.stop()
            mock_server.stop()


def series_labels(text: str) -> dict[str, set[str]]:
    labels: dict[str, set[str]] = defaultdict(set)
    for name, body in SERIES.findall(text):
        if not name.endswith("_created"):
            labels[name].update(LABEL.findall(body))
    return dict(labels)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.scrape_litellm", description=__doc__.splitlines()[0])
    parser.add_argument("--raw", action="store_true", help="print the whole scrape")
    args = parser.parse_args(argv)
    text = scrape()
    if args.raw:
        print(text, end="")
        return 0
    for name, labels in sorted(series_labels(text).items()):
        print(f"{name}: {', '.join(sorted(labels))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
