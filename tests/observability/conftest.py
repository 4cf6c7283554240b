"""The generated monitoring of every environment, and the real promtool (Debian's `prometheus` package).

Under ``CI=true`` a missing promtool fails the run (a green run must not hide a missing install
step); locally the tests that need it are skipped with the command that installs it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from gateway_config.build import DEFAULT_SPEC, render
from gateway_config.loader import load_spec
from gateway_config.spec import RoutingSpec

INSTALL_PROMTOOL = "sudo make runtime-prometheus (Debian's prometheus package)"


@pytest.fixture(scope="session")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        message = f"promtool is not installed; install with: {INSTALL_PROMTOOL}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def spec() -> RoutingSpec:
    return load_spec(DEFAULT_SPEC)


@pytest.fixture(scope="session")
def rendered(spec: RoutingSpec) -> dict[str, str]:
    """Every generated file of the committed spec (`<env>/<path>` -> text), as `make generate` writes it."""
    return render(spec)


@pytest.fixture(scope="session")
def rules_dir(rendered: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The generated rule files on disk (`<env>/prometheus/*.rules.yml`), for promtool."""
    root = tmp_path_factory.mktemp("rules")
    for path, text in rendered.items():
        if "/prometheus/" in path:
            target = root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
    return root
