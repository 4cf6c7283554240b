"""What the PR comment and the drift report share: the jinja2 environment of tools/templates/, the
escaping of table cells and code spans, and reading a JSON input with errors a person can act on.

jinja2 writes only human-facing markdown here; data formats are serialized from data elsewhere.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

import jinja2

from gateway_config.errors import InputError, Problem

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
# Values longer than this are cut in table cells: a ConfigMap's whole config is no review aid.
CELL_LIMIT = 80


def cell(text: object) -> str:
    """One table cell: pipes escaped, line breaks folded, so a message cannot break the table."""
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def prose(value: object) -> str:
    """Free text in a table cell or list item: `<digest>` would be swallowed as an HTML tag."""
    return cell(str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))


def code(text: object) -> str:
    """An inline code span that survives backticks inside the text (CommonMark: a longer fence)."""
    value = str(text)
    longest = max((len(run) for run in re.findall(r"`+", value)), default=0)
    fence = "`" * (longest + 1)
    padding = " " if value.startswith("`") or value.endswith("`") else ""
    return f"{fence}{padding}{value}{padding}{fence}"


def value(text: str | None) -> str:
    """A property value in a table cell: a code span, or "(none)" where the property is absent."""
    return "(none)" if text is None else cell(code(text))


def shorten(text: str, limit: int = CELL_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def demote_headings(markdown: str, top_level: int) -> str:
    """Shift ATX headings so the document's biggest heading sits at `top_level` (a command's
    `## Title` nested under the comment's own sections); fenced code is left alone."""
    lines = markdown.splitlines()
    levels = []
    fenced = False
    for line in lines:
        if line.startswith(("```", "~~~")):
            fenced = not fenced
        elif not fenced and (match := re.match(r"(#{1,6}) ", line)):
            levels.append(len(match.group(1)))
    if not levels:
        return markdown
    shift = max(0, top_level - min(levels))
    result = []
    fenced = False
    for line in lines:
        if line.startswith(("```", "~~~")):
            fenced = not fenced
        elif not fenced and re.match(r"#{1,6} ", line):
            line = "#" * min(6, line.index(" ") + shift) + line[line.index(" ") :]
        result.append(line)
    return "\n".join(result) + ("\n" if markdown.endswith("\n") else "")


def environment() -> jinja2.Environment:
    templates = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # markdown, not HTML: cells and code spans are escaped by the filters below
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    templates.filters["cell"] = cell
    templates.filters["code"] = code
    templates.filters["value"] = value
    templates.filters["prose"] = prose
    return templates


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
        raise InputError(path, [Problem((), f"cannot be read ({reason})")]) from None


def read_json(path: Path) -> Any:
    text = read_text(path)
    if not text.strip():
        raise InputError(path, [Problem((), "empty file: expected a JSON document")])
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        problem = Problem((), f"not valid JSON ({error.msg}, column {error.colno})", error.lineno)
        raise InputError(path, [problem]) from None


def write_atomically(path: Path, text: str) -> None:
    """The whole file or none of it: a reader (the workflow's next step) never sees half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def emit(text: str, out: Path | None) -> bool:
    """``text`` to ``out`` (whole or not at all) or, without one, to stdout; False, with one line on
    stderr, when ``out`` cannot be written."""
    if out is None:
        print(text, end="")
        return True
    try:
        write_atomically(out, text)
    except OSError as error:
        print(f"{out}: cannot be written ({error.strerror})", file=sys.stderr)
        return False
    return True
