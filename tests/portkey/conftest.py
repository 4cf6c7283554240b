"""Fixtures of the Portkey dynamic-provider tests (helpers: portkey_support.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.portkey_admin import FakePortkeyAdmin


@pytest.fixture
def fake() -> Iterator[FakePortkeyAdmin]:
    """A fresh fake Portkey admin API on 127.0.0.1 for each test."""
    server = FakePortkeyAdmin().start()
    yield server
    server.stop()
