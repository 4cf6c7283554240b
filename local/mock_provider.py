"""A fake LLM provider on loopback that speaks the wire formats the gateways use, with fault injection.

One server stands in for every provider of the ``local`` environment, each under its own path prefix
(docs/CONTRACT.md): ``/openai/v1``, ``/openrouter/v1`` (OpenAI format) and ``/anthropic/v1`` (Anthropic
Messages). A *target* is ``"<provider>/<model>"``, e.g. ``openai/gpt-4o``; the model comes from the
request body. Every answer names the target that produced it, in the content (``served-by openai/gpt-4o``)
and in the ``x-mock-target`` header, so a test can tell which deployment a gateway chose.

Routes::

    POST /<provider>/v1/chat/completions     OpenAI chat completions, JSON or ``stream: true`` SSE
    POST /<provider>/v1/embeddings          OpenAI embeddings
    POST /anthropic/v1/messages             Anthropic messages, JSON or SSE events
    GET  /<provider>/v1/models               the provider's models (OpenAI list; Anthropic's own shape)
    GET  /_control/health                   readiness
    GET  /_control/calls                    calls per target: count, statuses, arrival timestamps
    POST /_control/fail     {"target", "status", "times"?}   fail every call (or the next ``times``)
    POST /_control/sleep    {"target", "seconds"}            delay before the first byte
    POST /_control/recover  {"target"}                       clear faults of a target
    POST /_control/reset                                     clear all faults and call records

A control ``target`` is an exact target, ``"<provider>/*"`` or ``"*"``; the most specific rule wins.

The models a provider lists are the ones a ``routing.json`` routes to it (``--routing``, or
``models=`` in-process), so a gateway that forwards ``models.list()`` upstream (Portkey) gets a real
answer. Run it in-process (``MockProvider().start()``, a daemon thread) or as a process
(``python -m local.mock_provider --port N``); drive either with :class:`MockControl`.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

OPENAI_COMPATIBLE_PROVIDERS = frozenset({"openai", "openrouter"})
ANTHROPIC_PROVIDER = "anthropic"
EMBEDDING_DIMENSIONS = 8


@dataclass
class Fault:
    """What a target does instead of answering normally."""

    status: int | None = None  # answer with this status ...
    remaining: int | None = None  # ... for this many more calls (None: until recovered)
    sleep_seconds: float = 0.0  # delay before the first byte


@dataclass
class CallRecord:
    timestamp: float
    status: int
    api: str
    stream: bool


@dataclass
class MockState:
    """Faults and call records, shared by the handler threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    faults: dict[str, Fault] = field(default_factory=dict)
    calls: dict[str, list[CallRecord]] = field(default_factory=dict)

    def _rule_for(self, target: str) -> Fault | None:
        provider = target.split("/", 1)[0]
        for key in (target, f"{provider}/*", "*"):
            if key in self.faults:
                return self.faults[key]
        return None

    def decide(self, target: str) -> tuple[int | None, float]:
        """Consume one call's worth of the target's fault: (status to fail with or None, sleep seconds)."""
        with self.lock:
            rule = self._rule_for(target)
            if rule is None:
                return None, 0.0
            status = rule.status
            if status is not None and rule.remaining is not None:
                if rule.remaining > 0:
                    rule.remaining -= 1
                else:
                    status = None
            return status, rule.sleep_seconds

    def record(self, target: str, status: int, api: str, stream: bool) -> int:
        with self.lock:
            calls = self.calls.setdefault(target, [])
            calls.append(CallRecord(time.time(), status, api, stream))
            return len(calls)

    def set_failure(self, target: str, status: int, times: int | None) -> None:
        with self.lock:
            rule = self.faults.setdefault(target, Fault())
            rule.status, rule.remaining = status, times

    def set_sleep(self, target: str, seconds: float) -> None:
        with self.lock:
            self.faults.setdefault(target, Fault()).sleep_seconds = seconds

    def recover(self, target: str) -> None:
        with self.lock:
            self.faults.pop(target, None)

    def reset(self) -> None:
        with self.lock:
            self.faults.clear()
            self.calls.clear()

    def report(self, detail: bool) -> dict[str, Any]:
        with self.lock:
            report: dict[str, Any] = {}
            for target, calls in self.calls.items():
                entry: dict[str, Any] = {
                    "count": len(calls),
                    "ok": sum(1 for call in calls if call.status < 400),
                    "failed": sum(1 for call in calls if call.status >= 400),
                    "timestamps": [call.timestamp for call in calls],
                }
                if detail:
                    entry["calls"] = [call.__dict__ for call in calls]
                report[target] = entry
            return {"targets": report, "faults": {key: rule.__dict__ for key, rule in self.faults.items()}}


