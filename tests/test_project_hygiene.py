"""Project-wide rules that no single module's tests would notice being broken."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Built from parts so this file does not match its own search.
FORBIDDEN = {
    "sys" + ".path": "import-path edits: modules run as `python -m`, and the LiteLLM hooks get PYTHONPATH",
    "DESIGN" + ".md": "an outside design note: facts the project relies on live in its own docs/",
}


@pytest.mark.parametrize("needle", sorted(FORBIDDEN))
def test_no_tracked_file_mentions(needle: str) -> None:
    found = subprocess.run(
        ["git", "grep", "-n", "--fixed-strings", needle],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    # git grep: 1 = no match, 0 = matches, anything else = it could not search.
    assert found.returncode in (0, 1), found.stderr
    assert found.stdout == "", f"{FORBIDDEN[needle]}:\n{found.stdout}"
