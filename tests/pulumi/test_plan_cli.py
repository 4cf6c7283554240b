"""`make plan` refuses what `pulumi up` would refuse, before anything is written, and two identical
runs write identical files.

Each case is a copy of the project's config files (Pulumi.yaml, the stack files, esc/) with one edit,
planned with ``python -m tools.plan --project-dir``: one line naming the key, exit 2, no traceback,
and the output folder left empty.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from conftest import STAGING_KUBECONFIG

from tools.offline import ROOT

Edit = Callable[[Path], None]


def _project_copy(tmp_path: Path, edit: Edit | None) -> Path:
    copy = tmp_path / "project"
    copy.mkdir()
    for name in ("Pulumi.yaml", "Pulumi.staging.yaml", "Pulumi.prod.yaml"):
        shutil.copy(ROOT / name, copy / name)
    shutil.copytree(ROOT / "esc", copy / "esc")
    if edit is not None:
        edit(copy)
    return copy


def _set(stack: str, key: str, value: object) -> Edit:
    def edit(project: Path) -> None:
        path = project / f"Pulumi.{stack}.yaml"
        document = yaml.safe_load(path.read_text())
        document["config"][key] = value
        path.write_text(yaml.safe_dump(document))

    return edit


def _write(stack: str, text: str) -> Edit:
    def edit(project: Path) -> None:
        (project / f"Pulumi.{stack}.yaml").write_text(text)

    return edit


def _plan(project: Path, out: Path, stack: str = "prod", extra: list[str] | None = None) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "tools.plan", "--stack", stack, "--out", str(out), "--project-dir", str(project)]
    return subprocess.Popen([*cmd, *(extra or [])], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


REFUSED: dict[str, tuple[str, Edit | None, list[str], str]] = {
    # Item 6: the real CLI's rule and words (sdk/go/common/workspace/config.go).
    "plain-secret": (
        "prod",
        _set("prod", "llm-gateway:openaiApiKey", "sk-canary-plain-7f3e"),
        [],
        "error: validating stack config: Stack 'prod' with configuration key 'openaiApiKey' must be encrypted as "
        "it's secret",
    ),
    "ill-typed": (
        "prod",
        _set("prod", "llm-gateway:replicas", {"three": 3}),
        [],
        "error: Pulumi.prod.yaml: config: llm-gateway:replicas: an object where a value belongs",
    ),
    "wrong-type": (
        "prod",
        _set("prod", "llm-gateway:replicas", "three"),
        [],
        "error: validating stack config: Stack 'prod' with configuration key 'replicas' must be of type 'integer'",
    ),
    "yaml-syntax": (
        "staging",
        _write("staging", "config:\n  llm-gateway:replicas: [1\n"),
        [],
        "error: Pulumi.staging.yaml: not valid YAML (line 3): expected ',' or ']', but got '<stream end>'",
    ),
    "config-not-a-mapping": (
        "staging",
        _write("staging", "config: [replicas]\n"),
        [],
        "error: Pulumi.staging.yaml: config: must be a mapping of keys to values",
    ),
    # The program's own rules (exit 2 from __main__.py): staging routing on prod keys.
    "prod-serves-staging": (
        "prod",
        _set("prod", "llm-gateway:environment", "staging"),
        [],
        "llm-gateway:environment: stack 'prod' serves environment 'prod' (its keys and cluster are prod's); "
        "got 'staging'",
    ),
    # Item 7: a kubeconfig checked offline, pointing at another cluster.
    "other-cluster": (
        "prod",
        None,
        ["--kubeconfig", "{kubeconfig}"],
        "llm-gateway:kubeconfig: context 'staging' points at cluster 'staging' "
        "(https://kubernetes.staging.example.internal), not this stack's llm-gateway:clusterServer "
        "(https://kubernetes.prod.example.internal): refusing to deploy there (stack 'prod')",
    ),
}


@pytest.fixture(scope="module")
def refused(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[subprocess.CompletedProcess[str], Path]]:
    started = {}
    for name, (stack, edit, extra, _) in REFUSED.items():
        work = tmp_path_factory.mktemp(name)
        kubeconfig = work / "staging.kubeconfig"
        kubeconfig.write_text(STAGING_KUBECONFIG)
        args = [arg.format(kubeconfig=kubeconfig) for arg in extra]
        started[name] = (_plan(_project_copy(work, edit), work / "out", stack, args), work / "out")
    results = {}
    for name, (process, out) in started.items():
        stdout, stderr = process.communicate(timeout=120)
        results[name] = (subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr), out)
    return results


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_plan_refuses_with_one_line_naming_the_key(
    refused: dict[str, tuple[subprocess.CompletedProcess[str], Path]], case: str
) -> None:
    result, out = refused[case]
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1] == REFUSED[case][3], result.stderr
    # Nothing deployed: no manifests written, no tree printed.
    assert not out.exists() or not any(out.iterdir())
    assert result.stdout == ""
    assert "sk-canary-plain-7f3e" not in result.stderr and "token-canary" not in result.stderr


def test_two_identical_plans_write_identical_files(tmp_path: Path) -> None:
    # Item 10: names, order and content depend only on the inputs.
    runs = [_plan(ROOT, tmp_path / f"out-{index}") for index in range(2)]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert all(run.returncode == 0 for run in runs), [err for _, err in outputs]
    first, second = (sorted(p.name for p in (tmp_path / f"out-{i}").iterdir()) for i in range(2))
    assert first == second and len(first) > 20
    for name in first:
        assert (tmp_path / "out-0" / name).read_bytes() == (tmp_path / "out-1" / name).read_bytes(), name
    assert outputs[0][0].replace("out-0", "out-N") == outputs[1][0].replace("out-1", "out-N")
    # `make plan STACK=prod` shows what on-call gets: the dashboards, the rules and the alert routes.
    tree = outputs[0][0]
    assert tree.count("Grafana sidecar dashboard, folder 'LLM gateway (prod)'") == 5
    assert "kubernetes:monitoring.coreos.com/v1:PrometheusRule" in tree and "recording rules" in tree
    assert "route severity=page -> llm-gateway-page (pagerduty" in tree
    assert "route severity=ticket -> llm-gateway-ticket (slack" in tree
    assert "endpoints metrics:/metrics/" in tree and "ingress from monitoring on metrics/TCP" in tree
