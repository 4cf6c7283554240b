"""`python -m gateway_config cost`: past requests priced under a spec's routes, checked by hand.

The hand-checked case: two tasks, 20 requests each over one day (x30 to a month), prices of the
pinned LiteLLM's map (gpt-4o 2.5e-6/1e-5, gpt-4o-mini 1.5e-7/6e-7, claude-haiku-4-5 1e-6/5e-6 USD
per prompt/completion token), an experiment sending 10 % of chat to Haiku, a 30 % cache hit rate:

    code_generation  600 requests/month, 70 % miss: 420 x (1000 x 2.5e-6 + 500 x 1e-5) = 420 x 0.0075 = 3.15
    chat (base)      600 x (10000 x 1.5e-7 + 5000 x 6e-7)           = 600 x 0.0045                  = 2.70
    chat (new)       600 x (0.9 x 0.0045 + 0.1 x (10000 x 1e-6 + 5000 x 5e-6) = 0.00755)          = 4.53
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from spec_edits import REAL_SPEC, edit, line_of, run_cli

from gateway_config.cost import cost_report, read_history
from gateway_config.loader import load_spec_text
from gateway_config.prices import load_price_map

SAMPLE = REAL_SPEC.parent / "samples" / "requests-week.csv"

SPEC = """\
version: 1
providers:
  openai: {kind: openai, base_url: "https://api.openai.com/v1", api_key_env: OPENAI_API_KEY}
  anthropic: {kind: anthropic, base_url: "https://api.anthropic.com/v1", api_key_env: ANTHROPIC_API_KEY}
models:
  gpt-4o: {provider: openai, id: gpt-4o}
  gpt-4o-mini: {provider: openai, id: gpt-4o-mini}
  claude-haiku: {provider: anthropic, id: claude-haiku-4-5-20251001}
tiers:
  big: {targets: [gpt-4o]}
  small: {targets: [gpt-4o-mini]}
tasks:
  code_generation: {tier: big}
  chat: {tier: small}
defaults:
  cache: {mode: simple}
experiments: {}
environments:
  prod: {portkey_targets: custom_host, budgets: {monthly_usd: 100}}
  staging: {portkey_targets: custom_host, budgets: {monthly_usd: 10}}
  local: {portkey_targets: custom_host, budgets: {monthly_usd: 0}}
