"""What the PR-flow tests share: the fixtures' folder and the commands run as CI runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
EXPECTED = HERE / "expected"
ROOT = HERE.parents[1]


def run_module(module: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    """`python -m MODULE ARGS` in a real subprocess from the repository root, as the workflows run it."""
    return subprocess.run(
        [sys.executable, "-m", module, *map(str, args)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def assert_one_clean_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    """Exit 2, one line on stderr naming what is wrong, no traceback, nothing on stdout."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
