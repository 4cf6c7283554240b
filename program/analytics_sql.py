"""The Snowflake SQL of the request log: table columns, the pipe's COPY transformation, the views.

One source for two consumers: ``components/analytics.py`` provisions these objects with
pulumi-snowflake, and the tests run the very same text on fakesnow over real LiteLLM payloads and a
fixture dataset (tests/analytics/). Nothing here imports Pulumi.

**Rows.** LiteLLM's ``s3_v2`` callback writes one JSON payload (its ``StandardLoggingPayload``) per
logged attempt. A request a fallback served leaves two rows with the same ``litellm_call_id``: the
failed first attempt and the success; a request every target failed leaves one failure row. The
table keeps one row per payload (``REQUEST_LOG``); the ``REQUESTS`` view folds them into one row per
client request, and every KPI view reads ``REQUESTS``.

**COPY.** Snowflake's COPY transformations allow a short list of scalar functions (no COALESCE,
DATEADD, DIV0, ROUND, ARRAY_CONTAINS, no FLATTEN/JOIN/GROUP BY): the column expressions below use
only ``:``/``::``, NVL, NULLIF, IFF, SPLIT_PART, REGEXP_SUBSTR, TO_VARCHAR, TRY_TO_NUMBER and
TO_TIMESTAMP_NTZ. Times are stored as UTC ``TIMESTAMP_NTZ``. Experiment, variant and Portkey
provider slug come from the tags the generator stamps on each deployment (the last value of each
tag wins: LiteLLM appends the deployment's tags after the client's own).

**Money.** ``SUM(col::NUMBER(38,10))``: summing the cast keeps decimal arithmetic (a bare
``SUM(NUMBER)`` is summed as a double by fakesnow) and the same result in Snowflake.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# Tags the generator puts on every deployment (gateway_config/generators/litellm.py names them).
TAG_PREFIX = "llm-gateway:"

TABLE = "REQUEST_LOG"
FILE_FORMAT = "REQUEST_LOG_JSON"
STAGE = "REQUEST_LOG_STAGE"
PIPE = "REQUEST_LOG_PIPE"
BUDGETS_VIEW = "BUDGETS"
REQUESTS_VIEW = "REQUESTS"


@dataclass(frozen=True)
class Column:
    """A REQUEST_LOG column and how the pipe's COPY fills it (``{s}``: the payload, ``$1`` in a COPY)."""

    name: str
    type: str
    comment: str
    expression: str | None = None  # None: not loaded by the COPY (a default fills it)
    default: str | None = None


def _tag(name: str) -> str:
    # The greedy `.*` makes this the tag's *last* occurrence in the JSON text of `request_tags`.
    return f"REGEXP_SUBSTR(TO_VARCHAR({{s}}:request_tags), '.*\"{TAG_PREFIX}{name}=([^\"]*)\"', 1, 1, 'e', 1)"


def _epoch(field: str) -> str:
    return f"TO_TIMESTAMP_NTZ(({{s}}:{field}::FLOAT * 1000000)::NUMBER(38,0), 6)"


def _request_metadata(key: str) -> str:
    # Body `metadata.<key>`, else the `x-litellm-spend-logs-metadata` header's JSON.
    return f"NVL({{s}}:metadata:requester_metadata:{key}::VARCHAR, {{s}}:metadata:spend_logs_metadata:{key}::VARCHAR)"


_RETRIES = 'NVL({s}:hidden_params:additional_headers:"x-litellm-attempted-retries"::NUMBER, 0)'

