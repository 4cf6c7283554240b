"""What a spec will cost: past requests priced under its routes, per environment and task, per month.

The history is the request log's export (Snowflake's REQUEST_LOG or REQUESTS view, as CSV or
JSONL): one row per request with its task, prompt and completion tokens and cache status; optional
environment and request time. A spec prices it the way the gateway will serve it:

- **traffic shares**: every resolved branch (experiments included) takes its share of the task's
  requests, at the price of its first choice (all targets healthy; a fallback is priced as the
  primary it replaces);
- **cache**: the history's hit rate per task, applied to every request (0 where the spec turns the
  task's cache off); a hit costs nothing at the provider. The semantic cache embeds every prompt of a
  cached task before it looks up, so that embedding is priced too;
- **prices**: ``gateway_config/prices.py`` (the pinned LiteLLM's map), the ones the generated configs
  state per deployment;
- **volume**: scaled from the days the history covers (its request times, or ``--days``) to a
  30-day month.

Tasks routed to Snowflake Cortex are billed in Snowflake credits (the analytics warehouse runs the
``EMBED_TEXT`` calls), not by token price: they are listed as not projected.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import jinja2

from gateway_config.errors import InputError, Problem
from gateway_config.prices import Price, load_price_map
from gateway_config.resolve import ResolvedEnvironment, ResolvedTask, resolve_environment
from gateway_config.spec import ENVIRONMENT_NAMES, RoutingSpec

MONTH_DAYS = Decimal(30)
REQUIRED_FIELDS = ("task", "prompt_tokens", "completion_tokens", "cache_status")
CACHE_STATUSES = {"hit": True, "miss": False}
MAX_PROBLEMS = 20
CENT = Decimal("0.01")


@dataclass(frozen=True)
class HistoryRow:
    line: int
    environment: str | None
    task: str
    prompt_tokens: int
    completion_tokens: int
    cache_hit: bool
    time: datetime | None


@dataclass(frozen=True)
class History:
    """Past requests and the number of days they cover."""

    path: str
    rows: tuple[HistoryRow, ...]
    days: Decimal

    @property
    def monthly_factor(self) -> Decimal:
        return MONTH_DAYS / self.days

    @property
    def environments(self) -> list[str]:
        named = {row.environment for row in self.rows if row.environment}
        return [name for name in ENVIRONMENT_NAMES if name in named]

    def rows_for(self, environment: str) -> list[HistoryRow]:
        """The environment's rows; a history without an environment column stands for every one."""
        return [row for row in self.rows if row.environment in (None, environment)]


# --- reading the history -------------------------------------------------------------------------


def request_records(path: Path, text: str) -> Iterator[tuple[int, Mapping[str, Any] | str]]:
    """(line number, record or a parse error message) for each data line of a CSV or JSONL file."""
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                yield number, f"not a JSON object ({error.msg})"
                continue
            yield number, record if isinstance(record, dict) else "not a JSON object"
        return
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None:
        return
    for record in reader:
        if None in record:
            yield reader.line_num, f"more values than the {len(reader.fieldnames)} columns of the header"
        else:
            yield reader.line_num, record


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _time(value: Any) -> datetime | None:
    text = str(value).strip().replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    # Times without an offset are UTC, as the request log stores them.
    return parsed if parsed.tzinfo is None else parsed.astimezone(UTC).replace(tzinfo=None)


def _row(number: int, record: Mapping[str, Any]) -> tuple[HistoryRow | None, list[Problem]]:
    # The log's export names columns in upper case (Snowflake); any case is accepted.
    fields = {str(key).strip().lower(): value for key, value in record.items()}
    problems = [Problem((name,), "missing", number) for name in REQUIRED_FIELDS if fields.get(name) in (None, "")]
    if problems:
        return None, problems
    tokens = {name: _int(fields[name]) for name in ("prompt_tokens", "completion_tokens")}
    for name, count in tokens.items():
        if count is None or count < 0:
            problems.append(Problem((name,), f"not a whole number of tokens (got {fields[name]!r})", number))
    status = str(fields["cache_status"]).strip().lower()
    if status not in CACHE_STATUSES:
        problems.append(Problem(("cache_status",), f"must be hit or miss (got {fields['cache_status']!r})", number))
    environment = str(fields["environment"]).strip().lower() if fields.get("environment") not in (None, "") else None
    if environment is not None and environment not in ENVIRONMENT_NAMES:
        problems.append(
            Problem(("environment",), f"must be one of {', '.join(ENVIRONMENT_NAMES)} (got {environment!r})", number)
        )
    time = None
    if fields.get("request_time") not in (None, ""):
        time = _time(fields["request_time"])
        if time is None:
            problems.append(
                Problem(("request_time",), f"not an ISO 8601 time (got {fields['request_time']!r})", number)
            )
    if problems:
        return None, problems
    row = HistoryRow(
        line=number,
        environment=environment,
        task=str(fields["task"]).strip(),
        prompt_tokens=tokens["prompt_tokens"] or 0,
        completion_tokens=tokens["completion_tokens"] or 0,
        cache_hit=CACHE_STATUSES[status],
        time=time,
    )
    return row, []


