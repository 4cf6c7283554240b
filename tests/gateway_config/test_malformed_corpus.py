"""The malformed-spec corpus: every case must fail `validate` with exactly the errors it expects.

A case is an edit of the base spec (`malformed_cases.CASES`, written to a temp file) or, for the
subprocess sample and anything that is not such an edit, a file in malformed/ with `# expect:` headers.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from malformed_cases import CASES
from spec_edits import TESTS_DIR, run_cli

from gateway_config.cli import main

FILES = {path.stem: path for path in sorted((TESTS_DIR / "malformed").glob("*.yaml"))}
EDITS = {case.name: case for case in CASES}
NAMES = sorted([*FILES, *EDITS])
EXPECT = re.compile(r"^# expect: (.+)$")
# A sample that also runs as a real `python -m gateway_config` process (each costs ~0.3 s): the
# issue's acceptance cases plus a YAML syntax error and a multi-error file. These stay files.
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


def spec_and_expected(name: str, tmp_path: Path) -> tuple[Path, list[str]]:
    """The spec file for a case (an edit is written under tmp_path) and the stderr lines it must give."""
    if name in FILES:
        return FILES[name], expected_lines(FILES[name])
    case = EDITS[name]
    path = tmp_path / f"{name}.yaml"
    path.write_text(case.text(), encoding="utf-8")
    return path, case.expected_lines(path)


def test_corpus_is_large_enough_and_every_case_states_its_errors() -> None:
    assert len(EDITS) == len(CASES), "two edit cases share a name"
    assert not FILES.keys() & EDITS.keys(), "a case is both a file and an edit"
    assert set(SUBPROCESS_SAMPLE) <= FILES.keys()
    assert len(NAMES) >= 30
    for path in FILES.values():
        assert expected_lines(path), f"{path.name} has no '# expect:' header"
    for case in CASES:
        assert case.errors, f"{case.name} states no errors"


@pytest.mark.parametrize("name", NAMES)
def test_validate_reports_exactly_the_expected_errors(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec, expected = spec_and_expected(name, tmp_path)
    assert main(["validate", "--spec", str(spec)]) == 2
    captured = capsys.readouterr()
    assert captured.err.splitlines() == expected
    assert captured.out == ""


@pytest.mark.parametrize("name", SUBPROCESS_SAMPLE)
def test_validate_subprocess(name: str) -> None:
    path = FILES[name]
    result = run_cli("validate", "--spec", path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == expected_lines(path)
    assert result.stdout == ""


@pytest.mark.parametrize("name", NAMES)
def test_build_writes_nothing_for_a_malformed_spec(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec, expected = spec_and_expected(name, tmp_path)
    out = tmp_path / "out"
    assert main(["build", "--spec", str(spec), "--out", str(out)]) == 2
    assert capsys.readouterr().err.splitlines() == expected
    assert not out.exists()
