"""The GitHub workflows cannot drift from the repository: every `make` target, `python -m` module,
subcommand and flag they call exists (the tools' own argument parsers read the workflow's command
lines), every file they name is there, every action is pinned by commit, permissions are the least
each job needs, and actionlint with shellcheck passes (and fails on a broken workflow)."""

from __future__ import annotations

import argparse
import importlib.util
import re
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway_config.cli import build_parser as gateway_config_parser
from tests.prflow.helpers import ROOT, run_module
from tools import drift_report, pr_comment

WORKFLOWS = ROOT / ".github" / "workflows"
ACTIONS = ROOT / ".github" / "actions"
VENV_BIN = ROOT / ".venv" / "bin"
WORKFLOW_FILES = sorted(WORKFLOWS.glob("*.yml"))
ACTION_FILES = sorted(ACTIONS.glob("*/action.yml"))
STACKS = sorted(path.name.split(".")[1] for path in ROOT.glob("Pulumi.*.yaml"))
# Modules whose command lines are checked flag by flag with their own parsers.
PARSERS: dict[str, argparse.ArgumentParser] = {
    "gateway_config": gateway_config_parser(),
    "tools.pr_comment": pr_comment.build_parser(),
    "tools.drift_report": drift_report.build_parser(),
}
SHELL_OPERATORS = {">", ">>", "<", "||", "&&", "|", ";", "2>", "2>&1"}


def _load(path: Path) -> dict[str, Any]:
    # YAML 1.1 reads the key `on` as True; the workflows' triggers are not what is checked here.
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(document, dict), path
    return document


def _steps() -> Iterator[tuple[str, dict[str, Any]]]:
    for path in WORKFLOW_FILES:
        for job_name, job in _load(path)["jobs"].items():
            for step in job.get("steps", []):
                yield f"{path.name}:{job_name}", step
    for path in ACTION_FILES:
        for step in _load(path)["runs"].get("steps", []):
            yield str(path.relative_to(ROOT)), step


def _run_scripts() -> list[tuple[str, str]]:
    return [(where, step["run"]) for where, step in _steps() if "run" in step]


def _commands(script: str) -> Iterator[list[str]]:
    """Each simple command of a script as words, continuation lines joined, up to the first operator."""
    for line in script.replace("\\\n", " ").splitlines():
        try:
            words = shlex.split(line, comments=True)
        except ValueError:
            continue
        command: list[str] = []
        for word in [*words, ";"]:
            if word in SHELL_OPERATORS or word.startswith((">", "2>")):
                if command:
                    yield command
                command = []
            else:
                command.append(word)


def _make_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([a-z][a-z0-9-]*)\s*:(?!=)", text, flags=re.MULTILINE))


def _make_calls() -> list[tuple[str, str]]:
    calls = []
    for where, script in _run_scripts():
        for command in _commands(script):
            if command[:1] == ["sudo"]:
                command = command[1:]
            if command[:1] == ["make"]:
                targets = [word for word in command[1:] if not word.startswith("-") and "=" not in word]
                assert targets, f"{where}: `make` without a target runs the default one: name it"
                calls += [(where, target) for target in targets]
    return calls


def _make_variables() -> list[tuple[str, str]]:
    found = []
    for where, script in _run_scripts():
        for command in _commands(script):
            if command[:1] == ["make"]:
                found += [(where, word.split("=", 1)[0]) for word in command[1:] if "=" in word]
    return found


def _module_calls() -> list[tuple[str, str, list[str]]]:
    calls = []
    for where, script in _run_scripts():
        for command in _commands(script):
            if len(command) >= 3 and command[0].endswith(("python", "python3")) and command[1] == "-m":
                calls.append((where, command[2], command[3:]))
    return calls


def test_the_workflows_exist() -> None:
    assert {path.name for path in WORKFLOW_FILES} == {"pr.yml", "drift.yml", "deploy.yml"}
    assert _make_calls() and _module_calls()  # the checks below have something to check


@pytest.mark.parametrize(("where", "target"), _make_calls())
def test_every_make_target_exists(where: str, target: str) -> None:
    assert target in _make_targets(), f"{where}: `make {target}`: no such target in the Makefile"


@pytest.mark.parametrize(("where", "variable"), _make_variables())
def test_every_make_variable_is_one_the_makefile_reads(where: str, variable: str) -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(rf"^{variable} \?=", makefile, re.MULTILINE), f"{where}: the Makefile has no {variable} ?="