COLUMNS: tuple[Column, ...] = (
    Column("REQUEST_ID", "VARCHAR", "payload id: provider response id; the call id for a failure", "{s}:id::VARCHAR"),
    Column(
        "CALL_ID",
        "VARCHAR",
        "LiteLLM call id, one per client request (x-litellm-call-id): a fallback's rows share it",
        "{s}:litellm_call_id::VARCHAR",
    ),
    Column("REQUEST_TIME", "TIMESTAMP_NTZ(6)", "start of this attempt, UTC", _epoch("startTime")),
    Column("END_TIME", "TIMESTAMP_NTZ(6)", "end of this attempt, UTC", _epoch("endTime")),
    Column("ENVIRONMENT", "VARCHAR", "gateway environment (staging, prod)", "'{environment}'"),
    Column("TASK", "VARCHAR", "the task (LiteLLM model group)", "{s}:model_group::VARCHAR"),
    Column("PROVIDER", "VARCHAR", "provider kind (openai, anthropic, openrouter)", "{s}:custom_llm_provider::VARCHAR"),
    Column("MODEL", "VARCHAR", "the spec's model name", "SPLIT_PART({s}:model_id::VARCHAR, '/', 2)"),
    Column("PROVIDER_MODEL", "VARCHAR", "LiteLLM model string (provider/model-id)", "{s}:model::VARCHAR"),
    Column("DEPLOYMENT", "VARCHAR", "LiteLLM deployment id: task/model[/last-resort]", "{s}:model_id::VARCHAR"),
    Column(
        "PORTKEY_PROVIDER",
        "VARCHAR",
        "Portkey Model Catalog provider slug (or provider) of the target",
        _tag("portkey"),
    ),
    Column(
        "EXPERIMENT",
        "VARCHAR",
        "experiment(s) running on the task when served (comma-separated for control rows)",
        f"NULLIF({_tag('experiment')}, '')",
    ),
    Column("VARIANT", "VARCHAR", "control or variant: the branch of this attempt's deployment", _tag("variant")),
    Column("STATUS", "VARCHAR", "success or failure (of this attempt)", "{s}:status::VARCHAR"),
    Column(
        "HTTP_STATUS",
        "NUMBER(3,0)",
        "200, or the provider's error status",
        "IFF({s}:status::VARCHAR = 'success', 200, TRY_TO_NUMBER({s}:error_information:error_code::VARCHAR))",
    ),
    Column(
        "ERROR_CLASS", "VARCHAR", "LiteLLM exception class", "NULLIF({s}:error_information:error_class::VARCHAR, '')"
    ),
    Column(
        "LATENCY_MS",
        "NUMBER(12,3)",
        "this attempt's duration",
        "(({s}:endTime::FLOAT - {s}:startTime::FLOAT) * 1000)::NUMBER(12,3)",
    ),
    Column(
        "TTFT_MS",
        "NUMBER(12,3)",
        "time to first token (= latency when not streamed)",
        "(({s}:completionStartTime::FLOAT - {s}:startTime::FLOAT) * 1000)::NUMBER(12,3)",
    ),
    Column("STREAM", "BOOLEAN", "streamed answer", "NVL({s}:stream::BOOLEAN, FALSE)"),
    Column("PROMPT_TOKENS", "NUMBER(38,0)", "prompt tokens", "{s}:prompt_tokens::NUMBER(38,0)"),
    Column("COMPLETION_TOKENS", "NUMBER(38,0)", "completion tokens", "{s}:completion_tokens::NUMBER(38,0)"),
    Column(
        "COST_USD",
        "NUMBER(18,10)",
        "LiteLLM response_cost (0 for cache hits and failures)",
        "{s}:response_cost::NUMBER(18,10)",
    ),
    Column(
        "SAVED_CACHE_COST_USD",
        "NUMBER(18,10)",
        "on a cache hit, what the request would have cost as a miss",
        "NVL({s}:saved_cache_cost::NUMBER(18,10), 0)",
    ),
    Column("CACHE_STATUS", "VARCHAR", "hit or miss", "IFF(NVL({s}:cache_hit::BOOLEAN, FALSE), 'hit', 'miss')"),
    Column(
        "FALLBACK",
        "BOOLEAN",
        "served after a failed attempt (retry or fallback; REQUESTS.FALLBACK tells them apart)",
        f"({{s}}:status::VARCHAR = 'success' AND {_RETRIES} > 0)",
    ),
    Column("ATTEMPTED_RETRIES", "NUMBER(3,0)", "failed attempts before this one", _RETRIES),
    Column("USER_ID", "VARCHAR", "body `user`", "NULLIF({s}:end_user::VARCHAR, '')"),
    Column(
        "SESSION_ID",
        "VARCHAR",
        "metadata.session_id or x-litellm-session-id",
        "NULLIF({s}:session_id::VARCHAR, '')",
    ),
    Column("CONVERSATION_ID", "VARCHAR", "metadata.conversation_id", _request_metadata("conversation_id")),
    Column("WORKFLOW_ID", "VARCHAR", "metadata.workflow_id", _request_metadata("workflow_id")),
    Column("RAW", "VARIANT", "the LiteLLM payload as written (message content redacted by default)", "{s}"),
    Column(
        "LOADED_AT",
        "TIMESTAMP_LTZ(6)",
        "when Snowpipe loaded the row",
        default="CURRENT_TIMESTAMP()",
    ),
)
LOADED_COLUMNS = tuple(column for column in COLUMNS if column.expression is not None)


