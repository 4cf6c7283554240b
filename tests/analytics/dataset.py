"""A fixture dataset shaped like real gateway log rows, and the KPIs computed from it in Python.

Each payload starts as a copy of a real LiteLLM ``s3_v2`` payload captured on this machine
(``fixtures/litellm-request-log.jsonl``) and changes only the fields a request varies in: ids, times,
deployment (with the tags and prices the generated prod config gives it), status, tokens, cost,
cache, stream, the client's ids. The requests are what the gateway sees: cache hits, fallbacks (a
failure row and a success row sharing a call id), retries on the same target, refusals, the chat
experiment's two branches, streams, over two months.

Times are whole multiples of 40 µs: every latency, and every interpolation a percentile makes
between them, is then at least 0.2 µs away from a rounding tie at the microsecond, so a float
engine and this exact arithmetic round it the same way.
"""

from __future__ import annotations

import copy
import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import yaml

from tests.analytics.snowflake_support import CAPTURED, money, read_ndjson, rounded
from tools.offline import ROOT

TICK_US = 40
PROD_CONFIG = ROOT / "gateway_config" / "generated" / "prod" / "litellm" / "config.yaml"


@dataclass(frozen=True)
class Deployment:
    id: str
    task: str
    model: str  # the spec's model name
    litellm_model: str
    provider: str
    input_per_token: float
    output_per_token: float
    tags: tuple[str, ...]


def prod_deployments() -> dict[str, Deployment]:
    """Every deployment of the generated prod config, by id, as LiteLLM is given it."""
    config = yaml.safe_load(PROD_CONFIG.read_text())
    deployments = {}
    for entry in config["model_list"]:
        params, deployment_id = entry["litellm_params"], entry["model_info"]["id"]
        deployments[deployment_id] = Deployment(
            id=deployment_id,
            task=entry["model_name"],
            model=deployment_id.split("/")[1],
            litellm_model=params["model"],
            provider=params["model"].split("/")[0],
            input_per_token=params["input_cost_per_token"],
            output_per_token=params["output_cost_per_token"],
            tags=tuple(params.get("tags") or ()),
        )
    return deployments


@dataclass
class Attempt:
    deployment: Deployment
    start_us: int
    end_us: int
    ok: bool
    error_code: str | None = None
    retries_before: int = 0


@dataclass
class Request:
    call_id: str
    attempts: list[Attempt]
    prompt_tokens: int
    completion_tokens: int
    cache_hit: bool = False
    stream: bool = False
    ttft_us: int | None = None  # from the serving attempt's start
    user: str | None = None
    session: str | None = None
    conversation: str | None = None
    workflow: str | None = None
    client_tags: list[str] = field(default_factory=list)

    # --- what a request is, computed here the plain way (the views' expected values) -------------

    @property
    def first(self) -> Attempt:
        return min(self.attempts, key=lambda attempt: attempt.start_us)

    @property
    def outcome(self) -> Attempt:
        served = [attempt for attempt in self.attempts if attempt.ok]
        return served[0] if served else max(self.attempts, key=lambda attempt: attempt.end_us)

    @property
    def succeeded(self) -> bool:
        return self.outcome.ok

    @property
    def task(self) -> str:
        return self.outcome.deployment.task

    @property
    def day(self) -> date:
        return datetime.fromtimestamp(self.first.start_us / 1e6, UTC).date()

    @property
    def latency_ms(self) -> Decimal:
        return Decimal(max(a.end_us for a in self.attempts) - self.first.start_us) / 1000

    @property
    def ttft_ms(self) -> Decimal:
        outcome = self.outcome
        ttft = self.ttft_us if self.ttft_us is not None else outcome.end_us - outcome.start_us
        return Decimal(outcome.start_us - self.first.start_us + ttft) / 1000

    @property
    def fallback(self) -> bool:
        return self.succeeded and self.first.deployment.model != self.outcome.deployment.model

    def cost(self) -> Decimal:
        return money(self.response_cost(self.outcome)) if self.succeeded and not self.cache_hit else Decimal(0)

    def saved(self) -> Decimal:
        return money(self.miss_cost(self.outcome)) if self.cache_hit else Decimal(0)

    def experiment(self) -> str | None:
        return _tag(self.first_tags(), "experiment") or None

    def variant(self) -> str | None:
        return _tag(self.first_tags(), "variant")

    def first_tags(self) -> list[str]:
        return self.tags_of(self.attempts.index(self.first))

    # --- the payloads LiteLLM writes --------------------------------------------------------------

    def miss_cost(self, attempt: Attempt) -> float:
        d = attempt.deployment
        return self.prompt_tokens * d.input_per_token + self.completion_tokens * d.output_per_token

    def response_cost(self, attempt: Attempt) -> float:
        return 0.0 if (self.cache_hit or not attempt.ok) else self.miss_cost(attempt)

    def tags_of(self, index: int) -> list[str]:
        """``request_tags`` of attempt ``index``: the client's, then each deployment's new ones (LiteLLM
        merges into one list it reuses across a request's attempts)."""
        merged = list(self.client_tags)
        for attempt in self.attempts[: index + 1]:
            merged += [tag for tag in attempt.deployment.tags if tag not in merged]
        return merged

    def payloads(self, template: dict[str, Any]) -> list[dict[str, Any]]:
        rows = []
        for index, attempt in enumerate(self.attempts):
            row = copy.deepcopy(template)
            d = attempt.deployment
            start, end = attempt.start_us / 1e6, attempt.end_us / 1e6
            served_first = (attempt.start_us + self.ttft_us) / 1e6 if self.stream and self.ttft_us else end
            row.update(
                {
                    "id": (f"chatcmpl-{self.call_id}" + ("_cache_hit" if self.cache_hit else ""))
                    if attempt.ok
                    else self.call_id,
                    "litellm_call_id": self.call_id,
                    "startTime": start,
                    "endTime": end,
                    "completionStartTime": served_first,
                    "model_group": d.task,
                    "model_id": d.id,
                    "model": d.litellm_model,
                    "custom_llm_provider": d.provider,
                    "status": "success" if attempt.ok else "failure",
                    "cache_hit": True if self.cache_hit else (None if attempt.ok else False),
                    "stream": True if self.stream else None,
                    "prompt_tokens": self.prompt_tokens if attempt.ok else 0,
                    "completion_tokens": self.completion_tokens if attempt.ok else 0,
                    "total_tokens": self.prompt_tokens + self.completion_tokens if attempt.ok else 0,
                    "response_cost": self.response_cost(attempt),
                    "saved_cache_cost": self.miss_cost(attempt) if self.cache_hit else 0.0,
                    "request_tags": [*self.tags_of(index), "User-Agent: python-httpx"],
                    "end_user": self.user or "",
                    "session_id": self.session or "",
                }
            )
            metadata = row["metadata"]
            metadata["requester_metadata"] = {
                key: value
                for key, value in (("conversation_id", self.conversation), ("workflow_id", self.workflow))
                if value is not None
            }
            metadata["spend_logs_metadata"] = None
            row["hidden_params"]["additional_headers"]["x-litellm-attempted-retries"] = attempt.retries_before
            row["error_information"] = {
                **row["error_information"],
                "error_code": "" if attempt.ok else attempt.error_code,
                "error_class": "" if attempt.ok else "InternalServerError",
            }
            rows.append(row)
        return rows


