"""Fixtures and helpers shared by the routing spec and generator tests."""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
# `.venv/bin/pytest` does not put the repository root on sys.path (only `python -m pytest` does).
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))