def _format(template: str, source: str, environment: str) -> str:
    return template.replace("{s}", source).replace("{environment}", environment)


def copy_select(source: str, from_clause: str, environment: str) -> str:
    """The COPY transformation's SELECT: ``source`` is ``$1`` in the pipe, a VARIANT column in tests."""
    items = ",\n  ".join(_format(column.expression or "", source, environment) for column in LOADED_COLUMNS)
    return f"SELECT\n  {items}\nFROM {from_clause}"


def column_list() -> str:
    return ", ".join(column.name for column in LOADED_COLUMNS)


def copy_statement(table: str, stage: str, file_format: str, environment: str) -> str:
    """The pipe's COPY INTO: every file the callback writes (NDJSON) through the transformation."""
    return (
        f"COPY INTO {table} ({column_list()})\nFROM (\n{copy_select('$1', '@' + stage, environment)}\n)\n"
        f"FILE_FORMAT = (FORMAT_NAME = '{file_format}')"
    )


def create_file_format(file_format: str) -> str:
    """DDL equivalent to the Pulumi FileFormatJson resource."""
    return f"CREATE FILE FORMAT {file_format} TYPE = JSON COMPRESSION = AUTO"


def create_table(table: str) -> str:
    """DDL equivalent to the Pulumi Table resource (for fakesnow and for reading)."""
    columns = ",\n  ".join(
        f"{column.name} {column.type}" + (f" DEFAULT {column.default}" if column.default else "") for column in COLUMNS
    )
    return f"CREATE TABLE {table} (\n  {columns}\n)"


# --- views ---------------------------------------------------------------------------------------

# One row per client request. The outcome is the success row if there is one, else the last failure;
# the first attempt (earliest start) decides the traffic branch (experiment, variant); a fallback is a
# success served by another model than the first attempt's; latency spans first start to last end.
REQUESTS_SQL = """
WITH ATTEMPTS AS (
  SELECT L.*,
    ROW_NUMBER() OVER (PARTITION BY CALL_ID ORDER BY REQUEST_TIME, END_TIME) AS ATTEMPT_NUMBER,
    ROW_NUMBER() OVER (PARTITION BY CALL_ID ORDER BY IFF(STATUS = 'success', 0, 1), END_TIME DESC) AS OUTCOME_RANK
  FROM {log} L
),
PER_CALL AS (
  SELECT CALL_ID, MIN(REQUEST_TIME) AS STARTED, MAX(END_TIME) AS ENDED, COUNT(*) AS LOGGED_ATTEMPTS,
    SUM(COST_USD::NUMBER(38,10)) AS COST_USD
  FROM {log}
  GROUP BY CALL_ID
)
SELECT
  O.CALL_ID, O.ENVIRONMENT, O.TASK, P.STARTED AS REQUEST_TIME, P.STARTED::DATE AS DAY,
  O.PROVIDER, O.MODEL, O.DEPLOYMENT, O.PORTKEY_PROVIDER,
  F.EXPERIMENT, F.VARIANT,
  O.STATUS = 'success' AS SUCCEEDED, O.HTTP_STATUS,
  O.STATUS = 'success' AND F.MODEL <> O.MODEL AS FALLBACK,
  O.STATUS = 'success' AND O.ATTEMPTED_RETRIES > 0 AS RETRIED,
  P.LOGGED_ATTEMPTS,
  (TIMESTAMPDIFF('microsecond', P.STARTED, P.ENDED) / 1000)::NUMBER(12,3) AS LATENCY_MS,
  IFF(O.STATUS = 'success', (TIMESTAMPDIFF('microsecond', P.STARTED, O.REQUEST_TIME) / 1000)::NUMBER(12,3)
    + O.TTFT_MS, NULL) AS TTFT_MS,
  O.STREAM, O.PROMPT_TOKENS, O.COMPLETION_TOKENS, P.COST_USD, O.SAVED_CACHE_COST_USD, O.CACHE_STATUS,
  O.USER_ID, O.SESSION_ID, O.CONVERSATION_ID, O.WORKFLOW_ID
FROM ATTEMPTS O
JOIN ATTEMPTS F ON F.CALL_ID = O.CALL_ID AND F.ATTEMPT_NUMBER = 1
JOIN PER_CALL P ON P.CALL_ID = O.CALL_ID
WHERE O.OUTCOME_RANK = 1
"""


