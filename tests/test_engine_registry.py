"""The engine registry (runtime/engines.py) is the one place engine facts live: every consumer
covers exactly its engines, and `make` can read it before any virtual environment exists."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from local.processes import ENGINE_STARTERS, INSTALL_HINTS
from runtime.engines import ENGINES, UnknownEngineError, engine_named, shipped_files

ROOT = Path(__file__).resolve().parents[1]


def test_every_engine_has_a_local_starter_and_an_install_target() -> None:
    assert set(ENGINE_STARTERS) == set(ENGINES)
    makefile = (ROOT / "Makefile").read_text()
    for engine in ENGINES.values():
        assert re.search(rf"^{re.escape(engine.install_target)}:", makefile, re.MULTILINE), engine.install_target
        assert INSTALL_HINTS[engine.name] == f"make {engine.install_target}"


def test_make_reads_the_names_with_a_bare_python() -> None:
    # -S -I: no site-packages, no user paths: the registry needs the standard library only.
    result = subprocess.run(
        [sys.executable, "-S", "-m", "runtime.engines"], cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == list(ENGINES)


def test_unknown_engine_names_the_choices() -> None:
    try:
        engine_named("nginx")
    except UnknownEngineError as error:
        assert str(error) == f"unknown engine 'nginx'; choose one of: {', '.join(ENGINES)}"
    else:
        raise AssertionError("nginx was accepted")


def test_every_served_file_is_in_the_generated_tree() -> None:
    generated = ROOT / "gateway_config" / "generated" / "local"
    for engine in ENGINES.values():
        for pattern in engine.serves:
            assert list(generated.glob(pattern)), (engine.name, pattern)


def test_every_shipped_file_exists_and_lands_beside_what_the_engine_serves() -> None:
    for engine in ENGINES.values():
        served_dirs = {pattern.rsplit("/", 1)[0] for pattern in engine.serves if "/" in pattern}
        for destination, source in shipped_files(engine).items():
            assert source.is_file(), (engine.name, source)
            assert destination.rsplit("/", 1)[0] in served_dirs, (engine.name, destination)
            assert not (ROOT / "gateway_config" / "generated" / "local" / destination).exists(), destination
