"""The PR workflow's comment step, run as GitHub runs it (`bash -e`) on this checkout with the base
at HEAD: the real `make diff` and `make cost` at a commit, the real policy reports of both stacks, and
`tools.pr_comment`. Its outputs must agree with the reports: `blocked` names exactly the stacks with a
mandatory violation."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import yaml

from tests.prflow.helpers import ROOT
from tools.pr_comment import MARKER


def test_the_comment_step_renders_the_comment_and_names_the_blocked_stacks(tmp_path: Path) -> None:
    steps = yaml.safe_load((ROOT / ".github/workflows/pr.yml").read_text(encoding="utf-8"))["jobs"]["comment"]["steps"]
    (step,) = [step for step in steps if step.get("id") == "render"]
    script = tmp_path / "step.sh"
    script.write_text(step["run"], encoding="utf-8")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True)
    sha = head.stdout.strip()
    output, summary = tmp_path / "output", tmp_path / "summary"
    output.touch()
    summary.touch()
    env = {
        **os.environ,
        "BASE_SHA": sha,
        "HEAD_SHA": sha,
        "RUNNER_TEMP": str(tmp_path),
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(summary),
    }
    result = subprocess.run(
        ["bash", "-e", str(script)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, result.stderr
    comment = (tmp_path / "pr-checks" / "comment.md").read_text(encoding="utf-8")
    assert comment.startswith(MARKER) and summary.read_text(encoding="utf-8") == comment
    assert f"For `{sha[:12]}` against the base `{sha[:12]}`" in comment
    assert "### Routing change" in comment and "### Projected monthly cost" in comment

    blocked = []
    for stack in ("staging", "prod"):
        report = json.loads((tmp_path / "pr-checks" / f"policy-{stack}.json").read_text(encoding="utf-8"))
        assert report["stack"] == stack
        if any(r["enforcement"] == "mandatory" and r["violations"] for r in report["results"]):
            blocked.append(stack)
    outputs = dict(line.split("=", 1) for line in output.read_text(encoding="utf-8").splitlines())
    assert outputs["blocked"] == " ".join(blocked)