@pytest.mark.parametrize(("where", "module", "args"), _module_calls())
def test_every_python_module_and_its_arguments_exist(where: str, module: str, args: list[str]) -> None:
    assert importlib.util.find_spec(module) is not None, f"{where}: `python -m {module}`: no such module"
    parser = PARSERS.get(module)
    if parser is not None:
        try:
            parser.parse_args(args)
        except SystemExit as error:
            pytest.fail(f"{where}: `python -m {module} {' '.join(args)}` is refused by its parser ({error})")
    else:
        # Another area's command: every option the workflow passes is one its --help lists.
        usage = run_module(module, "--help")
        assert usage.returncode == 0, usage.stderr
        for option in (arg for arg in args if arg.startswith("--")):
            assert re.search(rf"(^|\s|\[){re.escape(option)}\b", usage.stdout), f"{where}: {module} has no {option}"


def test_the_run_scripts_use_the_project_venv() -> None:
    for where, script in _run_scripts():
        for command in _commands(script):
            if command[0].endswith(("python", "python3")):
                assert command[0] == ".venv/bin/python", f"{where}: run modules with the locked .venv: {command}"


def test_every_action_is_pinned_by_commit_with_its_version() -> None:
    pinned = 0
    for path in [*WORKFLOW_FILES, *ACTION_FILES]:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            match = re.match(r"\s*(?:-\s+)?uses:\s*(\S+)(.*)$", line)
            if not match:
                continue
            action, rest = match.groups()
            if action.startswith("./"):
                assert (ROOT / action / "action.yml").exists(), f"{path.name}:{number}: {action} does not exist"
                continue
            assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", action), f"{path.name}:{number}: {action}"
            assert re.fullmatch(r"\s*# v\d+(\.\d+)*", rest), f"{path.name}:{number}: say which version: # vX.Y.Z"
            pinned += 1
    assert pinned >= 10


def test_one_commit_per_action() -> None:
    """An action pinned to two different commits is an upgrade done halfway."""
    seen: dict[str, set[str]] = {}
    for path in [*WORKFLOW_FILES, *ACTION_FILES]:
        for action in re.findall(r"uses:\s*([\w.-]+/[\w./-]+)@([0-9a-f]{40})", path.read_text(encoding="utf-8")):
            seen.setdefault(action[0], set()).add(action[1])
    assert {name: shas for name, shas in seen.items() if len(shas) > 1} == {}


def test_no_expression_in_a_run_script() -> None:
    """Values reach scripts through `env:` only: an expression pasted into a script is an injection
    (a branch name, a PR title) or a secret on a command line."""
    for where, script in _run_scripts():
        assert "${{" not in script, f"{where}: pass the value through env:"


def test_secrets_come_from_oidc_not_from_stored_tokens() -> None:
    for path in WORKFLOW_FILES:
        assert "secrets." not in path.read_text(encoding="utf-8"), f"{path.name}: the Pulumi token comes from OIDC"


# The write scopes each job holds; everything else reads (the top-level default is contents: read).
WRITE_SCOPES = {
    ("pr.yml", "test"): set(),
    ("pr.yml", "comment"): {"pull-requests"},
    ("pr.yml", "preview"): {"id-token"},
    ("drift.yml", "drift"): {"id-token", "issues"},
    ("deploy.yml", "staging"): {"id-token"},
    ("deploy.yml", "preview-prod"): {"id-token"},
    ("deploy.yml", "prod"): {"id-token"},
}


def test_least_privilege_permissions() -> None:
    found = {}
    for path in WORKFLOW_FILES:
        workflow = _load(path)
        assert workflow["permissions"] == {"contents": "read"}, path.name
        for name, job in workflow["jobs"].items():
            permissions = job.get("permissions", workflow["permissions"])
            assert isinstance(permissions, dict), f"{path.name}:{name}: list scopes, never read-all/write-all"
            found[(path.name, name)] = {scope for scope, level in permissions.items() if level == "write"}
    assert found == WRITE_SCOPES


