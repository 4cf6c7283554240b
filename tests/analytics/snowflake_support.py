"""Snowflake SQL on fakesnow: the objects ``program/analytics_sql.py`` authors, and the request-log load.

fakesnow 0.12 cannot run a COPY *with a transformation* (it rewrites ``$1:id`` into a column that
its JSON reader does not have), so the load runs in the two steps that together are the pipe's
statement: a plain ``COPY INTO`` a one-VARIANT landing table from a stage (the file format, one row
per NDJSON line), then the pipe's very SELECT with ``$1`` as that column (in fakesnow ``$1`` is a
bind parameter, so the substitution is needed) inserted into ``REQUEST_LOG``.
"""

from __future__ import annotations

import json
import tempfile
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import fakesnow
import snowflake.connector

from program import analytics_sql as sql

DATABASE = "LLM_GATEWAY_PROD"
SCHEMA = "GATEWAY"
LANDING = "LANDING"
TEST_STAGE = "REQUEST_LOG_FILES"  # internal: fakesnow has no S3 integration
FIXTURES = Path(__file__).resolve().parent / "fixtures"
CAPTURED = FIXTURES / "litellm-request-log.jsonl"

Budgets = Iterable[tuple[str, str | None, str | None, float]]


def qualified(name: str) -> str:
    return f"{DATABASE}.{SCHEMA}.{name}"


@contextmanager
def snowflake_cursor(budgets: Budgets) -> Iterator[Any]:
    """A fakesnow cursor on which every object of ``analytics_sql.object_ddl`` has been created.

    fakesnow keeps its databases for the life of the process (and cannot drop one): each use gets a
    folder of its own, so it starts from no database at all."""
    with tempfile.TemporaryDirectory(prefix="fakesnow-") as folder, fakesnow.patch(db_path=folder):
        connection = snowflake.connector.connect()
        cursor = connection.cursor()
        try:
            for statement in sql.object_ddl(DATABASE, SCHEMA, budgets):
                cursor.execute(statement)
            cursor.execute(f"USE SCHEMA {DATABASE}.{SCHEMA}")
            yield cursor
        finally:
            cursor.close()
            connection.close()


def load(cursor: Any, payload_files: Iterable[Path], environment: str = "prod") -> list[tuple[Any, ...]]:
    """Load NDJSON files as the pipe would; returns COPY's per-file result rows."""
    # fakesnow keeps a stage's files for the life of the process: a stage of this load's own.
    stage = qualified(f"{TEST_STAGE}_{uuid.uuid4().hex[:12].upper()}")
    cursor.execute(f"CREATE STAGE {stage}")
    for path in payload_files:
        cursor.execute(f"PUT 'file://{path}' @{stage}")
    cursor.execute(f"CREATE OR REPLACE TEMPORARY TABLE {LANDING} (V VARIANT)")
    cursor.execute(f"COPY INTO {LANDING} FROM @{stage} FILE_FORMAT = (FORMAT_NAME = '{qualified(sql.FILE_FORMAT)}')")
    copied: list[tuple[Any, ...]] = cursor.fetchall()
    select = sql.copy_select("V", LANDING, environment)
    cursor.execute(f"INSERT INTO {qualified(sql.TABLE)} ({sql.column_list()}) {select}")
    return copied


def load_payloads(cursor: Any, payloads: Iterable[Mapping[str, Any]], environment: str = "prod") -> None:
    """Write ``payloads`` as one NDJSON file (what the callback writes per flush) and load it."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "batch.jsonl"
        path.write_text("".join(json.dumps(payload) + "\n" for payload in payloads))
        load(cursor, [path], environment)


def rows(cursor: Any, query: str) -> list[dict[str, Any]]:
    cursor.execute(query)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def read_ndjson(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def money(value: float | Decimal | int) -> Decimal:
    """A USD amount as NUMBER(18,10) holds it."""
    return Decimal(repr(value) if isinstance(value, float) else value).quantize(Decimal("1e-10"), ROUND_HALF_UP)


def rounded(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)