def read_history(path: Path, days: float | None = None) -> History:
    """The requests of a CSV or JSONL export; :class:`InputError` names each bad line and field."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(name, [Problem((), "not UTF-8 text (a CSV or JSONL export of the request log)")]) from None
    rows: list[HistoryRow] = []
    problems: list[Problem] = []
    for number, record in request_records(path, text):
        if isinstance(record, str):
            problems.append(Problem((), record, number))
            continue
        row, row_problems = _row(number, record)
        problems += row_problems
        if row is not None:
            rows.append(row)
    if problems:
        shown = problems[:MAX_PROBLEMS]
        if len(problems) > MAX_PROBLEMS:
            shown.append(Problem((), f"... and {len(problems) - MAX_PROBLEMS} more problems"))
        raise InputError(name, shown)
    if not rows:
        raise InputError(name, [Problem((), f"no requests: a CSV or JSONL file with {', '.join(REQUIRED_FIELDS)}")])
    return History(name, tuple(rows), _days(name, rows, days))


def _days(name: str, rows: Sequence[HistoryRow], days: float | None) -> Decimal:
    if days is not None:
        if not days > 0:
            raise InputError("--days", [Problem((), f"must be a positive number of days (got {days:g})")])
        return Decimal(repr(days))
    times = [row.time for row in rows if row.time is not None]
    if len(times) != len(rows):
        missing = next(row.line for row in rows if row.time is None)
        raise InputError(
            name,
            [
                Problem(
                    ("request_time",), "needed on every row to know the days the file covers, or give --days", missing
                )
            ],
        )
    # Whole days, at least one: an export of a week runs from its first request to its last.
    return Decimal(max(1, math.ceil((max(times) - min(times)).total_seconds() / 86_400)))


# --- pricing ---------------------------------------------------------------------------------------


def _usd(value: float) -> Decimal:
    return Decimal(repr(value))


def _request_cost(price: Price, row: HistoryRow) -> Decimal:
    return row.prompt_tokens * _usd(price.input_per_token) + row.completion_tokens * _usd(price.output_per_token)


@dataclass(frozen=True)
class TaskProjection:
    environment: str
    task: str
    route: str
    requests_per_month: Decimal
    hit_rate: Decimal | None  # None: not projected (Cortex)
    cost: Decimal | None

    @property
    def projected(self) -> bool:
        return self.cost is not None


def _embedder_price(environment: ResolvedEnvironment) -> Price | None:
    target = environment.cache_embedding_target
    return target.price if environment.defaults.cache.mode == "semantic" and target is not None else None


def project_task(
    environment: ResolvedEnvironment, task: ResolvedTask, rows: Sequence[HistoryRow], factor: Decimal
) -> TaskProjection:
    """One task's month under one environment's routes."""
    requests = len(rows) * factor
    if task.route != "gateway":
        return TaskProjection(environment.name, task.name, task.route, requests, None, None)
    cached = task.cache.mode != "off" and environment.defaults.cache.mode != "off"
    hit_rate = Decimal(sum(row.cache_hit for row in rows)) / len(rows) if cached and rows else Decimal(0)
    provider = Decimal(0)
    for branch in task.branches:
        price = branch.chain[0].price
        if price is None:  # a gateway target is always priced (rules.py refuses the spec otherwise)
            raise ValueError(f"{task.name}: unpriced gateway target {branch.chain[0].label}")
        share = Decimal(repr(branch.percent)) / 100
        provider += share * sum((_request_cost(price, row) for row in rows), Decimal(0))
    cost = (1 - hit_rate) * provider
    embedder = _embedder_price(environment)
    if cached and embedder is not None:  # every lookup embeds the prompt, hit or miss
        cost += sum((row.prompt_tokens * _usd(embedder.input_per_token) for row in rows), Decimal(0))
    return TaskProjection(environment.name, task.name, task.route, requests, hit_rate, cost * factor)


def project(spec: RoutingSpec, history: History, environments: Iterable[str]) -> dict[tuple[str, str], TaskProjection]:
    """(environment, task) → projection, for every task of the spec the history has requests for."""
    projections: dict[tuple[str, str], TaskProjection] = {}
    for name in environments:
        if name not in spec.environments:
            continue
        resolved = resolve_environment(spec, name)
        rows = history.rows_for(name)
        for task in resolved.tasks:
            task_rows = [row for row in rows if row.task == task.name]
            if task_rows:
                projections[(name, task.name)] = project_task(resolved, task, task_rows, history.monthly_factor)
    return projections


# --- the report -------------------------------------------------------------------------------------


def _cents(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(CENT, ROUND_HALF_UP)


def _money(value: Decimal | None, signed: bool = False) -> str:
    if value is None:
        return "-"
    text = f"{value:,.2f}"
    return f"+{text}" if signed and value > 0 else text


def _rate(value: Decimal | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


@dataclass(frozen=True)
class ReportRow:
    environment: str
    task: str
    requests: str
    hit_rate: str
    base: str
    new: str
    change: str


TEMPLATE = jinja2.Environment(autoescape=False, trim_blocks=True, lstrip_blocks=True).from_string(
    """\