def test_matrices_and_pulumi_steps_name_the_real_stacks_and_files() -> None:
    assert STACKS == ["prod", "staging"]
    pulumi_steps = 0
    for path in WORKFLOW_FILES:
        for job in _load(path)["jobs"].values():
            matrix_stacks = job.get("strategy", {}).get("matrix", {}).get("stack")
            if matrix_stacks is not None:
                assert sorted(matrix_stacks) == STACKS, path.name
            for step in job.get("steps", []):
                if not str(step.get("uses", "")).startswith("pulumi/actions@"):
                    continue
                settings = step.get("with", {})
                for stack in matrix_stacks or [None]:
                    for key in ("policyPacks", "policyPackConfigs", "pulumi-version-file"):
                        if key in settings:
                            named = str(settings[key]).replace("${{ matrix.stack }}", str(stack))
                            assert (ROOT / named).exists(), f"{path.name}: {key}: {named} does not exist"
                if "command" in settings:
                    pulumi_steps += 1
                    assert settings["policyPacks"] == "policies", path.name
                    # The pack exits 2 without the repository on its import path (policies/__main__.py).
                    assert step.get("env", {}).get("PYTHONPATH") == "${{ github.workspace }}", path.name
                    stack_name = str(settings["stack-name"]).replace("${{ matrix.stack }}", "staging")
                    assert stack_name.split("/")[-1] in STACKS, stack_name
    assert pulumi_steps == 4  # PR preview (per stack), staging up, prod preview, prod up


def test_deploys_and_drift_never_run_on_one_stack_at_once() -> None:
    groups = {}
    for name in ("deploy.yml", "drift.yml"):
        for job_name, job in _load(WORKFLOWS / name)["jobs"].items():
            concurrency = job["concurrency"]
            assert concurrency["cancel-in-progress"] is False, (
                f"{name}:{job_name}: a cancelled `pulumi up` is half-done"
            )
            groups[(name, job_name)] = concurrency["group"]
    assert groups[("drift.yml", "drift")] == "pulumi-${{ matrix.stack }}"
    assert groups[("deploy.yml", "staging")] == "pulumi-staging"
    assert groups[("deploy.yml", "prod")] == groups[("deploy.yml", "preview-prod")] == "pulumi-prod"


def test_prod_waits_for_staging_and_for_its_environment_approval() -> None:
    jobs = _load(WORKFLOWS / "deploy.yml")["jobs"]
    assert jobs["staging"]["environment"] == "staging"
    assert jobs["preview-prod"]["needs"] == "staging"
    assert jobs["prod"]["needs"] == "preview-prod"
    assert jobs["prod"]["environment"] == "prod"


def test_the_markers_the_scripts_search_for_are_the_ones_the_tools_write() -> None:
    pr = (WORKFLOWS / "pr.yml").read_text(encoding="utf-8")
    assert f'MARKER: "{pr_comment.MARKER}"' in pr
    drift = (WORKFLOWS / "drift.yml").read_text(encoding="utf-8")
    assert "const marker = `" + drift_report.MARKER_PREFIX + "${stack} -->`;" in drift


def test_the_pulumi_cli_is_the_sdk_version() -> None:
    sdk = re.search(r"^pulumi==([\d.]+)", (ROOT / "requirements.txt").read_text(encoding="utf-8"), re.MULTILINE)
    assert sdk is not None
    assert (ROOT / ".pulumi-version").read_text(encoding="utf-8").strip() == sdk.group(1)


def _actionlint(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VENV_BIN / "actionlint"), "-shellcheck", str(VENV_BIN / "shellcheck"), "-no-color"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_actionlint_and_shellcheck_pass_on_the_workflows() -> None:
    result = _actionlint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_catches_a_broken_workflow_and_shellcheck_a_bad_script(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()  # actionlint finds .github/workflows from the repository root
    broken = tmp_path / ".github" / "workflows"
    broken.mkdir(parents=True)
    (broken / "broken.yml").write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo $UNQUOTED\n      - uses: actions/checkout@v4\n        with:\n          fetch-depht: 0\n"
        "      - run: echo ${{ github.event.head_commit.message }}\n",
        encoding="utf-8",
    )
    result = _actionlint(tmp_path)
    assert result.returncode == 1
    assert "SC2086" in result.stdout  # shellcheck ran on the run: script
    assert "fetch-depht" in result.stdout  # actionlint knows the action's inputs
    assert "potentially untrusted" in result.stdout


def test_shellcheck_passes_on_the_composite_actions_scripts(tmp_path: Path) -> None:
    """actionlint reads workflows only: the composite action's scripts get shellcheck here."""
    scripts = [step["run"] for path in ACTION_FILES for step in _load(path)["runs"]["steps"] if "run" in step]
    assert scripts
    for number, script in enumerate(scripts):
        path = tmp_path / f"script-{number}.sh"
        path.write_text("#!/usr/bin/env bash\n" + script, encoding="utf-8")
        result = subprocess.run(
            [str(VENV_BIN / "shellcheck"), str(path)], capture_output=True, text=True, timeout=60, check=False
        )
        assert result.returncode == 0, result.stdout