def _served_by(target: str) -> str:
    return f"served-by {target}"


def _token_count(payload: Any) -> int:
    return max(1, len(json.dumps(payload, separators=(",", ":"))) // 4)


def _openai_error(status: int, target: str) -> dict[str, Any]:
    message = f"mock failure {status} from {target}"
    return {"error": {"message": message, "type": "mock_error", "code": status}}


def _anthropic_error(status: int, target: str) -> dict[str, Any]:
    kind = {429: "rate_limit_error", 529: "overloaded_error"}.get(status, "api_error")
    return {"type": "error", "error": {"type": kind, "message": f"mock failure {status} from {target}"}}


class MockHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the gateways pool connections
    disable_nagle_algorithm = True  # TCP_NODELAY: without it each response waits ~40 ms for a delayed ACK
    server: MockHTTPServer
    error_content_type = "application/json"

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    # --- plumbing -------------------------------------------------------------------------------------

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send_json(self, status: int, payload: Any, target: str | None = None) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if target is not None:
            self.send_header("x-mock-target", target)
        self.end_headers()
        self.wfile.write(body)

    def _start_stream(self, target: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("x-mock-target", target)
        self.end_headers()

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")

    # --- routing --------------------------------------------------------------------------------------

    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        if path == "/_control/health":
            self._send_json(200, {"status": "ok"})
        elif path == "/_control/calls":
            self._send_json(200, self.server.state.report(detail="detail=1" in query))
        elif path.removesuffix("/").endswith("/v1/models") and path.count("/") == 3:
            provider = path.lstrip("/").split("/", 1)[0]
            self._send_json(200, _model_list(provider, self.server.models.get(provider, ())))
        else:
            self._send_json(404, {"error": {"message": f"no route GET {path}"}})

    def do_POST(self) -> None:
        try:
            raw = self._read_body()
            body = json.loads(raw) if raw else {}
        except (ValueError, OSError):
            self._send_json(400, {"error": {"message": "request body is not JSON"}})
            return
        path = self.path.partition("?")[0]
        if path.startswith("/_control/"):
            self._control(path.removeprefix("/_control/"), body)
            return
        provider, _, rest = path.lstrip("/").partition("/")
        # Clients differ in whether they append /v1 to a base URL that already ends in /v1.
        endpoint = rest.removeprefix("v1/").removeprefix("v1/")
        if endpoint == "messages" and provider == ANTHROPIC_PROVIDER:
            self._provider_call(provider, "messages", body)
        elif endpoint in ("chat/completions", "embeddings") and provider in OPENAI_COMPATIBLE_PROVIDERS:
            self._provider_call(provider, endpoint, body)
        else:
            self._send_json(404, {"error": {"message": f"no route POST {path}"}})

    def _control(self, action: str, body: dict[str, Any]) -> None:
        state = self.server.state
        target = str(body.get("target", "*"))
        if action == "fail":
            times = body.get("times")
            state.set_failure(target, int(body.get("status", 503)), None if times is None else int(times))
        elif action == "sleep":
            state.set_sleep(target, float(body.get("seconds", 0)))
        elif action == "recover":
            state.recover(target)
        elif action == "reset":
            state.reset()
        else:
            self._send_json(404, {"error": {"message": f"unknown control action {action!r}"}})
            return
        self._send_json(200, {"ok": True, "action": action, "target": target})

    def _provider_call(self, provider: str, api: str, body: dict[str, Any]) -> None:
        model = str(body.get("model", "unknown"))
        target = f"{provider}/{model}"
        stream = bool(body.get("stream")) and api != "embeddings"
        status, sleep_seconds = self.server.state.decide(target)
        # Recorded on arrival, before any sleep: a call still sleeping when a test resets the mock must
        # not land in the next test's records, and "calls per target" counts what reached the upstream.
        self.server.state.record(target, status or 200, api, stream)
        if sleep_seconds:
            time.sleep(sleep_seconds)
        if status is not None:
            error = _anthropic_error if api == "messages" else _openai_error
            self._send_json(status, error(status, target), target)
        elif api == "embeddings":
            self._send_json(200, _embeddings(model, body), target)
        elif api == "messages":
            if stream:
                self._stream_anthropic(target, model, body)
            else:
                self._send_json(200, _anthropic_message(target, model, body), target)
        elif stream:
            self._stream_openai(target, model, body)
        else:
            self._send_json(200, _chat_completion(target, model, body), target)

    # --- streams --------------------------------------------------------------------------------------

    def _stream_openai(self, target: str, model: str, body: dict[str, Any]) -> None:
        completion_id = f"chatcmpl-mock-{time.monotonic_ns()}"
        created = int(time.time())

        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
            payload = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
            }
            return b"data: " + json.dumps(payload).encode() + b"\n\n"

        self._start_stream(target)
        self._write_chunk(chunk({"role": "assistant", "content": ""}))
        for word in _words(_served_by(target)):
            self._write_chunk(chunk({"content": word}))
        self._write_chunk(chunk({}, "stop"))
        if (body.get("stream_options") or {}).get("include_usage"):
            usage = _openai_usage(body)
            payload = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [],
                "usage": usage,
            }
            self._write_chunk(b"data: " + json.dumps(payload).encode() + b"\n\n")
        self._write_chunk(b"data: [DONE]\n\n")
        self._end_stream()

    def _stream_anthropic(self, target: str, model: str, body: dict[str, Any]) -> None:
        message = _anthropic_message(target, model, body)

        def event(name: str, payload: dict[str, Any]) -> bytes:
            return f"event: {name}\ndata: {json.dumps(payload)}\n\n".encode()

        start = {
            **message,
            "content": [],
            "stop_reason": None,
            "usage": {"input_tokens": message["usage"]["input_tokens"], "output_tokens": 1},
        }
        self._start_stream(target)
        self._write_chunk(event("message_start", {"type": "message_start", "message": start}))
        self._write_chunk(
            event(
                "content_block_start",
                {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            )
        )
        self._write_chunk(event("ping", {"type": "ping"}))
        for word in _words(_served_by(target)):
            self._write_chunk(
                event(
                    "content_block_delta",
                    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": word}},
                )
            )
        self._write_chunk(event("content_block_stop", {"type": "content_block_stop", "index": 0}))
        self._write_chunk(
            event(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                    "usage": {"output_tokens": message["usage"]["output_tokens"]},
                },
            )
        )
        self._write_chunk(event("message_stop", {"type": "message_stop"}))
        self._end_stream()


