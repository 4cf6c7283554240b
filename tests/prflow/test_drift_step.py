"""The drift workflow's preview step, run as GitHub runs it (`bash -e`), with a stand-in `pulumi` on
PATH that checks its arguments and replays a preview: the step's outputs and summary for drift, no
drift, and a preview that failed."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.prflow.helpers import FIXTURES, ROOT

FAKE_PULUMI = """#!/usr/bin/env bash
# Stands in for the Pulumi CLI: the step must ask for exactly this preview.
[ "$*" = "preview --stack acme/prod --refresh --expect-no-changes --json --non-interactive" ] \\
  || { echo "unexpected pulumi arguments: $*" >&2; exit 99; }
cat "$FAKE_PREVIEW"
exit "$FAKE_STATUS"
"""


def _drift_script() -> str:
    steps = yaml.safe_load((ROOT / ".github/workflows/drift.yml").read_text(encoding="utf-8"))["jobs"]["drift"]["steps"]
    (step,) = [step for step in steps if step.get("id") == "drift"]
    return str(step["run"])


def _run(tmp_path: Path, preview: str, status: int) -> tuple[subprocess.CompletedProcess[str], dict[str, str], str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "pulumi").write_text(FAKE_PULUMI, encoding="utf-8")
    (bin_dir / "pulumi").chmod(0o755)
    (tmp_path / "preview-in.json").write_text(preview, encoding="utf-8")
    script = tmp_path / "step.sh"
    script.write_text(_drift_script(), encoding="utf-8")
    output, summary = tmp_path / "output", tmp_path / "summary"
    output.touch()
    summary.touch()
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "FAKE_PREVIEW": str(tmp_path / "preview-in.json"),
        "FAKE_STATUS": str(status),
        "STACK": "acme/prod",
        "STACK_NAME": "prod",
        "RUNNER_TEMP": str(tmp_path),
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(summary),
    }
    result = subprocess.run(
        ["bash", "-e", str(script)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    outputs = dict(line.split("=", 1) for line in output.read_text(encoding="utf-8").splitlines())
    return result, outputs, summary.read_text(encoding="utf-8")


def test_drift_goes_to_the_summary_and_the_outputs(tmp_path: Path) -> None:
    # Pulumi exits 255 when --expect-no-changes finds changes: that is drift, not a failed step.
    result, outputs, summary = _run(tmp_path, (FIXTURES / "preview-prod-drift.json").read_text(), 255)
    assert result.returncode == 0, result.stderr
    assert outputs["drifted"] == "true"
    assert summary == Path(outputs["report"]).read_text(encoding="utf-8")
    assert summary.startswith("<!-- llm-gateway:drift:prod -->\n## Drift: prod\n")
    assert "| `spec.replicas` | update | `5` → `3` |" in summary


def test_no_drift(tmp_path: Path) -> None:
    result, outputs, summary = _run(tmp_path, (FIXTURES / "preview-staging-clean.json").read_text(), 0)
    assert result.returncode == 0, result.stderr
    assert outputs["drifted"] == "false"
    assert "No drift: every resource matches the code" in summary


@pytest.mark.parametrize(
    "preview",
    [
        "",  # the CLI failed before it printed anything (no credentials, no stack)
        '{"diagnostics": [{"message": "error: could not read ESC environment", "severity": "error"}]}',
    ],
)
def test_a_failed_preview_fails_the_step_and_is_not_reported_as_clean(tmp_path: Path, preview: str) -> None:
    result, outputs, _ = _run(tmp_path, preview, 255)
    assert result.returncode == 1
    assert "::error::pulumi preview" in result.stdout
    assert outputs.get("drifted") != "true"
