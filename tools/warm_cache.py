"""Fill the gateway's response cache by replaying a file of requests, then check it on a second replay.

    LLM_GATEWAY_KEY=... python -m tools.warm_cache --requests FILE [--gateway URL] [--rate 5] [--limit 1000]

The file has the shape of the request log's export and of ``python -m gateway_config cost``'s input
(CSV with a header, or JSONL; column names in any case; other columns ignored), plus what the log
does not keep (it never stores prompts): per request its ``task`` and either ``prompt`` (one user
message) or ``messages`` (a JSON array of ``{"role", "content"}``), optionally ``max_tokens`` and
``temperature``. The cache key is the whole request body, so warm with the bodies clients send.

1. **Warm**: each distinct request once (duplicates in the file are sent once), at most ``--rate`` per
   second, at most ``--limit`` requests, for at most ``--max-seconds``. A request answered from the
   cache was already warm (the hit rate *before*); a miss answered 200 is an entry written.
2. **Replay** (unless ``--no-replay``): the same requests again, same bounds; the hit rate *after*.
   Every warmed request should now be a hit (exit 1 otherwise).

The gateway is ``--gateway`` or ``LLM_GATEWAY_URL``; the key only ever comes from ``LLM_GATEWAY_KEY``
(never a command line). A gateway that is not on loopback needs ``--allow-remote``: a warm run sends
real, billed provider calls, so pointing it at a shared gateway is a deliberate act. A hit is the
``x-litellm-cache-key`` header LiteLLM sets on an answer served from its cache.

Exit codes: 0 done (and every warmed request a hit on replay), 1 failed requests or misses on replay,
2 bad input (file, argument, environment): one line per problem, nothing sent.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from gateway_config.cost import MAX_PROBLEMS, request_records
from gateway_config.errors import InputError, Problem
from gateway_config.rules import is_loopback_host

URL_ENV = "LLM_GATEWAY_URL"
KEY_ENV = "LLM_GATEWAY_KEY"
# LiteLLM sets it on an answer served from its response cache (and only then).
CACHE_KEY_HEADER = "x-litellm-cache-key"
CHAT_PATH = "/v1/chat/completions"
EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2
MAX_RATE = 50.0  # requests per second: warming is a background job, not a load test
OPTIONAL_NUMBERS = {"max_tokens": int, "temperature": float}


@dataclass(frozen=True)
class WarmRequest:
    line: int  # the first line of the file that asked for this body
    body: Mapping[str, Any]

    def key(self) -> str:
        return json.dumps(self.body, sort_keys=True)


@dataclass
class Pass:
    """One pass over the requests: what the gateway answered."""

    name: str
    sent: int = 0
    hits: int = 0
    failed: list[tuple[int, int]] = field(default_factory=list)  # (line, HTTP status; 0 = no answer)
    missed_lines: list[int] = field(default_factory=list)
    stopped_by: str | None = None

    @property
    def written(self) -> int:
        """Misses answered 200: the gateway stored each answer in its cache."""
        return self.sent - self.hits - len(self.failed)

    def hit_rate(self) -> str:
        return f"{self.hits}/{self.sent} ({self.hits / self.sent:.1%})" if self.sent else "0/0"


# --- the request file -------------------------------------------------------------------------------


def _messages(value: Any, line: int) -> tuple[list[dict[str, str]] | None, Problem | None]:
    try:
        messages = json.loads(value) if isinstance(value, str) else value
    except json.JSONDecodeError as error:
        return None, Problem(("messages",), f"not JSON ({error.msg})", line)
    if (
        not isinstance(messages, list)
        or not messages
        or not all(
            isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
            for m in messages
        )
    ):
        return None, Problem(("messages",), 'must be a non-empty JSON array of {"role", "content"} strings', line)
    return [{"role": m["role"], "content": m["content"]} for m in messages], None


def _request(line: int, record: Mapping[str, Any]) -> tuple[WarmRequest | None, list[Problem]]:
    # The request log's export names columns in upper case (Snowflake); any case is accepted.
    fields = {str(key).strip().lower(): value for key, value in record.items()}
    problems: list[Problem] = []
    task = str(fields.get("task") or "").strip()
    if not task:
        problems.append(Problem(("task",), "missing", line))
    prompt, raw_messages = fields.get("prompt"), fields.get("messages")
    messages: list[dict[str, str]] | None = None
    if raw_messages not in (None, ""):
        messages, problem = _messages(raw_messages, line)
        problems += [problem] if problem else []
    elif isinstance(prompt, str) and prompt.strip():
        messages = [{"role": "user", "content": prompt}]
    else:
        problems.append(Problem(("prompt",), "missing: each request needs a prompt or messages", line))
    body: dict[str, Any] = {"model": task, "messages": messages}
    for name, kind in OPTIONAL_NUMBERS.items():
        value = fields.get(name)
        if value in (None, ""):
            continue
        try:
            number = kind(value)
        except (TypeError, ValueError):
            problems.append(Problem((name,), f"not a number (got {value!r})", line))
            continue
        if number < 0 or (kind is int and isinstance(value, float) and not value.is_integer()):
            problems.append(Problem((name,), f"must be a non-negative {kind.__name__} (got {value!r})", line))
            continue
        body[name] = number
    return (None, problems) if problems else (WarmRequest(line, body), [])


def read_requests(path: Path) -> tuple[list[WarmRequest], int]:
    """The distinct requests of ``path`` in file order and how many duplicates were dropped;
    :class:`InputError` names every bad line and column."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(name, [Problem((), "not UTF-8 text (a CSV or JSONL file of requests)")]) from None
    except OSError as error:
        raise InputError(name, [Problem((), error.strerror or str(error))]) from None
    requests: dict[str, WarmRequest] = {}
    problems: list[Problem] = []
    total = 0
    for line, record in request_records(path, text):
        if isinstance(record, str):
            problems.append(Problem((), record, line))
            continue
        request, row_problems = _request(line, record)
        problems += row_problems
        if request is not None:
            total += 1
            requests.setdefault(request.key(), request)
    if problems:
        shown = problems[:MAX_PROBLEMS]
        if len(problems) > MAX_PROBLEMS:
            shown.append(Problem((), f"... and {len(problems) - MAX_PROBLEMS} more problems"))
        raise InputError(name, shown)
    if not requests:
        raise InputError(name, [Problem((), "no requests: a CSV or JSONL file with task and prompt (or messages)")])
    return list(requests.values()), total - len(requests)