def _ratio(numerator: str, denominator: str) -> str:
    """A division exact to 12 decimals on every engine (fakesnow divides in doubles, Snowflake in
    decimals whose scale depends on the operands'): the operands and the result as NUMBER(38,12)."""
    return f"(({numerator})::NUMBER(38,12) / NULLIF({denominator}, 0))::NUMBER(38,12)"


_COST = "SUM(COST_USD::NUMBER(38,10))"

COST_PER_1K_SQL = f"""
SELECT DAY, ENVIRONMENT, TASK, PROVIDER, MODEL,
  COUNT(*) AS REQUESTS,
  {_COST} AS COST_USD,
  {_ratio(f"{_COST} * 1000", "COUNT(*)")} AS COST_PER_1K_REQUESTS_USD,
  -- Served by a provider yet logged without tokens (LiteLLM logs none for some streams): cost unknown.
  COUNT_IF(SUCCEEDED AND CACHE_STATUS = 'miss' AND PROMPT_TOKENS = 0) AS UNMETERED_REQUESTS
FROM {{requests}}
GROUP BY DAY, ENVIRONMENT, TASK, PROVIDER, MODEL
"""

# Hits are priced as misses by LiteLLM itself (saved_cache_cost: the miss price of the cached answer).
_SAVED = "SUM(IFF(CACHE_STATUS = 'hit', SAVED_CACHE_COST_USD, 0)::NUMBER(38,10))"
CACHE_SAVINGS_SQL = f"""
SELECT DAY, ENVIRONMENT, TASK,
  COUNT(*) AS REQUESTS,
  COUNT_IF(CACHE_STATUS = 'hit') AS CACHE_HITS,
  {_ratio("COUNT_IF(CACHE_STATUS = 'hit')", "COUNT(*)")} AS CACHE_HIT_RATE,
  {_COST} AS COST_USD,
  {_SAVED} AS SAVED_BY_CACHE_USD,
  {_COST} + {_SAVED} AS COST_WITHOUT_CACHE_USD
FROM {{requests}}
WHERE SUCCEEDED
GROUP BY DAY, ENVIRONMENT, TASK
"""

_PERCENTILES = (("P50", 0.5), ("P90", 0.9), ("P95", 0.95), ("P99", 0.99))


def _percentiles(column: str, prefix: str, which: Iterable[tuple[str, float]] = _PERCENTILES) -> str:
    # Exact (linear interpolation between the two nearest values), over doubles, to the microsecond.
    return ",\n  ".join(
        f"ROUND(PERCENTILE_CONT({fraction}) WITHIN GROUP (ORDER BY ({column})::FLOAT), 3) AS {prefix}_{name}_MS"
        for name, fraction in which
    )


LATENCY_SQL = f"""
SELECT DAY, ENVIRONMENT, TASK,
  COUNT(*) AS REQUESTS,
  {_percentiles("LATENCY_MS", "LATENCY")},
  {_percentiles("IFF(STREAM, TTFT_MS, NULL)", "STREAMED_TTFT", _PERCENTILES[::2])}
FROM {{requests}}
WHERE SUCCEEDED
GROUP BY DAY, ENVIRONMENT, TASK
"""

