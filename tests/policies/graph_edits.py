"""Edits of a recorded graph for the mutation tests: find a resource's state, change it in place.

The graph is ``tools.offline``'s (``{"stack", "resources": [{type, name, urn, inputs, state, …}],
"outputs"}``); the policies read each resource's ``state``, with secrets as ``{"__secret__": …}``
and string assets as ``{"__asset__": …}`` (tools/pulumi_mocks.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import yaml

from tools.pulumi_mocks import ASSET_MARKER, SECRET_MARKER


def resource(graph: dict[str, Any], type_: str, name: str) -> dict[str, Any]:
    found = [r for r in graph["resources"] if r["type"] == type_ and r["name"] == name]
    assert len(found) == 1, f"expected one {type_} {name!r}, found {len(found)}"
    return found[0]


def state(graph: dict[str, Any], type_: str, name: str) -> dict[str, Any]:
    found: dict[str, Any] = resource(graph, type_, name)["state"]
    return found


def revealed(value: Any) -> Any:
    """A secret-marked value's content (the same object: edits go into the graph)."""
    return value[SECRET_MARKER] if isinstance(value, dict) and set(value) == {SECRET_MARKER} else value


def container(graph: dict[str, Any], type_: str, name: str, index: int = 0) -> dict[str, Any]:
    found: dict[str, Any] = state(graph, type_, name)["spec"]["template"]["spec"]["containers"][index]
    return found


def edit_json(holder: dict[str, Any], key: str, change: Callable[[Any], None]) -> None:
    """Change the JSON document held as text at ``holder[key]``."""
    document = json.loads(holder[key])
    change(document)
    holder[key] = json.dumps(document)


def edit_asset_yaml(holder: dict[str, Any], key: str, change: Callable[[Any], None]) -> None:
    """Change the YAML document held as a string asset at ``holder[key]``."""
    document = yaml.safe_load(holder[key][ASSET_MARKER])
    change(document)
    holder[key] = {ASSET_MARKER: yaml.safe_dump(document)}


def add_resource(graph: dict[str, Any], type_: str, name: str, props: dict[str, Any]) -> None:
    """Register one more resource, as the program would (at the stack's root)."""
    stack = graph["stack"]
    graph["resources"].append(
        {
            "type": type_,
            "name": name,
            "urn": f"urn:pulumi:{stack}::llm-gateway::{type_}::{name}",
            "parent": "",
            "provider": "",
            "custom": True,
            "inputs": props,
            "state": props,
        }
    )