def _words(text: str) -> list[str]:
    words = text.split(" ")
    return [word if i == 0 else " " + word for i, word in enumerate(words)]


def _openai_usage(body: dict[str, Any]) -> dict[str, int]:
    prompt = _token_count(body.get("messages", body.get("input", "")))
    return {"prompt_tokens": prompt, "completion_tokens": 4, "total_tokens": prompt + 4}


def _chat_completion(target: str, model: str, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-mock-{time.monotonic_ns()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": _served_by(target)},
                "finish_reason": "stop",
            }
        ],
        "usage": _openai_usage(body),
    }


def _anthropic_message(target: str, model: str, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"msg_mock_{time.monotonic_ns()}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": _served_by(target)}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": _token_count(body.get("messages", "")), "output_tokens": 4},
    }


def _model_list(provider: str, models: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """``GET /v1/models`` as the provider answers it: Anthropic's paged shape, or OpenAI's list."""
    if provider == ANTHROPIC_PROVIDER:
        data = [
            {"type": "model", "id": model, "display_name": model, "created_at": "2025-01-01T00:00:00Z"}
            for model in models
        ]
        first, last = (data[0]["id"], data[-1]["id"]) if data else (None, None)
        return {"data": data, "has_more": False, "first_id": first, "last_id": last}
    return {
        "object": "list",
        "data": [{"id": model, "object": "model", "created": 0, "owned_by": provider} for model in models],
    }


def routed_models(routing: Mapping[str, Any]) -> dict[str, list[str]]:
    """Provider → the provider model ids a ``routing.json`` routes to it: what the mock lists."""
    models: dict[str, set[str]] = {}
    for task in routing["tasks"].values():
        for target in task.get("targets") or []:
            models.setdefault(target["provider"], set()).add(target["provider_model"])
    return {provider: sorted(ids) for provider, ids in sorted(models.items())}


def _embeddings(model: str, body: dict[str, Any]) -> dict[str, Any]:
    inputs = body.get("input", "")
    items = inputs if isinstance(inputs, list) else [inputs]
    dimensions = int(body.get("dimensions") or EMBEDDING_DIMENSIONS)
    data = []
    for index, item in enumerate(items):
        seed = sum(json.dumps(item).encode()) or 1
        vector = [((seed * (i + 7)) % 1000) / 1000.0 for i in range(dimensions)]
        data.append({"object": "embedding", "index": index, "embedding": vector})
    tokens = _token_count(items)
    return {"object": "list", "data": data, "model": model, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}


class MockHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # benchmarks open many connections at once

    def __init__(
        self, address: tuple[str, int], verbose: bool = False, models: Mapping[str, list[str]] | None = None
    ) -> None:
        super().__init__(address, MockHandler)
        self.state = MockState()
        self.verbose = verbose
        self.models = dict(models or {})


class MockProvider:
    """The mock provider served from a daemon thread of this process (for tests and ``make run``)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        verbose: bool = False,
        models: Mapping[str, list[str]] | None = None,
    ) -> None:
        self._server = MockHTTPServer((host, port), verbose=verbose, models=models)
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def state(self) -> MockState:
        return self._server.state

    def start(self) -> MockProvider:
        self._thread = threading.Thread(target=self._server.serve_forever, name="mock-provider", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> MockProvider:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class MockControl:
    """Client for the control API of a mock provider running anywhere (thread or process)."""

    def __init__(self, base_url: str, timeout: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, route: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        response = httpx.request(method, f"{self.base_url}/_control/{route}", json=payload, timeout=self.timeout)
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        return answer

    def fail(self, target: str, status: int = 503, times: int | None = None) -> None:
        """Fail every call to ``target`` with ``status``, or only the next ``times`` calls."""
        self._call("POST", "fail", {"target": target, "status": status, "times": times})

    def sleep(self, target: str, seconds: float) -> None:
        self._call("POST", "sleep", {"target": target, "seconds": seconds})

    def recover(self, target: str) -> None:
        self._call("POST", "recover", {"target": target})

    def reset(self) -> None:
        self._call("POST", "reset", {})

    def calls(self, detail: bool = False) -> dict[str, Any]:
        """Per target: count, ok, failed, timestamps (and each call with ``detail``)."""
        return self._call("GET", "calls" + ("?detail=1" if detail else ""))["targets"]

    def faults(self) -> dict[str, Any]:
        """The fault rules in force, by control target (empty when the mock answers normally)."""
        return self._call("GET", "calls")["faults"]

    def count(self, target: str) -> int:
        return int(self.calls().get(target, {}).get("count", 0))

    def healthy(self) -> bool:
        try:
            return self._call("GET", "health").get("status") == "ok"
        except httpx.HTTPError:
            return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: a free port from the OS")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    parser.add_argument("--routing", type=Path, help="a routing.json: each provider lists the models routed to it")
    args = parser.parse_args(argv)
    models = routed_models(json.loads(args.routing.read_text())) if args.routing else None
    server = MockHTTPServer((args.host, args.port), verbose=args.verbose, models=models)
    host, port = server.server_address[:2]
    print(f"mock provider listening on http://{host}:{port}", flush=True)

    def stop(signum: int, frame: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["MockControl", "MockProvider", "main"]
