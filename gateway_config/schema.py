"""The JSON Schema of the routing spec, exported so editors complete and check `routing.yaml`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gateway_config.build import PACKAGE_DIR, dump_json
from gateway_config.spec import RoutingSpec

SCHEMA_PATH = PACKAGE_DIR / "routing.schema.json"


def routing_schema() -> dict[str, Any]:
    schema = RoutingSpec.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "llm-gateway routing spec"
    return schema


def schema_text() -> str:
    return dump_json(routing_schema())


def schema_is_current(path: Path = SCHEMA_PATH) -> bool:
    return path.exists() and path.read_text(encoding="utf-8") == schema_text()
