"""Every view on fakesnow over the fixture dataset, each KPI equal to the value computed here in
Python from the requests the dataset was built from (tests/analytics/dataset.py), not from the table.

Money is compared exactly (NUMBER(38,10) sums), ratios (rates, shares, cost per 1K, burn) exactly
at the 12 decimals the views give them, percentiles (exact PERCENTILE_CONT, linear interpolation) to
the microsecond.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from program import analytics_sql as sql
from tests.analytics.dataset import Request, build, grouped, payloads, percentile_cont, rate
from tests.analytics.snowflake_support import load_payloads, qualified, rounded, rows, snowflake_cursor

NOW = datetime.now(UTC)
REQUESTS = build(NOW)
MONTH_START = NOW.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _mtd(task: str | None) -> Decimal:
    return sum(
        (r.cost() for r in REQUESTS if r.first.start_us >= MONTH_START.timestamp() * 1e6 and task in (None, r.task)),
        Decimal(0),
    )


# Budgets that put each task in another state: tiny (over), none (experimental), Cortex (embeddings).
BUDGETS = [
    ("prod", None, None, float(rounded(_mtd(None) * 40, 2)) or 1.0),
    ("prod", "code_generation", "gateway", 0.01),
    ("prod", "business_intelligence", "gateway", 5000.0),
    ("prod", "chat", "gateway", float(rounded(_mtd("chat") * 3, 2)) or 0.01),
    ("prod", "embeddings", "snowflake_cortex", 1000.0),
]


@pytest.fixture(scope="module")
def cursor() -> Iterator[Any]:
    with snowflake_cursor(BUDGETS) as cursor:
        load_payloads(cursor, payloads(REQUESTS))
        yield cursor


def _view(cursor: Any, name: str, key: tuple[str, ...]) -> dict[tuple[Any, ...], dict[str, Any]]:
    result = {}
    for row in rows(cursor, f"SELECT * FROM {qualified(name)}"):
        result[tuple(row[k] for k in key)] = row
    return result


def _num(value: Any) -> Decimal:
    """A result as a Decimal: NUMBER columns come back as Decimal, divisions as floats (fakesnow)."""
    return value if isinstance(value, Decimal) else Decimal(repr(value))


def _ms(value: Any) -> Decimal | None:
    return None if value is None else rounded(_num(value), 3)


def _same_ms(value: Any, expected: Decimal | None) -> bool:
    return _ms(value) == (None if expected is None else rounded(expected, 3))


def test_dataset_covers_what_the_views_distinguish() -> None:
    assert sum(r.cache_hit for r in REQUESTS) >= 10 and sum(r.fallback for r in REQUESTS) >= 3
    assert sum(not r.succeeded for r in REQUESTS) >= 3 and sum(r.stream for r in REQUESTS) >= 10
    assert sum(r.variant() == "variant" for r in REQUESTS) >= 3
    retries = [r for r in REQUESTS if len(r.attempts) == 2 and not r.fallback]  # retried on the same model
    assert any(r.first.deployment.id != r.outcome.deployment.id for r in retries)  # ... on another deployment
    assert any(r.client_tags for r in REQUESTS)  # a client that sent the gateway's own tags
    # The last two days of the previous month, and this month up to now (however many days that is).
    month_start = NOW.date().replace(day=1)
    assert {r.day for r in REQUESTS if r.day < month_start} == {month_start - timedelta(days=n) for n in (1, 2)}
    assert any(r.day >= month_start for r in REQUESTS)


def test_requests_fold_attempts_into_one_row_per_client_request(cursor: Any) -> None:
    view = _view(cursor, sql.REQUESTS_VIEW, ("CALL_ID",))
    assert len(view) == len(REQUESTS)
    for request in REQUESTS:
        row = view[(request.call_id,)]
        outcome = request.outcome.deployment
        assert (row["TASK"], row["MODEL"], row["PROVIDER"], row["DEPLOYMENT"]) == (
            outcome.task,
            outcome.model,
            outcome.provider,
            outcome.id,
        ), request.call_id
        assert (row["SUCCEEDED"], row["FALLBACK"], row["LOGGED_ATTEMPTS"]) == (
            request.succeeded,
            request.fallback,
            len(request.attempts),
        ), request.call_id
        assert (row["EXPERIMENT"], row["VARIANT"]) == (request.experiment(), request.variant()), request.call_id
        assert row["COST_USD"] == request.cost() and row["SAVED_CACHE_COST_USD"] == request.saved()
        assert _same_ms(row["LATENCY_MS"], request.latency_ms), request.call_id
        if request.succeeded:
            assert _same_ms(row["TTFT_MS"], request.ttft_ms), request.call_id
        assert row["HTTP_STATUS"] == (200 if request.succeeded else int(request.outcome.error_code or 0))
        assert (row["USER_ID"], row["SESSION_ID"], row["CONVERSATION_ID"], row["WORKFLOW_ID"]) == (
            request.user,
            request.session,
            request.conversation,
            request.workflow,
        )


def test_cost_per_1k_requests(cursor: Any) -> None:
    def key(r: Request) -> tuple[Any, ...]:
        return (r.day, "prod", r.task, r.outcome.deployment.provider, r.outcome.deployment.model)

    expected = grouped(REQUESTS, key)
    view = _view(cursor, "COST_PER_1K_REQUESTS", ("DAY", "ENVIRONMENT", "TASK", "PROVIDER", "MODEL"))
    assert set(view) == set(expected)
    for group, requests in expected.items():
        cost = sum((r.cost() for r in requests), Decimal(0))
        row = view[group]
        assert (row["REQUESTS"], row["COST_USD"]) == (len(requests), cost), group
        assert _num(row["COST_PER_1K_REQUESTS_USD"]) == rounded(cost * 1000 / len(requests), 12), group
        unmetered = sum(r.succeeded and not r.cache_hit and r.prompt_tokens == 0 for r in requests)
        assert row["UNMETERED_REQUESTS"] == unmetered, group
    assert sum(row["UNMETERED_REQUESTS"] for row in view.values()) == 1


def test_cache_hit_rate_and_what_the_cache_saved(cursor: Any) -> None:
    expected = grouped([r for r in REQUESTS if r.succeeded], lambda r: (r.day, "prod", r.task))
    view = _view(cursor, "CACHE_SAVINGS", ("DAY", "ENVIRONMENT", "TASK"))
    assert set(view) == set(expected)
    for group, requests in expected.items():
        hits = [r for r in requests if r.cache_hit]
        # A hit is priced as the miss it replaced: its tokens at the serving deployment's prices.
        saved = sum((r.saved() for r in hits), Decimal(0))
        cost = sum((r.cost() for r in requests), Decimal(0))
        row = view[group]
        assert (row["REQUESTS"], row["CACHE_HITS"]) == (len(requests), len(hits)), group
        assert _num(row["CACHE_HIT_RATE"]) == rate(len(hits), len(requests)), group
        assert (row["COST_USD"], row["SAVED_BY_CACHE_USD"], row["COST_WITHOUT_CACHE_USD"]) == (
            cost,
            saved,
            cost + saved,
        )
    assert any(row["SAVED_BY_CACHE_USD"] > 0 for row in view.values())


def test_latency_percentiles_are_exact(cursor: Any) -> None:
    expected = grouped([r for r in REQUESTS if r.succeeded], lambda r: (r.day, "prod", r.task))
    view = _view(cursor, "LATENCY_PERCENTILES", ("DAY", "ENVIRONMENT", "TASK"))
    assert set(view) == set(expected)
    for group, requests in expected.items():
        row = view[group]
        assert row["REQUESTS"] == len(requests)
        latencies = [r.latency_ms for r in requests]
        for name, fraction in (("P50", "0.5"), ("P90", "0.9"), ("P95", "0.95"), ("P99", "0.99")):
            assert _same_ms(row[f"LATENCY_{name}_MS"], percentile_cont(latencies, fraction)), (group, name)
        streamed = [r.ttft_ms for r in requests if r.stream]
        for name, fraction in (("P50", "0.5"), ("P95", "0.95")):
            assert _same_ms(row[f"STREAMED_TTFT_{name}_MS"], percentile_cont(streamed, fraction)), (group, name)


def test_error_and_fallback_rates(cursor: Any) -> None:
    expected = grouped(REQUESTS, lambda r: (r.day, "prod", r.task))
    view = _view(cursor, "ERROR_RATES", ("DAY", "ENVIRONMENT", "TASK"))
    assert set(view) == set(expected)
    for group, requests in expected.items():
        errors = sum(not r.succeeded for r in requests)
        fallbacks = sum(r.fallback for r in requests)
        retried = sum(r.succeeded and r.outcome.retries_before > 0 for r in requests)
        failed_attempts = sum(sum(not a.ok for a in r.attempts) for r in requests)
        row = view[group]
        assert (row["REQUESTS"], row["ERRORS"], row["FALLBACKS"]) == (len(requests), errors, fallbacks), group
        assert (row["SERVED_AFTER_RETRY"], row["FAILED_ATTEMPTS"]) == (retried, failed_attempts), group
        assert _num(row["ERROR_RATE"]) == rate(errors, len(requests))
        assert _num(row["FALLBACK_RATE"]) == rate(fallbacks, len(requests))


def test_experiment_compares_variant_with_control(cursor: Any) -> None:
    chat = [r for r in REQUESTS if r.experiment() == "chat-haiku-first"]
    assert {r.task for r in chat} == {"chat"}
    view = _view(cursor, "EXPERIMENT_COMPARISON", ("ENVIRONMENT", "TASK", "EXPERIMENT", "VARIANT"))
    branches = grouped(chat, lambda r: ("prod", "chat", "chat-haiku-first", r.variant()))
    assert (
        set(view)
        == set(branches)
        == {
            ("prod", "chat", "chat-haiku-first", "control"),
            ("prod", "chat", "chat-haiku-first", "variant"),
        }
    )
    for group, requests in branches.items():
        cost = sum((r.cost() for r in requests), Decimal(0))
        errors = sum(not r.succeeded for r in requests)
        served = [r.latency_ms for r in requests if r.succeeded]
        row = view[group]
        assert (row["REQUESTS"], row["COST_USD"], row["ERRORS"]) == (len(requests), cost, errors), group
        assert row["FALLBACKS"] == sum(r.fallback for r in requests)
        assert _num(row["SHARE"]) == rate(len(requests), len(chat))
        assert _num(row["COST_PER_1K_REQUESTS_USD"]) == rounded(cost * 1000 / len(requests), 12)
        assert _num(row["ERROR_RATE"]) == rate(errors, len(requests))
        assert _same_ms(row["LATENCY_P50_MS"], percentile_cont(served, "0.5"))
        assert _same_ms(row["LATENCY_P95_MS"], percentile_cont(served, "0.95"))


@pytest.mark.parametrize(
    ("view", "column", "attribute"),
    [
        ("COST_BY_USER", "USER_ID", "user"),
        ("COST_BY_SESSION", "SESSION_ID", "session"),
        ("COST_BY_CONVERSATION", "CONVERSATION_ID", "conversation"),
        ("COST_BY_WORKFLOW", "WORKFLOW_ID", "workflow"),
    ],
)
def test_cost_by_user_session_conversation_and_workflow(cursor: Any, view: str, column: str, attribute: str) -> None:
    expected = grouped([r for r in REQUESTS if getattr(r, attribute)], lambda r: ("prod", getattr(r, attribute)))
    result = _view(cursor, view, ("ENVIRONMENT", column))
    assert set(result) == set(expected)
    for group, requests in expected.items():
        row = result[group]
        served = [r for r in requests if r.succeeded]
        assert (row["REQUESTS"], row["TASKS"]) == (len(requests), len({r.task for r in requests})), group
        assert row["COST_USD"] == sum((r.cost() for r in requests), Decimal(0)), group
        assert row["PROMPT_TOKENS"] == sum(r.prompt_tokens for r in served), group
        assert row["COMPLETION_TOKENS"] == sum(r.completion_tokens for r in served), group
        assert row["CACHE_HITS"] == sum(r.cache_hit for r in requests), group


def test_month_to_date_spend_against_the_spec_budgets(cursor: Any) -> None:
    today = datetime.now(UTC).date()
    view = _view(cursor, "BUDGET_BURN", ("ENVIRONMENT", "TASK"))
    if datetime.now(UTC).date() != today:  # the query ran across midnight UTC: ask again
        today, view = datetime.now(UTC).date(), _view(cursor, "BUDGET_BURN", ("ENVIRONMENT", "TASK"))
    next_month = (today.replace(day=28) + (today.replace(day=28) - today.replace(day=24))).replace(day=1)
    days_in_month = (next_month - today.replace(day=1)).days
    budgets = {(env, task): (route, usd) for env, task, route, usd in BUDGETS}
    tasks_with_spend = {("prod", r.task) for r in REQUESTS if r.first.start_us >= MONTH_START.timestamp() * 1e6}
    assert set(view) == set(budgets) | tasks_with_spend
    for (env, task), row in view.items():
        route, budget = budgets.get((env, task), ("gateway", None))
        assert row["MONTH"] == today.replace(day=1) and (row["DAYS_ELAPSED"], row["DAYS_IN_MONTH"]) == (
            today.day,
            days_in_month,
        )
        if route == "snowflake_cortex":
            assert row["MONTH_TO_DATE_USD"] is None
            assert row["BUDGET_STATUS"] == "billed in Snowflake credits (not in the gateway log)"
            continue
        spend = _mtd(task)
        projected = spend * days_in_month / today.day
        assert row["MONTH_TO_DATE_USD"] == spend, task
        assert _num(row["PROJECTED_MONTH_USD"]) == rounded(projected, 12), task
        if budget is None:
            assert row["BUDGET_STATUS"] == "no budget" and row["MONTHLY_BUDGET_USD"] is None
            continue
        budget_usd = Decimal(repr(budget))
        assert row["MONTHLY_BUDGET_USD"] == budget_usd
        assert _num(row["BUDGET_USED_PERCENT"]) == rounded(spend * 100 / budget_usd, 12), task
        status = "over budget" if spend > budget_usd else "at risk" if projected > budget_usd else "on track"
        assert row["BUDGET_STATUS"] == status, task
    assert view[("prod", "code_generation")]["BUDGET_STATUS"] == "over budget"
    assert view[("prod", "experimental")]["BUDGET_STATUS"] == "no budget"


def test_budgets_come_from_the_spec_manifest() -> None:
    manifest = {
        "environment": "prod",
        "budget_usd_monthly": 20000,
        "tasks": {
            "chat": {"route": "gateway", "budget_usd_monthly": 4000},
            "embeddings": {"route": "snowflake_cortex", "budget_usd_monthly": 1000},
            "experimental": {"route": "gateway", "budget_usd_monthly": None},
        },
    }
    assert sql.budget_rows(manifest) == [
        ("prod", None, None, 20000.0),
        ("prod", "chat", "gateway", 4000.0),
        ("prod", "embeddings", "snowflake_cortex", 1000.0),
    ]
