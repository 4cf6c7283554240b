"""Shared test configuration. The repository root is on the import path through pytest's
``pythonpath`` setting (pyproject.toml); each suite keeps its fixtures in its own conftest."""
