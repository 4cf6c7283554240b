"""The pipe's COPY transformation on real LiteLLM payloads (``fixtures/litellm-request-log.jsonl``,
written by LiteLLM 1.106's ``s3_v2`` callback on this machine: tests/e2e/test_request_log.py).

The file goes through a stage and the file format as Snowpipe reads it (one row per NDJSON line),
then through the pipe's own SELECT; every column is compared with what the payload says, read here
in plain Python.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from program import analytics_sql as sql
from tests.analytics.snowflake_support import CAPTURED, load, money, qualified, read_ndjson, rows, snowflake_cursor

PAYLOADS = read_ndjson(CAPTURED)
BUDGETS = [("prod", None, None, 100.0)]


def _last_tag(payload: dict[str, Any], name: str) -> str | None:
    values = [t.split("=", 1)[1] for t in payload["request_tags"] if t.startswith(f"llm-gateway:{name}=")]
    return values[-1] if values else None


def _utc(seconds: float) -> datetime:
    micros = int(Decimal(repr(seconds)) * 1_000_000)
    return datetime.fromtimestamp(micros // 1_000_000, UTC).replace(microsecond=micros % 1_000_000, tzinfo=None)


def _ms(start: float, end: float) -> Decimal:
    return Decimal(repr((end - start) * 1000)).quantize(Decimal("0.001"), ROUND_HALF_UP)


def expected_row(payload: dict[str, Any]) -> dict[str, Any]:
    """The REQUEST_LOG row a payload must become."""
    success = payload["status"] == "success"
    metadata = payload["metadata"]
    requester, spend = metadata.get("requester_metadata") or {}, metadata.get("spend_logs_metadata") or {}
    retries = payload["hidden_params"].get("additional_headers", {}).get("x-litellm-attempted-retries") or 0
    experiment = _last_tag(payload, "experiment")
    return {
        "REQUEST_ID": payload["id"],
        "CALL_ID": payload["litellm_call_id"],
        "REQUEST_TIME": _utc(payload["startTime"]),
        "END_TIME": _utc(payload["endTime"]),
        "ENVIRONMENT": "prod",
        "TASK": payload["model_group"],
        "PROVIDER": payload["custom_llm_provider"],
        "MODEL": payload["model_id"].split("/")[1],
        "PROVIDER_MODEL": payload["model"],
        "DEPLOYMENT": payload["model_id"],
        "PORTKEY_PROVIDER": _last_tag(payload, "portkey"),
        "EXPERIMENT": experiment or None,
        "VARIANT": _last_tag(payload, "variant"),
        "STATUS": payload["status"],
        "HTTP_STATUS": 200 if success else int(payload["error_information"]["error_code"]),
        "ERROR_CLASS": payload["error_information"]["error_class"] or None,
        "LATENCY_MS": _ms(payload["startTime"], payload["endTime"]),
        "TTFT_MS": _ms(payload["startTime"], payload["completionStartTime"]),
        "STREAM": bool(payload["stream"]),
        "PROMPT_TOKENS": payload["prompt_tokens"],
        "COMPLETION_TOKENS": payload["completion_tokens"],
        "COST_USD": money(payload["response_cost"]),
        "SAVED_CACHE_COST_USD": money(payload.get("saved_cache_cost") or 0),
        "CACHE_STATUS": "hit" if payload["cache_hit"] else "miss",
        "FALLBACK": success and retries > 0,
        "ATTEMPTED_RETRIES": retries,
        "USER_ID": payload["end_user"] or None,
        "SESSION_ID": payload["session_id"] or None,
        "CONVERSATION_ID": requester.get("conversation_id") or spend.get("conversation_id"),
        "WORKFLOW_ID": requester.get("workflow_id") or spend.get("workflow_id"),
    }


@pytest.fixture(scope="module")
def loaded() -> Any:
    with snowflake_cursor(BUDGETS) as cursor:
        copied = load(cursor, [CAPTURED])
        table = rows(cursor, f"SELECT * FROM {qualified(sql.TABLE)}")
        yield copied, table


def test_captured_fixture_covers_the_cases_and_holds_no_secret() -> None:
    kinds = {(p["model_group"], p["status"], bool(p["cache_hit"]), bool(p["stream"])) for p in PAYLOADS}
    assert ("code_generation", "success", True, False) in kinds  # a cache hit
    assert ("code_generation", "success", False, True) in kinds  # a stream
    assert ("business_intelligence", "failure", False, False) in kinds  # a fallback's failed attempt
    assert any(_last_tag(p, "variant") == "variant" for p in PAYLOADS)
    text = CAPTURED.read_text()
    # No key, password or bearer token; prompts and answers redacted.
    assert not re.search(r"sk-[A-Za-z0-9]|mock-key|Bearer |AKIA|\"testing\"|local-redis|password", text)
    assert {m["content"] for p in PAYLOADS for m in p["messages"]} == {"redacted-by-litellm"}


def test_one_ndjson_line_is_one_row(loaded: Any) -> None:
    copied, table = loaded
    ((_file, status, rows_parsed, rows_loaded, *_),) = copied
    assert status == "LOADED" and rows_parsed == rows_loaded == len(PAYLOADS) == len(table)


def test_every_column_is_what_the_payload_says(loaded: Any) -> None:
    _, table = loaded
    by_id = {(row["CALL_ID"], row["STATUS"]): row for row in table}
    for payload in PAYLOADS:
        row = by_id[(payload["litellm_call_id"], payload["status"])]
        for column, value in expected_row(payload).items():
            assert row[column] == value, (payload["id"], column, row[column], value)
        assert json.loads(row["RAW"]) == payload
        assert row["LOADED_AT"] is not None
    loaded_columns = {column.name for column in sql.LOADED_COLUMNS} - {"RAW"}
    assert set(expected_row(PAYLOADS[0])) == loaded_columns  # every loaded column is checked


def test_the_tested_select_is_the_pipes() -> None:
    # The pipe reads `$1` from the stage; the test reads the same expressions from a VARIANT column.
    statement = sql.copy_statement("DB.S.REQUEST_LOG", "DB.S.REQUEST_LOG_STAGE", "DB.S.REQUEST_LOG_JSON", "prod")
    select = sql.copy_select("$1", "@DB.S.REQUEST_LOG_STAGE", "prod")
    assert statement == (
        f"COPY INTO DB.S.REQUEST_LOG ({sql.column_list()})\nFROM (\n{select}\n)\n"
        "FILE_FORMAT = (FORMAT_NAME = 'DB.S.REQUEST_LOG_JSON')"
    )
    assert sql.copy_select("V", "LANDING", "prod") == select.replace("$1", "V").replace(
        "@DB.S.REQUEST_LOG_STAGE", "LANDING"
    )
    # Only functions Snowflake allows in a COPY transformation (no COALESCE, DATEADD, ROUND, DIV0, ...).
    called = set(re.findall(r"(?<!::)\b([A-Z_][A-Z0-9_]*)\s*\(", select))
    assert called <= {
        "TO_TIMESTAMP_NTZ",
        "SPLIT_PART",
        "REGEXP_SUBSTR",
        "TO_VARCHAR",
        "NULLIF",
        "IFF",
        "TRY_TO_NUMBER",
        "NVL",
    }


def test_a_client_cannot_stamp_its_own_experiment(loaded: Any) -> None:
    # The client's copy of the gateway's tag comes first; the deployment's, appended by LiteLLM, wins.
    forged = next(p for p in PAYLOADS if "llm-gateway:variant=variant" in p["request_tags"][:3])
    (row,) = [row for row in loaded[1] if row["CALL_ID"] == forged["litellm_call_id"]]
    assert (row["VARIANT"], row["PORTKEY_PROVIDER"]) == ("control", "openai")
