"""Errors a user can act on: each names the file, the key path and, where known, the line."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

KeyPath = tuple[str | int, ...]
# Key path → the 1-based line of that key in the file, where known.
LinesByPath = dict[KeyPath, int]


def format_key_path(path: KeyPath) -> str:
    """`("tasks", "chat", "tier")` -> `tasks.chat.tier`; list indexes as `targets[1]`."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text or "<document>"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input, at one key path."""

    path: KeyPath
    message: str
    # The 1-based line, where the input has lines the key path cannot name (a data file's rows).
    line: int | None = None


class InputError(Exception):
    """Bad input (spec, argument, stack config). The CLI prints `lines()` and exits 2."""

    def __init__(self, file: Path | str, problems: Sequence[Problem], lines_by_path: LinesByPath | None = None) -> None:
        self.file = str(file)
        self.problems = list(problems)
        self._lines_by_path: LinesByPath = lines_by_path or {}
        super().__init__("\n".join(self.lines()))

    def line_of(self, path: KeyPath) -> int | None:
        # A missing key has no line of its own: report the nearest enclosing key that exists.
        for end in range(len(path), -1, -1):
            line = self._lines_by_path.get(tuple(path[:end]))
            if line is not None:
                return line
        return None

    def lines(self) -> list[str]:
        result = []
        for problem in self.problems:
            line = problem.line or self.line_of(problem.path)
            where = f"{self.file}:{line}" if line else self.file
            result.append(f"{where}: {format_key_path(problem.path)}: {problem.message}")
        return result


def raise_if_any(file: Path | str, problems: Iterable[Problem], lines_by_path: LinesByPath | None = None) -> None:
    collected = list(problems)
    if collected:
        raise InputError(file, collected, lines_by_path)
