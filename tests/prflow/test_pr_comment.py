"""`python -m tools.pr_comment`: the one PR comment, from the routing diff, the cost projection and
the policy reports (fixtures in the shape `python -m policies.report --json` prints)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.prflow.helpers import EXPECTED, FIXTURES, assert_one_clean_error, run_module
from tools.markdown import demote_headings
from tools.pr_comment import COMMENT_LIMIT, MARKER, policy_results, render_comment

COMMIT = "0123456789abcdef0123456789abcdef01234567"
BASE = "fedcba9876543210fedcba9876543210fedcba98"


def test_the_comment_is_exactly_the_expected_markdown(tmp_path: Path) -> None:
    out = tmp_path / "comment.md"
    result = run_module(
        "tools.pr_comment",
        "--routing-diff", FIXTURES / "routing-diff.md",
        "--cost", FIXTURES / "cost.md",
        "--policy", FIXTURES / "policy-staging.json",
        "--policy", FIXTURES / "policy-prod.json",
        "--commit", COMMIT, "--base", BASE, "--out", out,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert out.read_text(encoding="utf-8") == (EXPECTED / "pr-comment.md").read_text(encoding="utf-8")


def test_the_marker_opens_the_comment_so_the_workflow_can_find_it() -> None:
    comment = (EXPECTED / "pr-comment.md").read_text(encoding="utf-8")
    assert comment.startswith(MARKER + "\n")
    assert comment.count(MARKER) == 1


def test_cells_cannot_break_the_table_or_hide_text() -> None:
    comment = (EXPECTED / "pr-comment.md").read_text(encoding="utf-8")
    assert "pulumi.Output.secret \\| or drop it" in comment  # a pipe in a message stays in its cell
    assert "redis:7.4@sha256:&lt;digest&gt;" in comment  # GitHub would swallow <digest> as a tag
    assert "| prod | 5 (1 disabled) | 2 | 0 | ❌ blocks the merge |" in comment
    assert "| staging | 4 | 0 | 1 | ⚠️ passes with warnings |" in comment


def test_headings_nest_under_the_comment_and_fenced_code_is_left_alone() -> None:
    text = "## Routing change\n\n### prod\n\n```\n## not a heading\n```\n"
    assert demote_headings(text, 3) == "### Routing change\n\n#### prod\n\n```\n## not a heading\n```\n"


def test_a_passing_stack_reads_as_passing() -> None:
    report = json.loads((FIXTURES / "policy-prod.json").read_text(encoding="utf-8"))
    for result in report["results"]:
        result["violations"] = []
    comment = render_comment("## Routing change\n\nNo change.\n", "## Cost\n", [policy_results(report, "p.json")])
    assert "| prod | 5 (1 disabled) | 0 | 0 | ✅ passes |" in comment
    assert "violation" not in comment.split("### Routing change")[0].split("| result |")[1]


def test_a_huge_routing_diff_is_cut_and_the_comment_fits_github() -> None:
    policies = [policy_results(json.loads((FIXTURES / "policy-prod.json").read_text()), "p.json")]
    diff = "## Routing change\n\n" + "".join(f"- `task{n}`: a change worth a line\n" for n in range(5000))
    comment = render_comment(diff, "## Projected monthly cost\n\nsome table\n", policies, COMMIT, BASE)
    assert len(comment) <= COMMENT_LIMIT
    assert "`make diff BASE=fedcba9876543210fedcba9876543210fedcba98` prints all of it" in comment
    assert comment.rstrip().endswith("some table")  # the cost is kept whole


def _policy(tmp_path: Path, document: object) -> Path:
    path = tmp_path / "policy-prod.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"pack": "llm-gateway", "results": []}, "stack: expected a string"),
        ({"stack": "prod", "pack": "llm-gateway", "results": {}}, "results: expected a list"),
        (
            {
                "stack": "prod",
                "pack": "llm-gateway",
                "results": [{"policy": "p", "enforcement": "blocking", "violations": []}],
            },
            "results[0].enforcement: expected one of mandatory, advisory, disabled",
        ),
        (
            {
                "stack": "prod",
                "pack": "llm-gateway",
                "results": [{"policy": "p", "enforcement": "mandatory", "violations": [{"resource": None}]}],
            },
            "results[0].violations[0].message: expected a string",
        ),
    ],
)
def test_bad_policy_reports_exit_2_naming_the_key_path(tmp_path: Path, document: object, message: str) -> None:
    path = _policy(tmp_path, document)
    out = tmp_path / "comment.md"
    result = run_module(
        "tools.pr_comment", "--routing-diff", FIXTURES / "routing-diff.md", "--cost", FIXTURES / "cost.md",
        "--policy", path, "--out", out,
    )  # fmt: skip
    assert_one_clean_error(result, f"{path}: {message}")
    assert not out.exists()


def test_a_policy_report_that_is_not_json(tmp_path: Path) -> None:
    path = tmp_path / "policy-prod.json"
    path.write_text("Traceback (most recent call last):\n", encoding="utf-8")
    result = run_module(
        "tools.pr_comment", "--routing-diff", FIXTURES / "routing-diff.md", "--cost", FIXTURES / "cost.md",
        "--policy", path,
    )  # fmt: skip
    assert_one_clean_error(result, f"{path}:1", "not valid JSON")


def test_an_empty_routing_diff_means_the_command_failed(tmp_path: Path) -> None:
    empty = tmp_path / "diff.md"
    empty.write_text("", encoding="utf-8")
    result = run_module(
        "tools.pr_comment", "--routing-diff", empty, "--cost", FIXTURES / "cost.md",
        "--policy", FIXTURES / "policy-prod.json",
    )  # fmt: skip
    assert_one_clean_error(result, str(empty), "empty: expected the markdown `make diff BASE=<sha>` prints")
