"""Fixtures of the ESC tests: a fake ESC API on 127.0.0.1, and the environment the SDK reads credentials from."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from program.esc import client as esc_client
from tests.fakes.esc_api import TOKEN, FakeEsc


@pytest.fixture
def fake_esc(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeEsc]:
    server = FakeEsc().start()
    monkeypatch.setenv(esc_client.ACCESS_TOKEN_ENV, TOKEN)
    monkeypatch.setenv(esc_client.BACKEND_URL_ENV, server.url)
    # Never the machine's own Pulumi login.
    monkeypatch.setattr(esc_client, "CREDENTIALS_FILE", tmp_path_factory.mktemp("no-login") / "credentials.json")
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    yield server
    server.stop()