ERRORS_SQL = f"""
SELECT DAY, ENVIRONMENT, TASK,
  COUNT(*) AS REQUESTS,
  COUNT_IF(NOT SUCCEEDED) AS ERRORS,
  {_ratio("COUNT_IF(NOT SUCCEEDED)", "COUNT(*)")} AS ERROR_RATE,
  COUNT_IF(FALLBACK) AS FALLBACKS,
  {_ratio("COUNT_IF(FALLBACK)", "COUNT(*)")} AS FALLBACK_RATE,
  COUNT_IF(RETRIED) AS SERVED_AFTER_RETRY,
  SUM((LOGGED_ATTEMPTS - IFF(SUCCEEDED, 1, 0))::NUMBER(38,0)) AS FAILED_ATTEMPTS
FROM {{requests}}
GROUP BY DAY, ENVIRONMENT, TASK
"""

# Control rows name every experiment running on their task; each experiment compares its variant with
# the control traffic of the same time (rows stamped while it ran).
EXPERIMENT_SQL = f"""
WITH EXPERIMENT_REQUESTS AS (
  SELECT R.*, E.VALUE::VARCHAR AS EXPERIMENT_NAME
  FROM {{requests}} R, LATERAL FLATTEN(INPUT => SPLIT(R.EXPERIMENT, ',')) E
  WHERE R.EXPERIMENT IS NOT NULL
)
SELECT ENVIRONMENT, TASK, EXPERIMENT_NAME AS EXPERIMENT, VARIANT,
  COUNT(*) AS REQUESTS,
  {_ratio("COUNT(*)", "SUM(COUNT(*)) OVER (PARTITION BY ENVIRONMENT, TASK, EXPERIMENT_NAME)")} AS SHARE,
  {_COST} AS COST_USD,
  {_ratio(f"{_COST} * 1000", "COUNT(*)")} AS COST_PER_1K_REQUESTS_USD,
  COUNT_IF(NOT SUCCEEDED) AS ERRORS,
  {_ratio("COUNT_IF(NOT SUCCEEDED)", "COUNT(*)")} AS ERROR_RATE,
  COUNT_IF(FALLBACK) AS FALLBACKS,
  {_percentiles("IFF(SUCCEEDED, LATENCY_MS, NULL)", "LATENCY", (_PERCENTILES[0], _PERCENTILES[2]))},
  MIN(REQUEST_TIME) AS FIRST_REQUEST, MAX(REQUEST_TIME) AS LAST_REQUEST
FROM EXPERIMENT_REQUESTS
GROUP BY ENVIRONMENT, TASK, EXPERIMENT_NAME, VARIANT
"""


def attribution_sql(column: str) -> str:
    """Cost by one id (user, session, conversation, workflow): requests carrying it, their cost."""
    return f"""
SELECT ENVIRONMENT, {column},
  COUNT(*) AS REQUESTS,
  COUNT(DISTINCT TASK) AS TASKS,
  SUM(COST_USD::NUMBER(38,10)) AS COST_USD,
  SUM(PROMPT_TOKENS::NUMBER(38,0)) AS PROMPT_TOKENS,
  SUM(COMPLETION_TOKENS::NUMBER(38,0)) AS COMPLETION_TOKENS,
  COUNT_IF(CACHE_STATUS = 'hit') AS CACHE_HITS,
  MIN(REQUEST_TIME) AS FIRST_REQUEST, MAX(REQUEST_TIME) AS LAST_REQUEST
FROM {{requests}}
WHERE {column} IS NOT NULL
GROUP BY ENVIRONMENT, {column}
"""


