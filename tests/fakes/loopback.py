"""What the fake SaaS APIs share: a threaded HTTP server on 127.0.0.1, a free port, a quick stop."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class LoopbackServer:
    """Serves ``handler`` (a handler class whose ``fake`` attribute is set to this object) on 127.0.0.1."""

    handler: type[BaseHTTPRequestHandler]

    def __init__(self) -> None:
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> Any:
        handler = type(f"{type(self).__name__}Handler", (self.handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        # A short poll interval: stop() returns within 50 ms, so each test's fake costs nothing.
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def origin(self) -> str:
        assert self._server is not None, "start() first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"


class QuietHandler(BaseHTTPRequestHandler):
    """A handler that logs nothing (the fakes record requests themselves)."""

    def log_message(self, format: str, *args: Any) -> None:
        return

    def reply(self, status: int, content_type: str, payload: bytes) -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