def _tag(tags: Iterable[str], name: str) -> str | None:
    values = [tag.split("=", 1)[1] for tag in tags if tag.startswith(f"llm-gateway:{name}=")]
    return values[-1] if values else None


def template_payload() -> dict[str, Any]:
    """The captured payload of a plain successful request."""
    for payload in read_ndjson(CAPTURED):
        if payload["status"] == "success" and not payload["cache_hit"] and not payload["stream"]:
            return payload
    raise AssertionError("the captured fixture has no plain successful request")


def _ticks(rng: random.Random, low_ms: int, high_ms: int) -> int:
    return rng.randrange(low_ms * 1000 // TICK_US, high_ms * 1000 // TICK_US) * TICK_US


def build(now: datetime, seed: int = 6, per_day: int = 40) -> list[Request]:
    """Requests on the last two days of the previous month and in the current month up to ``now``."""
    rng = random.Random(seed)
    deployments = prod_deployments()
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    previous = [month_start - timedelta(days=2), month_start - timedelta(days=1)]
    elapsed_us = int((now - month_start).total_seconds() * 1e6)
    days: list[tuple[datetime, int]] = [(day, 86_400 * 10**6) for day in previous]
    days.append((month_start, max(elapsed_us - 120 * 10**6, TICK_US)))  # requests end before `now`
    users, sessions = [f"user-{i}" for i in range(5)], [f"sess-{i:04d}" for i in range(8)]
    conversations, workflows = [f"conv-{i}" for i in range(6)], ["wf-nightly", "wf-report", "wf-triage"]
    requests: list[Request] = []
    for day, span_us in days:
        epoch_us = int(day.timestamp() * 1e6)
        for _ in range(per_day):
            # One draw per start whatever the span (randrange's draws depend on it), so the rest of the
            # dataset is the same on every date the tests run.
            start = epoch_us + int(rng.random() * max(span_us // TICK_US, 1)) * TICK_US
            requests.append(_request(rng, deployments, start, len(requests), users, sessions, conversations, workflows))
    # The variant's rare cases, so that each is there whatever the draw: a retry on its last-resort
    # copy of the same model (not a fallback), and a fallback to the control's model.
    start = int(month_start.timestamp() * 1e6) + TICK_US
    for served_by, code in (("chat/claude-haiku/last-resort", "503"), ("chat/gpt-4o-mini", "429")):
        failed = Attempt(deployments["chat/claude-haiku"], start, start + 400 * TICK_US, False, code)
        served = Attempt(deployments[served_by], failed.end_us + TICK_US, failed.end_us + 900 * TICK_US, True, None, 1)
        requests.append(Request(f"call-{len(requests):05d}", [failed, served], 300, 120, user="user-0"))
        start += 1000 * TICK_US
    # A stream LiteLLM logged without usage (docs/runtime-facts.md): served, but its cost is unknown.
    unmetered = Attempt(deployments["code_generation/gpt-4o"], start, start + 700 * TICK_US, True)
    requests.append(Request(f"call-{len(requests):05d}", [unmetered], 0, 0, stream=True, ttft_us=50 * TICK_US))
    return requests


def _request(
    rng: random.Random,
    deployments: dict[str, Deployment],
    start: int,
    number: int,
    users: list[str],
    sessions: list[str],
    conversations: list[str],
    workflows: list[str],
) -> Request:
    call_id = f"call-{number:05d}"
    kind = rng.choices(["code", "bi", "chat", "experimental"], weights=[3, 2, 4, 1])[0]
    prompt, completion = rng.randrange(20, 4000), rng.randrange(5, 1500)
    ids = {
        "user": rng.choice([*users, None]),
        "session": rng.choice([*sessions, None, None]),
        "conversation": rng.choice([*conversations, None]),
        "workflow": rng.choice([*workflows, None, None]),
    }

    def attempt(deployment_id: str, begin: int, ok: bool = True, code: str | None = None, retries: int = 0) -> Attempt:
        return Attempt(deployments[deployment_id], begin, begin + _ticks(rng, 80, 9000), ok, code, retries)

    if kind == "code":
        if rng.random() < 0.3:  # a cache hit: ~1 ms, no provider call, priced as the miss it saved
            hit = Attempt(deployments["code_generation/gpt-4o"], start, start + _ticks(rng, 1, 3), True)
            return Request(call_id, [hit], prompt, completion, cache_hit=True, **ids)
        stream = rng.random() < 0.3
        first = attempt("code_generation/gpt-4o", start)
        ttft = _ticks(rng, 20, max(21, (first.end_us - first.start_us) // 1000)) if stream else None
        return Request(call_id, [first], prompt, completion, stream=stream, ttft_us=ttft, **ids)
    if kind == "bi":
        roll = rng.random()
        if roll < 0.15:  # the primary fails, the next target serves: a fallback
            failed = attempt("business_intelligence/gpt-4o", start, ok=False, code="500")
            served = attempt("business_intelligence/claude-sonnet", failed.end_us + _ticks(rng, 1, 30), retries=1)
            return Request(call_id, [failed, served], prompt, completion, **ids)
        if roll < 0.22:  # every target failed: one failure row
            return Request(call_id, [attempt("business_intelligence/gpt-4o", start, False, "503")], prompt, 0, **ids)
        return Request(call_id, [attempt("business_intelligence/gpt-4o", start)], prompt, completion, **ids)
    if kind == "chat":
        variant = rng.random() < 0.1
        primary = "chat/claude-haiku" if variant else "chat/gpt-4o-mini"
        roll = rng.random()
        if roll < 0.06:  # the branch's first choice fails, the other order-1 deployment serves
            other = "chat/gpt-4o-mini" if variant else "chat/claude-haiku/last-resort"
            failed = attempt(primary, start, ok=False, code="429")
            served = attempt(other, failed.end_us + _ticks(rng, 1, 30), retries=1)
            return Request(call_id, [failed, served], prompt, completion, **ids)
        if roll < 0.1:  # a retry on the same model after a 503 (for the variant: its last-resort copy)
            failed = attempt(primary, start, ok=False, code="503")
            again = "chat/claude-haiku/last-resort" if variant else primary
            served = attempt(again, failed.end_us + _ticks(rng, 100, 300), retries=1)
            return Request(call_id, [failed, served], prompt, completion, **ids)
        if roll < 0.14:
            return Request(call_id, [attempt(primary, start, False, "429")], prompt, 0, **ids)
        stream = rng.random() < 0.4
        served = attempt(primary, start)
        ttft = _ticks(rng, 20, max(21, (served.end_us - served.start_us) // 1000)) if stream else None
        tags = ["llm-gateway:variant=variant"] if rng.random() < 0.2 else []  # a client sending our tags
        return Request(call_id, [served], prompt, completion, stream=stream, ttft_us=ttft, client_tags=tags, **ids)
    deployment = rng.choice(["experimental/llama-3.3-70b", "experimental/deepseek-chat"])
    return Request(call_id, [attempt(deployment, start)], prompt, completion, **ids)


def payloads(requests: Iterable[Request]) -> list[dict[str, Any]]:
    template = template_payload()
    return [row for request in requests for row in request.payloads(template)]


# --- percentiles, as PERCENTILE_CONT defines them ---------------------------------------------------


def percentile_cont(values: Iterable[Decimal], fraction: str) -> Decimal | None:
    """Linear interpolation between the two values around position 1 + p * (n - 1)."""
    ordered = sorted(values)
    if not ordered:
        return None
    position = Decimal(fraction) * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def grouped(requests: Iterable[Request], key: Any) -> dict[Any, list[Request]]:
    groups: dict[Any, list[Request]] = defaultdict(list)
    for request in requests:
        groups[key(request)].append(request)
    return dict(groups)


def rate(part: int, whole: int) -> Decimal:
    return rounded(Decimal(part) / Decimal(whole), 12)
