"""The malformed-spec corpus: every file must fail `validate` with exactly the errors its header expects."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from spec_edits import TESTS_DIR, run_cli

from gateway_config.cli import main

CORPUS = sorted((TESTS_DIR / "malformed").glob("*.yaml"))
EXPECT = re.compile(r"^# expect: (.+)$")
# A sample that also runs as a real `python -m gateway_config` process (each costs ~0.3 s): the
# issue's acceptance cases plus a YAML syntax error and a multi-error file.
SUBPROCESS_SAMPLE = (
    "unknown-task-key",
    "retry-attempts-word",
    "undefined-model",
    "fallback-cycle",
    "prod-task-on-staging-key",
    "yaml-syntax",
    "two-problems",
)


def expected_lines(path: Path) -> list[str]:
    """`# expect: 12: tasks.chat.tier: ...` -> `<path>:12: tasks.chat.tier: ...` (no line: `<path>: ...`)."""
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        match = EXPECT.match(line)
        if match:
            rest = match.group(1)
            lines.append(f"{path}:{rest}" if rest[0].isdigit() else f"{path}: {rest}")
    return lines


def test_corpus_is_large_enough_and_every_case_states_its_errors() -> None:
    assert len(CORPUS) >= 30
    for path in CORPUS:
        assert expected_lines(path), f"{path.name} has no '# expect:' header"


@pytest.mark.parametrize("path", CORPUS, ids=lambda path: path.stem)
def test_validate_reports_exactly_the_expected_errors(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--spec", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.err.splitlines() == expected_lines(path)
    assert captured.out == ""


@pytest.mark.parametrize("name", SUBPROCESS_SAMPLE)
def test_validate_subprocess(name: str) -> None:
    path = TESTS_DIR / "malformed" / f"{name}.yaml"
    result = run_cli("validate", "--spec", path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == expected_lines(path)
    assert result.stdout == ""


@pytest.mark.parametrize("path", CORPUS, ids=lambda path: path.stem)
def test_build_writes_nothing_for_a_malformed_spec(
    path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["build", "--spec", str(path), "--out", str(out)]) == 2
    assert capsys.readouterr().err.splitlines() == expected_lines(path)
    assert not out.exists()
