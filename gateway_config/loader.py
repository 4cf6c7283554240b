"""Read a routing spec from YAML into a validated `RoutingSpec`, or raise `InputError`.

PyYAML keeps the last of two equal keys without a word; a duplicated task or model name would then
vanish from the routing. So the document is composed into nodes first: that finds duplicates and
gives every key path its line number for the error messages.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from gateway_config.errors import InputError, KeyPath, LinesByPath, Problem, raise_if_any
from gateway_config.rules import check_references
from gateway_config.spec import PATTERN_MEANINGS, URL_PATTERN, RoutingSpec

MAX_SPEC_BYTES = 5_000_000
# YAML aliases repeat a subtree without repeating its text: a few lines of `*alias` can expand to
# billions of nodes. A real spec has a few thousand; stop long before the walk takes minutes.
MAX_SPEC_NODES = 1_000_000


class _TooLarge(Exception):
    pass


def _walk(
    node: yaml.Node, path: KeyPath, lines: LinesByPath, problems: list[Problem], budget: list[int], active: set[int]
) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    budget[0] -= 1
    if budget[0] < 0:
        raise _TooLarge
    if id(node) in active:
        # `a: &x [*x]`: an alias inside its own anchor; walking (or validating) it never ends.
        problems.append(Problem(path, "a YAML alias refers to a node that contains it"))
        return
    active.add(id(node))
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                problems.append(Problem((*path, key), "duplicate key: each name may appear only once"))
            seen.add(key)
            lines[(*path, key)] = key_node.start_mark.line + 1
            _walk(value_node, (*path, key), lines, problems, budget, active)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*path, index), lines, problems, budget, active)
    active.discard(id(node))


def parse_yaml(text: str, file: Path | str) -> tuple[Any, LinesByPath]:
    """YAML text -> (plain data, line number per key path). Raises InputError on bad YAML."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        # Built from the same nodes the walk below reads: the text is parsed once, not twice.
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where: LinesByPath = {(): int(mark.line) + 1} if mark else {}
        reason = getattr(error, "problem", None) or str(error)
        raise InputError(file, [Problem((), f"not valid YAML: {reason}")], where) from None
    except RecursionError:
        # PyYAML composes recursively: thousands of nested `[` exhaust the stack before any rule runs.
        raise InputError(file, [Problem((), "the spec is nested too deeply")]) from None
    finally:
        loader.dispose()
    if root is None:
        raise InputError(file, [Problem((), "the file is empty")])
    lines: LinesByPath = {}
    problems: list[Problem] = []
    try:
        _walk(root, (), lines, problems, [MAX_SPEC_NODES], set())
    except RecursionError:
        raise InputError(file, [Problem((), "the spec is nested too deeply")]) from None
    except _TooLarge:
        raise InputError(file, [Problem((), f"the spec expands to more than {MAX_SPEC_NODES} YAML nodes")]) from None
    raise_if_any(file, problems, lines)
    return data, lines


def _problem_from_pydantic(error: ErrorDetails) -> Problem:
    # pydantic adds validator names to the location of union members and `before` validators;
    # users only care about their own keys.
    loc = error["loc"]
    # A mapping key that failed validation (`123:` where a name belongs) is named as the key the
    # user wrote, not as a list index: `tasks.123`, on the line of that key.
    path = tuple(
        str(part) if index + 1 < len(loc) and loc[index + 1] == "[key]" else part
        for index, part in enumerate(loc)
        if not (isinstance(part, str) and "[" in part)
    )
    message = error["msg"]
    if error["type"] == "extra_forbidden":
        message = "unknown key (check the spelling; see routing.schema.json for the allowed keys)"
    elif error["type"] == "missing":
        message = "required key is missing"
    elif error["type"] == "string_pattern_mismatch" and error["ctx"]["pattern"] in PATTERN_MEANINGS:
        message = f"must be {PATTERN_MEANINGS[error['ctx']['pattern']]}"
        if error["ctx"]["pattern"] != URL_PATTERN:  # a rejected URL may hold a credential: never echo it
            message += f" (got {error['input']!r})"
    elif (
        "input" in error
        and error["type"] not in ("model_type", "dict_type", "list_type")
        and not isinstance(error["input"], dict)
    ):
        # Scalars are worth echoing (`got 'three'`); a whole section is not: the path names it.
        message = f"{message} (got {error['input']!r})"
    message = message.removeprefix("Value error, ")
    return Problem(path, message)


def load_spec_text(text: str, file: Path | str) -> RoutingSpec:
    data, lines = parse_yaml(text, file)
    if not isinstance(data, dict):
        raise InputError(file, [Problem((), "the spec must be a mapping of sections")], lines)
    try:
        spec = RoutingSpec.model_validate(data)
    except ValidationError as error:
        problems = [_problem_from_pydantic(item) for item in error.errors(include_url=False)]
        raise InputError(file, problems, lines) from None
    raise_if_any(file, check_references(spec), lines)
    return spec


def load_spec(path: Path) -> RoutingSpec:
    """Load and fully validate the spec at `path`."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise InputError(path, [Problem((), f"cannot read the spec: {error.strerror}")]) from None
    if len(raw) > MAX_SPEC_BYTES:
        raise InputError(path, [Problem((), f"the spec is larger than {MAX_SPEC_BYTES} bytes")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(path, [Problem((), "the spec is not UTF-8 text")]) from None
    return load_spec_text(text, path)
