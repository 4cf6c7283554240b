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

from gateway_config.errors import InputError, KeyPath, Problem, raise_if_any
from gateway_config.rules import check_references
from gateway_config.spec import RoutingSpec

MAX_SPEC_BYTES = 5_000_000


def _walk(node: yaml.Node, path: KeyPath, lines: dict, problems: list[Problem]) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                problems.append(Problem((*path, key), "duplicate key: each name may appear only once"))
            seen.add(key)
            lines[(*path, key)] = key_node.start_mark.line + 1
            _walk(value_node, (*path, key), lines, problems)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*path, index), lines, problems)


def parse_yaml(text: str, file: Path | str) -> tuple[Any, dict[KeyPath, int]]:
    """YAML text -> (plain data, line number per key path). Raises InputError on bad YAML."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = {(): mark.line + 1} if mark else {}
        reason = getattr(error, "problem", None) or str(error)
        raise InputError(file, [Problem((), f"not valid YAML: {reason}")], where) from None
    if root is None:
        raise InputError(file, [Problem((), "the file is empty")])
    lines: dict[KeyPath, int] = {}
    problems: list[Problem] = []
    _walk(root, (), lines, problems)
    raise_if_any(file, problems, lines)
    return yaml.safe_load(text), lines


def _problem_from_pydantic(error: dict) -> Problem:
    # pydantic adds validator names to the location of union members and `before` validators;
    # users only care about their own keys.
    path = tuple(part for part in error["loc"] if not (isinstance(part, str) and "[" in part))
    message = error["msg"]
    if error["type"] == "extra_forbidden":
        message = "unknown key (check the spelling; see routing.schema.json for the allowed keys)"
    elif error["type"] == "missing":
        message = "required key is missing"
    elif "input" in error and error["type"] not in ("model_type", "dict_type", "list_type"):
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