# --- the gateway ----------------------------------------------------------------------------------------


def check_gateway(url: str, allow_remote: bool) -> str:
    """The gateway's base URL (no trailing ``/``, no ``/v1``); :class:`InputError` if it is unusable."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError("--gateway", [Problem((), f"not an http(s) URL (got {url!r})")])
    if not allow_remote and not is_loopback_host(parts.hostname):
        raise InputError(
            "--gateway",
            [
                Problem(
                    (),
                    f"{parts.hostname} is not loopback: a warm run sends billed provider calls; "
                    "pass --allow-remote to warm a shared gateway",
                )
            ],
        )
    return url.rstrip("/").removesuffix("/v1")


def replay(
    client: httpx.Client, requests: Sequence[WarmRequest], name: str, rate: float, limit: int, max_seconds: float
) -> Pass:
    """Send each request once, in order, at most ``rate`` per second, ``limit`` in all, for ``max_seconds``."""
    result = Pass(name)
    started = time.monotonic()
    for index, request in enumerate(requests):
        if index >= limit:
            result.stopped_by = f"--limit {limit}"
            break
        if time.monotonic() - started >= max_seconds:
            result.stopped_by = f"--max-seconds {max_seconds:g}"
            break
        wait = started + index / rate - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        result.sent += 1
        try:
            response = client.post(CHAT_PATH, json=dict(request.body))
        except httpx.HTTPError:
            result.failed.append((request.line, 0))
            continue
        if response.status_code != 200:
            result.failed.append((request.line, response.status_code))
        elif CACHE_KEY_HEADER in response.headers:
            result.hits += 1
        else:
            result.missed_lines.append(request.line)
    return result


def _report(result: Pass) -> None:
    stop = f"; stopped by {result.stopped_by}" if result.stopped_by else ""
    failed = ", ".join(f"line {line}: HTTP {status or 'no answer'}" for line, status in result.failed[:10])
    print(f"{result.name}: {result.sent} sent, hits {result.hit_rate()}, {len(result.failed)} failed{stop}")
    if failed:
        print(f"  failed: {failed}{' …' if len(result.failed) > 10 else ''}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=Path, required=True, help="CSV or JSONL file of requests")
    parser.add_argument("--gateway", help=f"gateway base URL (default: ${URL_ENV})")
    parser.add_argument("--rate", type=float, default=5.0, help=f"requests per second (at most {MAX_RATE:g})")
    parser.add_argument("--limit", type=int, default=1000, help="requests per pass")
    parser.add_argument("--max-seconds", type=float, default=600.0, help="time bound per pass")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per request")
    parser.add_argument("--settle-seconds", type=float, default=1.0, help="pause before the replay")
    parser.add_argument("--no-replay", action="store_true", help="warm only, do not measure the hit rate after")
    parser.add_argument("--allow-remote", action="store_true", help="allow a gateway that is not on loopback")
    return parser


def _arguments(args: argparse.Namespace, environ: Mapping[str, str]) -> tuple[str, str]:
    problems = []
    if not 0 < args.rate <= MAX_RATE:
        problems.append(("--rate", f"must be above 0 and at most {MAX_RATE:g} (got {args.rate:g})"))
    if args.limit < 1:
        problems.append(("--limit", f"must be at least 1 (got {args.limit})"))
    for name, value in (("--max-seconds", args.max_seconds), ("--timeout", args.timeout)):
        if not value > 0:
            problems.append((name, f"must be positive (got {value:g})"))
    if problems:
        where, message = problems[0]
        raise InputError(where, [Problem((), message)])
    url = args.gateway or environ.get(URL_ENV, "")
    if not url:
        raise InputError("--gateway", [Problem((), f"no gateway: pass --gateway or set {URL_ENV}")])
    key = environ.get(KEY_ENV, "")
    if not key:
        raise InputError(
            "environment", [Problem((KEY_ENV,), "not set: the gateway key is read from the environment only")]
        )
    return check_gateway(url, args.allow_remote), key


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        gateway, key = _arguments(args, os.environ if environ is None else environ)
        requests, duplicates = read_requests(args.requests)
    except InputError as error:
        for line in error.lines():
            print(line, file=sys.stderr)
        return EXIT_INVALID

    print(
        f"warm-cache: {len(requests)} distinct requests from {args.requests}"
        f"{f' ({duplicates} duplicates sent once)' if duplicates else ''} to {gateway}, "
        f"at most {args.rate:g}/s and {args.limit} per pass"
    )
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=gateway, headers=headers, timeout=args.timeout) as client:
        warm = replay(client, requests, "warm", args.rate, args.limit, args.max_seconds)
        _report(warm)
        print(f"  hit rate before: {warm.hit_rate()}; entries written: {warm.written}")
        if args.no_replay:
            return EXIT_FAILED if warm.failed else EXIT_OK
        time.sleep(args.settle_seconds)
        warmed = [request for request in requests[: warm.sent] if request.line not in {f[0] for f in warm.failed}]
        after = replay(client, warmed, "replay", args.rate, args.limit, args.max_seconds)
    _report(after)
    print(f"  hit rate after: {after.hit_rate()}")
    if after.missed_lines:
        shown = ", ".join(map(str, after.missed_lines[:10]))
        print(f"  not cached after warming (file lines): {shown}{' …' if len(after.missed_lines) > 10 else ''}")
    return EXIT_FAILED if warm.failed or after.failed or after.missed_lines else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