# Month to date in UTC (SYSDATE() is the current UTC time). A task's budget row is compared with its
# spend; the environment's row (TASK NULL) with all of its spend, the semantic-cache embeddings too.
# A task routed to Snowflake Cortex is billed in Snowflake credits, not logged by the gateway.
BUDGET_BURN_SQL = f"""
WITH CLOCK AS (
  SELECT DATE_TRUNC('month', SYSDATE())::DATE AS MONTH, DAY(SYSDATE()) AS DAYS_ELAPSED,
    DAY(LAST_DAY(SYSDATE())) AS DAYS_IN_MONTH
),
SPEND AS (
  SELECT R.ENVIRONMENT, R.TASK, SUM(R.COST_USD::NUMBER(38,10)) AS SPEND_USD
  FROM {{requests}} R, CLOCK C
  WHERE R.REQUEST_TIME >= C.MONTH
  GROUP BY R.ENVIRONMENT, R.TASK
),
SCOPES AS (
  SELECT ENVIRONMENT, TASK, ROUTE, MONTHLY_BUDGET_USD FROM {{budgets}}
  UNION ALL
  SELECT S.ENVIRONMENT, S.TASK, 'gateway', NULL FROM SPEND S
  WHERE NOT EXISTS (SELECT 1 FROM {{budgets}} B WHERE B.ENVIRONMENT = S.ENVIRONMENT AND B.TASK = S.TASK)
),
ENVIRONMENT_SPEND AS (
  SELECT ENVIRONMENT, SUM(SPEND_USD) AS SPEND_USD FROM SPEND GROUP BY ENVIRONMENT
),
BURN AS (
  SELECT G.ENVIRONMENT, G.TASK, G.ROUTE, G.MONTHLY_BUDGET_USD, C.MONTH, C.DAYS_ELAPSED, C.DAYS_IN_MONTH,
    IFF(G.ROUTE = 'snowflake_cortex', NULL,
      NVL(IFF(G.TASK IS NULL, E.SPEND_USD, S.SPEND_USD), 0)::NUMBER(38,10)) AS SPEND_USD
  FROM SCOPES G
  CROSS JOIN CLOCK C
  LEFT JOIN SPEND S ON S.ENVIRONMENT = G.ENVIRONMENT AND S.TASK = G.TASK
  LEFT JOIN ENVIRONMENT_SPEND E ON E.ENVIRONMENT = G.ENVIRONMENT AND G.TASK IS NULL
)
SELECT ENVIRONMENT, TASK, ROUTE, MONTH, SPEND_USD AS MONTH_TO_DATE_USD, MONTHLY_BUDGET_USD,
  {_ratio("SPEND_USD * 100", "MONTHLY_BUDGET_USD")} AS BUDGET_USED_PERCENT,
  DAYS_ELAPSED, DAYS_IN_MONTH,
  {_ratio("SPEND_USD * DAYS_IN_MONTH", "DAYS_ELAPSED")} AS PROJECTED_MONTH_USD,
  CASE
    WHEN ROUTE = 'snowflake_cortex' THEN 'billed in Snowflake credits (not in the gateway log)'
    WHEN MONTHLY_BUDGET_USD IS NULL THEN 'no budget'
    WHEN SPEND_USD > MONTHLY_BUDGET_USD THEN 'over budget'
    WHEN SPEND_USD * DAYS_IN_MONTH / DAYS_ELAPSED > MONTHLY_BUDGET_USD THEN 'at risk'
    ELSE 'on track'
  END AS BUDGET_STATUS
FROM BURN
"""


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(float(value))
    return "'" + str(value).replace("\\", "\\\\").replace("'", "''") + "'"


def budget_rows(manifest: Mapping[str, Any]) -> list[tuple[str, str | None, str | None, float]]:
    """(environment, task or None for the whole environment, route, monthly USD) from ``routing.json``."""
    environment = str(manifest["environment"])
    rows: list[tuple[str, str | None, str | None, float]] = [
        (environment, None, None, float(manifest["budget_usd_monthly"]))
    ]
    for name, task in sorted(manifest["tasks"].items()):
        if task.get("budget_usd_monthly") is not None:
            rows.append((environment, name, str(task["route"]), float(task["budget_usd_monthly"])))
    return rows


