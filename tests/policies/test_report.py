"""``python -m policies.report``: the interface the PR workflow reads (one stack's mocked graph, every
policy, JSON on stdout, exit 1 on a mandatory violation, 2 on bad input)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from policies.registry import PACK_NAME, policy_specs

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_SECONDS = 120


def report(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "policies.report", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
    )


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_the_report_has_the_documented_shape(stack: str) -> None:
    run = report("--stack", stack, "--json")
    document = json.loads(run.stdout)
    assert set(document) == {"stack", "pack", "results"}
    assert document["stack"] == stack and document["pack"] == PACK_NAME
    assert [result["policy"] for result in document["results"]] == [spec.name for spec in policy_specs()]
    for result in document["results"]:
        assert set(result) == {"policy", "description", "enforcement", "violations"}
        assert result["enforcement"] in ("mandatory", "advisory", "disabled")
        for violation in result["violations"]:
            assert set(violation) == {"resource", "message"}
            assert violation["resource"] is None or isinstance(violation["resource"], str)
    blocking = [r for r in document["results"] if r["enforcement"] == "mandatory" and r["violations"]]
    assert run.returncode == (1 if blocking else 0), run.stderr
    # Prod's only blocking policy today: issue 10's alert rules are not deployed yet.
    assert {r["policy"] for r in blocking} <= {"environment-alert-coverage"}, blocking
    assert "Traceback" not in run.stderr


def test_an_unknown_stack_is_refused_with_exit_2() -> None:
    run = report("--stack", "qa")
    assert run.returncode == 2 and run.stdout == ""
    assert "--stack: invalid choice: 'qa'" in run.stderr and "Traceback" not in run.stderr


def test_a_malformed_pack_config_is_refused_with_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "prod.json"
    config.write_text('{"image-no-latest": "sometimes"}')
    run = report("--stack", "prod", "--config", str(config))
    assert run.returncode == 2 and run.stdout == ""
    assert f"{config}: image-no-latest: enforcementLevel must be one of" in run.stderr
    assert "Traceback" not in run.stderr