"""
EXPERIMENT = (
    "experiments: {}\n",
    "experiments:\n  haiku:\n    kind: ab\n    task: chat\n"
    "    variant: {model: claude-haiku}\n    traffic_percent: 10\n",
)


def _history(tmp_path: Path, name: str = "requests.csv") -> Path:
    lines = ["TASK,PROMPT_TOKENS,COMPLETION_TOKENS,CACHE_STATUS"]
    lines += [f"code_generation,1000,500,{'hit' if i < 6 else 'miss'}" for i in range(20)]
    lines += ["chat,10000,5000,miss"] * 20
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def _table(report: str) -> dict[tuple[str, str], list[str]]:
    rows = {}
    for line in report.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if line.startswith("| ") and cells[0] in ("prod", "staging", "local"):
            rows[(cells[0], cells[1])] = cells[2:]
    return rows


def test_the_hand_checked_case_matches_to_the_cent(tmp_path: Path) -> None:
    # The prices the docstring uses are the map's.
    prices = load_price_map()
    assert (prices.price("gpt-4o").input_per_token, prices.price("gpt-4o").output_per_token) == (2.5e-06, 1e-05)
    assert (prices.price("gpt-4o-mini").input_per_token, prices.price("gpt-4o-mini").output_per_token) == (
        1.5e-07,
        6e-07,
    )
    haiku = prices.price("claude-haiku-4-5-20251001")
    assert (haiku.input_per_token, haiku.output_per_token) == (1e-06, 5e-06)

    history = read_history(_history(tmp_path), days=1)
    base, new = load_spec_text(SPEC, "base.yaml"), load_spec_text(edit(SPEC, EXPERIMENT), "new.yaml")
    table = _table(cost_report(new, history, base, ["prod"]))
    assert table == {
        ("prod", "chat"): ["600", "0.0%", "2.70", "4.53", "+1.83"],
        ("prod", "code_generation"): ["600", "30.0%", "3.15", "3.15", "0.00"],
        ("prod", "**total**"): ["", "", "5.85", "7.68", "+1.83"],
    }
    alone = _table(cost_report(new, history, environments=["prod"]))
    assert alone[("prod", "chat")] == ["600", "0.0%", "4.53"] and alone[("prod", "**total**")] == ["", "", "7.68"]


def test_a_spec_that_turns_the_cache_off_loses_the_histories_hits(tmp_path: Path) -> None:
    history = read_history(_history(tmp_path), days=1)
    off = edit(SPEC, ("  code_generation: {tier: big}\n", '  code_generation: {tier: big, cache: {mode: "off"}}\n'))
    table = _table(cost_report(load_spec_text(off, "new.yaml"), history, load_spec_text(SPEC, "base.yaml"), ["prod"]))
    # 600 x 0.0075 = 4.50 without the 30 % of hits.
    assert table[("prod", "code_generation")] == ["600", "30.0% → 0.0%", "3.15", "4.50", "+1.35"]


def test_the_semantic_cache_pays_for_embedding_every_prompt(tmp_path: Path) -> None:
    semantic = edit(
        SPEC,
        (
            "  claude-haiku: {provider: anthropic, id: claude-haiku-4-5-20251001}\n",
            "  claude-haiku: {provider: anthropic, id: claude-haiku-4-5-20251001}\n"
            "  embed: {provider: openai, id: text-embedding-3-small, kind: embedding}\n",
        ),
        ("  cache: {mode: simple}\n", "  cache: {mode: semantic, embedding_model: embed}\n"),
    )
    table = _table(cost_report(load_spec_text(semantic, "spec.yaml"), read_history(_history(tmp_path), days=1)))
    # + 600 prompts/month x 1000 tokens x 2e-8 = 0.012 on code_generation, 600 x 10000 x 2e-8 = 0.12 on chat.
    assert table[("prod", "code_generation")][-1] == "3.16" and table[("prod", "chat")][-1] == "2.82"


def test_volume_comes_from_the_request_times(tmp_path: Path) -> None:
    path = tmp_path / "requests.jsonl"
    rows = [
        {"REQUEST_TIME": f"2026-11-0{day}T10:00:00Z", "ENVIRONMENT": "prod", "TASK": "chat",
         "PROMPT_TOKENS": 10000, "COMPLETION_TOKENS": 5000, "CACHE_STATUS": "miss"}
        for day in (1, 2, 3)
    ]  # fmt: skip
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    history = read_history(path)
    assert history.days == 2  # first request to last, in whole days: 3 requests in 2 days -> 45 a month
    assert _table(cost_report(load_spec_text(SPEC, "spec.yaml"), history))[("prod", "chat")] == ["45", "0.0%", "0.20"]


def test_cost_command_on_the_shipped_sample() -> None:
    result = run_cli("cost", "--spec", REAL_SPEC, "--requests", SAMPLE)
    assert result.returncode == 0, result.stderr
    table = _table(result.stdout)
    tasks = {"business_intelligence", "chat", "code_generation", "experimental", "**total**"}
    assert {key for key in table if key[0] == "prod"} == {("prod", task) for task in tasks}
    assert {key for key in table if key[0] == "staging"} == {("staging", task) for task in tasks}
    assert all(float(cells[-1].replace(",", "")) > 0 for cells in table.values())
    assert "`embeddings` run in Snowflake Cortex" in result.stdout

    with_base = run_cli("cost", "--spec", REAL_SPEC, "--base-spec", REAL_SPEC, "--requests", SAMPLE, "--env", "prod")
    assert with_base.returncode == 0, with_base.stderr
    assert "| base USD | new USD | change USD |" in with_base.stdout
    assert all(cells[-1] == "0.00" for cells in _table(with_base.stdout).values())


def test_diff_prices_the_routing_change(tmp_path: Path) -> None:
    changed = tmp_path / "routing.yaml"
    changed.write_text(edit(REAL_SPEC.read_text(), ("    traffic_percent: 10\n", "    traffic_percent: 50\n")))
    result = run_cli("diff", "--base-spec", REAL_SPEC, "--spec", changed, "--requests", SAMPLE, "--env", "prod")
    assert result.returncode == 0, result.stderr
    routing, cost = result.stdout.split("## Projected monthly cost")
    assert "experiment `chat-haiku-first`: 10% → 50%" in routing
    chat = _table(cost)[("prod", "chat")]
    assert float(chat[-1]) > 0 and _table(cost)[("prod", "code_generation")][-1] == "0.00"
    assert run_cli("diff", "--base-spec", REAL_SPEC, "--spec", changed).stdout.count("Projected") == 0


def test_an_unknown_model_is_exit_2_naming_it(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    text = edit(SPEC, ("id: gpt-4o-mini}", "id: gpt-9-ultra}"))
    spec.write_text(text)
    result = run_cli("cost", "--spec", spec, "--requests", _history(tmp_path), "--days", "1")
    assert result.returncode == 2 and result.stdout == ""
    line = line_of(text, "gpt-9-ultra")
    assert result.stderr.startswith(f"{spec}:{line}: models.gpt-4o-mini.id: LiteLLM 1.106.12's price map has no openai")
    assert "'gpt-9-ultra'" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        (
            "bad.csv",
            "TASK,PROMPT_TOKENS,COMPLETION_TOKENS,CACHE_STATUS\nchat,10,5,miss\nchat,ten,5,miss\nchat,10,5,maybe\n",
            [
                "{file}:3: prompt_tokens: not a whole number of tokens (got 'ten')",
                "{file}:4: cache_status: must be hit or miss (got 'maybe')",
            ],
        ),
        (
            "missing.csv",
            "TASK,PROMPT_TOKENS,CACHE_STATUS\nchat,10,miss\n",
            ["{file}:2: completion_tokens: missing"],
        ),
        (
            "bad.jsonl",
            '{"task": "chat", "prompt_tokens": 1, "completion_tokens": 2, "cache_status": "hit"}\n{"task": \n'
            '{"task": "chat", "prompt_tokens": -4, "completion_tokens": 2.5, "cache_status": "hit"}\n',
            [
                "{file}:2: <document>: not a JSON object (Expecting value)",
                "{file}:3: prompt_tokens: not a whole number of tokens (got -4)",
                "{file}:3: completion_tokens: not a whole number of tokens (got 2.5)",
            ],
        ),
        (
            "env.csv",
            "ENVIRONMENT,TASK,PROMPT_TOKENS,COMPLETION_TOKENS,CACHE_STATUS\nqa,chat,1,1,hit\n",
            ["{file}:2: environment: must be one of staging, prod, local (got 'qa')"],
        ),
        ("empty.csv", "TASK,PROMPT_TOKENS,COMPLETION_TOKENS,CACHE_STATUS\n", ["{file}: <document>: no requests: "]),
    ],
)
def test_a_malformed_request_file_is_exit_2_naming_line_and_field(
    tmp_path: Path, name: str, text: str, expected: list[str]
) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    path = tmp_path / name
    path.write_text(text)
    result = run_cli("cost", "--spec", spec, "--requests", path, "--days", "7")
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == len(expected), result.stderr
    for line, want in zip(lines, expected, strict=True):
        assert line.startswith(want.format(file=path)), line


def test_without_request_times_the_days_must_be_given(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    result = run_cli("cost", "--spec", spec, "--requests", _history(tmp_path))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"{tmp_path / 'requests.csv'}:2: request_time: needed on every row to know the days the file covers, "
        "or give --days"
    )