def budgets_sql(rows: Iterable[tuple[str, str | None, str | None, float]]) -> str:
    """The spec's budgets as a view over VALUES, which the program replaces when the spec changes.

    A view rather than a table the program writes rows into (an Execute-style MERGE): it is
    declarative (the plan shows the new statement, nothing to delete or keep in step), nobody's
    hand edit of a row can drift from the spec, the analysts read it through their SELECT on views,
    and the tests run it like every other view."""
    rows = list(rows)
    if not rows:
        raise ValueError("no budget rows: every environment has at least its own monthly budget")
    values = ",\n  ".join(
        f"({_literal(env)}, {_literal(task)}, {_literal(route)}, {_literal(usd)})" for env, task, route, usd in rows
    )
    return (
        "\nSELECT ENVIRONMENT::VARCHAR AS ENVIRONMENT, TASK::VARCHAR AS TASK, ROUTE::VARCHAR AS ROUTE,\n"
        "  MONTHLY_BUDGET_USD::NUMBER(38,2) AS MONTHLY_BUDGET_USD\n"
        f"FROM (VALUES\n  {values}\n) AS B (ENVIRONMENT, TASK, ROUTE, MONTHLY_BUDGET_USD)\n"
    )


@dataclass(frozen=True)
class View:
    name: str
    comment: str
    template: str  # placeholders: {log}, {requests}, {budgets}


VIEWS: tuple[View, ...] = (
    View(REQUESTS_VIEW, "one row per client request (a fallback's attempts folded)", REQUESTS_SQL),
    View("COST_PER_1K_REQUESTS", "cost per 1,000 requests by day, provider, model and task", COST_PER_1K_SQL),
    View("CACHE_SAVINGS", "cache hit rate and what the hits would have cost as misses", CACHE_SAVINGS_SQL),
    View("LATENCY_PERCENTILES", "exact latency and time-to-first-token percentiles (ms)", LATENCY_SQL),
    View("ERROR_RATES", "error, fallback and retry rates", ERRORS_SQL),
    View("EXPERIMENT_COMPARISON", "each experiment's variant against its control", EXPERIMENT_SQL),
    View("COST_BY_USER", "cost per end user (body `user`)", attribution_sql("USER_ID")),
    View("COST_BY_SESSION", "cost per session", attribution_sql("SESSION_ID")),
    View("COST_BY_CONVERSATION", "cost per conversation", attribution_sql("CONVERSATION_ID")),
    View("COST_BY_WORKFLOW", "cost per workflow", attribution_sql("WORKFLOW_ID")),
    View("BUDGET_BURN", "month-to-date spend against the spec's budgets (UTC month)", BUDGET_BURN_SQL),
)


def view_statement(view: View, qualify: Mapping[str, str]) -> str:
    """A view's SELECT with its references fully qualified (``qualify``: object → qualified name)."""
    return view.template.format(
        log=qualify[TABLE], requests=qualify[REQUESTS_VIEW], budgets=qualify[BUDGETS_VIEW]
    ).strip()


def view_dependencies(view: View) -> list[str]:
    """The objects a view reads, so each is created before the views that read it."""
    names = [(TABLE, "{log}"), (REQUESTS_VIEW, "{requests}"), (BUDGETS_VIEW, "{budgets}")]
    return [name for name, placeholder in names if placeholder in view.template]


def object_ddl(database: str, schema: str, budgets: Iterable[tuple[str, str | None, str | None, float]]) -> list[str]:
    """The SQL this module authors, as the DDL Snowflake runs for the Pulumi resources: database,
    schema, file format, table, the budgets view and every KPI view (stage and pipe need an S3
    integration; components/analytics.py provisions them from ``copy_statement``)."""
    qualified = {name: f"{database}.{schema}.{name}" for name in (TABLE, REQUESTS_VIEW, BUDGETS_VIEW)}
    return [
        f"CREATE DATABASE IF NOT EXISTS {database}",
        f"CREATE SCHEMA IF NOT EXISTS {database}.{schema}",
        create_file_format(f"{database}.{schema}.{FILE_FORMAT}"),
        create_table(qualified[TABLE]),
        f"CREATE VIEW {qualified[BUDGETS_VIEW]} AS {budgets_sql(budgets).strip()}",
        *(f"CREATE VIEW {database}.{schema}.{view.name} AS {view_statement(view, qualified)}" for view in VIEWS),
    ]
