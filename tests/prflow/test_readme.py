"""The README's "PR checks" section shows what a reviewer sees, produced by the real commands:

- the PR comment: `python -m gateway_config diff` and `python -m gateway_config cost` (on
  gateway_config/samples/requests-week.csv) between gateway_config/routing.yaml and the same spec with
  the example change of docs/examples/routing-change.yaml applied, and `python -m policies.report`
  of both stacks (on the committed tree), all rendered by `python -m tools.pr_comment`;
- a drift report: `python -m tools.drift_report` on the prod drift fixture.

Regenerate the section with `UPDATE_README=1 .venv/bin/pytest tests/prflow/test_readme.py`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.prflow.helpers import FIXTURES, ROOT, run_module
from tools.markdown import demote_headings

README = ROOT / "README.md"
SPEC = Path("gateway_config/routing.yaml")
REQUESTS = Path("gateway_config/samples/requests-week.csv")
EXAMPLE_CHANGE = ROOT / "docs" / "examples" / "routing-change.yaml"
BEGIN, END = "<!-- BEGIN pr-checks example (tests/prflow/test_readme.py) -->", "<!-- END pr-checks example -->"


def apply_change(spec: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    for dotted, value in change.items():
        *parents, leaf = dotted.split(".")
        node = spec
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    return spec


def _stdout(module: str, *args: str | Path, codes: tuple[int, ...] = (0,)) -> str:
    result = run_module(module, *args)
    assert result.returncode in codes, f"python -m {module}: exit {result.returncode}\n{result.stderr}"
    return result.stdout


def policy_reports(out: Path) -> list[Path]:
    """Each stack's report from the real pack, as the PR workflow runs it (exit 1: a mandatory violation)."""
    reports = []
    for stack in ("staging", "prod"):
        report = out / f"policy-{stack}.json"
        report.write_text(_stdout("policies.report", "--stack", stack, "--json", codes=(0, 1)), encoding="utf-8")
        reports.append(report)
    return reports


def quoted(markdown: str) -> str:
    """As a block quote: the reviewer's view, set apart from the README around it."""
    return "\n".join(f"> {line}" if line else ">" for line in demote_headings(markdown, 4).splitlines()) + "\n"


def expected_section(tmp: Path) -> str:
    changed = apply_change(
        yaml.safe_load((ROOT / SPEC).read_text(encoding="utf-8")),
        yaml.safe_load(EXAMPLE_CHANGE.read_text(encoding="utf-8")),
    )
    changed_spec = tmp / "routing.yaml"
    changed_spec.write_text(yaml.safe_dump(changed, sort_keys=False), encoding="utf-8")
    diff, cost = tmp / "diff.md", tmp / "cost.md"
    diff.write_text(_stdout("gateway_config", "diff", "--base-spec", SPEC, "--spec", changed_spec), encoding="utf-8")
    cost.write_text(
        _stdout("gateway_config", "cost", "--spec", changed_spec, "--base-spec", SPEC, "--requests", REQUESTS),
        encoding="utf-8",
    )
    policy_args: list[str | Path] = []
    for report in policy_reports(tmp):
        policy_args += ["--policy", report]
    comment = _stdout("tools.pr_comment", "--routing-diff", diff, "--cost", cost, *policy_args)
    drift = _stdout("tools.drift_report", FIXTURES / "preview-prod-drift.json", "--stack", "prod", codes=(1,))
    return "\n".join(
        [
            BEGIN,
            "",
            "The comment on a PR that makes the change in"
            " [docs/examples/routing-change.yaml](docs/examples/routing-change.yaml)"
            " (the policy results are the pack's on the committed tree):",
            "",
            quoted(comment),
            "The drift report of a scheduled run that found prod edited by hand"
            " (from `tests/prflow/fixtures/preview-prod-drift.json`):",
            "",
            quoted(drift),
            END,
        ]
    )


@pytest.fixture(scope="module")
def section(tmp_path_factory: pytest.TempPathFactory) -> str:
    # Once per run: the policy reports run the whole program under mocks, twice.
    return expected_section(tmp_path_factory.mktemp("readme"))


def test_the_readme_shows_what_the_commands_print(section: str) -> None:
    readme = README.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.DOTALL)
    assert pattern.search(readme), f"README.md has no {BEGIN} … {END} section"
    if os.environ.get("UPDATE_README") == "1":
        README.write_text(pattern.sub(lambda _: section, readme), encoding="utf-8")
        readme = README.read_text(encoding="utf-8")
    assert pattern.search(readme).group(0) == section, (  # type: ignore[union-attr]
        "README.md's PR checks example is stale: UPDATE_README=1 .venv/bin/pytest tests/prflow/test_readme.py"
    )


def test_the_example_change_changes_routing_and_cost(section: str) -> None:
    assert "No change to routing" not in section
    assert "25%" in section  # the experiment's new share
    assert re.search(r"\| prod \| chat \|[^\n]*\| [+-]\d+\.\d\d \|\n", section)  # a cost change
