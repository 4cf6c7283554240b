"""Helpers to derive specs from the frozen base spec and to read the errors they produce."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from gateway_config.errors import InputError
from gateway_config.loader import load_spec_text
from gateway_config.spec import RoutingSpec

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parents[1]
BASE_SPEC = TESTS_DIR / "base.yaml"
REAL_SPEC = REPO_ROOT / "gateway_config" / "routing.yaml"
SPEC_FILE = "spec.yaml"


def base_text() -> str:
    return BASE_SPEC.read_text(encoding="utf-8")


def edit(text: str, *replacements: tuple[str, str]) -> str:
    """Apply `(old, new)` replacements; each `old` must occur exactly once, so an edit cannot miss."""
    for old, new in replacements:
        count = text.count(old)
        assert count == 1, f"{old!r} occurs {count} times in the spec"
        text = text.replace(old, new)
    return text


def line_of(text: str, needle: str) -> int:
    """1-based number of the one line that contains `needle`."""
    found = [number for number, line in enumerate(text.splitlines(), start=1) if needle in line]
    assert len(found) == 1, f"{needle!r} is on lines {found}, expected exactly one"
    return found[0]


def problems(text: str, file: str = SPEC_FILE) -> list[str]:
    """The error lines for an invalid spec; fails the test if the spec is valid."""
    try:
        load_spec_text(text, file)
    except InputError as error:
        return error.lines()
    raise AssertionError("the spec was accepted")


def valid(text: str) -> RoutingSpec:
    return load_spec_text(text, SPEC_FILE)


def run_cli(*args: str | Path, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess[str]:
    """`python -m gateway_config ARGS` in a real subprocess, as CI and people run it."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "gateway_config", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