## Projected monthly cost

From `{{ source }}`: {{ requests }} requests over {{ days }} day{{ "s" if days != "1" }}, scaled to a 30-day month; \
prices of LiteLLM {{ litellm }}'s price map; each task's traffic split as the spec routes it (experiments \
included, every target healthy) and the history's cache hit rate (none where the spec turns the cache off).

{% if with_base %}
| environment | task | requests / month | cache hit rate | base USD | new USD | change USD |
|---|---|---:|---:|---:|---:|---:|
{% for row in rows %}
| {{ row.environment }} | {{ row.task }} | {{ row.requests }} | {{ row.hit_rate }} \
| {{ row.base }} | {{ row.new }} | {{ row.change }} |
{% endfor %}
{% else %}
| environment | task | requests / month | cache hit rate | USD |
|---|---|---:|---:|---:|
{% for row in rows %}
| {{ row.environment }} | {{ row.task }} | {{ row.requests }} | {{ row.hit_rate }} | {{ row.new }} |
{% endfor %}
{% endif %}
{% for note in notes %}

{{ note }}
{% endfor %}
"""
)


def _hit_rates(base: TaskProjection | None, new: TaskProjection | None) -> str:
    old_rate, new_rate = base.hit_rate if base else None, new.hit_rate if new else None
    if base is None or new is None or old_rate == new_rate:
        return _rate(new_rate if new is not None else old_rate)
    return f"{_rate(old_rate)} → {_rate(new_rate)}"


def cost_report(
    new_spec: RoutingSpec,
    history: History,
    base_spec: RoutingSpec | None = None,
    environments: Sequence[str] | None = None,
) -> str:
    """Markdown: the projected month per environment and task under the spec (and the base, and the change)."""
    chosen = list(environments or history.environments or ENVIRONMENT_NAMES)
    new = project(new_spec, history, chosen)
    base = project(base_spec, history, chosen) if base_spec is not None else {}
    rows: list[ReportRow] = []
    notes: list[str] = []
    # Tasks no token price applies to, whether or not the history has their requests.
    cortex = {
        task.name
        for spec in (new_spec, base_spec)
        if spec is not None
        for environment in chosen
        if environment in spec.environments
        for task in resolve_environment(spec, environment).tasks
        if task.route == "snowflake_cortex"
    }
    not_projected: dict[str, set[str]] = {"snowflake_cortex": cortex} if cortex else {}
    for environment in chosen:
        keys = sorted({key for key in (*new, *base) if key[0] == environment}, key=lambda key: key[1])
        totals = {"base": Decimal(0), "new": Decimal(0)}
        for key in keys:
            before, after = base.get(key), new.get(key)
            either = after or before
            assert either is not None
            if not either.projected:
                not_projected.setdefault(either.route, set()).add(key[1])
                continue
            base_cost, new_cost = _cents(before.cost if before else None), _cents(after.cost if after else None)
            totals["base"] += base_cost or 0
            totals["new"] += new_cost or 0
            change = (new_cost or Decimal(0)) - (base_cost or Decimal(0))
            rows.append(
                ReportRow(
                    environment,
                    key[1],
                    f"{either.requests_per_month.quantize(Decimal(1), ROUND_HALF_UP):,}",
                    _hit_rates(before, after),
                    _money(base_cost) if base_spec is not None and before else "-",
                    _money(new_cost) if after else "-",
                    _money(change, signed=True),
                )
            )
        if keys:
            rows.append(
                ReportRow(
                    environment,
                    "**total**",
                    "",
                    "",
                    _money(totals["base"]),
                    _money(totals["new"]),
                    _money(totals["new"] - totals["base"], signed=True),
                )
            )
    for route, tasks in sorted(not_projected.items()):
        listed = ", ".join(f"`{task}`" for task in sorted(tasks))
        if route == "snowflake_cortex":
            notes.append(
                f"Not projected: {listed} run in Snowflake Cortex, next to the data, billed in Snowflake credits "
                "(Cortex's own per-token credits and the warehouse the EMBED_TEXT calls run on), not at a price "
                "of LiteLLM's map; the gateway's request log does not see them."
            )
    if not history.environments:
        notes.append("The history names no environment: each environment is priced on all of its requests.")
    known = {task for spec in (new_spec, base_spec) if spec is not None for task in spec.tasks}
    unknown = sorted({row.task for row in history.rows} - known)
    if unknown:
        notes.append(
            f"Left out: {', '.join(f'`{task}`' for task in unknown)} in the history but routed by neither spec."
        )
    if base_spec is not None and not base and not new:
        notes.append("No request of the history is routed by either spec in these environments.")
    return TEMPLATE.render(
        source=history.path,
        requests=f"{len(history.rows):,}",
        days=f"{history.days:g}",
        litellm=load_price_map().litellm_version,
        with_base=base_spec is not None,
        rows=rows,
        notes=notes,
    )
