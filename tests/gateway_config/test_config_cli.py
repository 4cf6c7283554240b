"""`python -m gateway_config`: help, build output, nothing written on bad input, diff, exit codes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from spec_edits import BASE_SPEC, REAL_SPEC, REPO_ROOT, TESTS_DIR, base_text, edit, line_of, run_cli

from gateway_config.build import DEFAULT_OUT
from gateway_config.cli import main
from gateway_config.loader import load_spec
from gateway_config.resolve import resolve_environment
from gateway_config.schema import schema_text
from gateway_config.spec import ENVIRONMENT_NAMES

MALFORMED = TESTS_DIR / "malformed"
# The acceptance cases: unknown key, string where a number belongs, undefined model,
# fallback cycle, prod task on a staging key.
ACCEPTANCE = {
    "unknown-task-key": "tasks.chat.teir",
    "retry-attempts-word": "defaults.retry.attempts",
    "undefined-model": "tiers.tier1.targets[1].model",
    "fallback-cycle": "tiers.tier2.fallback_tier",
    "prod-task-on-staging-key": "environments.prod.portkey_providers.openai",
}


def _snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        path.relative_to(root).as_posix(): (path.read_bytes(), path.stat().st_mtime_ns)
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.mark.parametrize("command", [[], ["validate"], ["build"], ["check"], ["diff"], ["cost"], ["schema"]])
def test_help_for_every_command(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: python -m gateway_config" in capsys.readouterr().out


def test_help_as_a_process() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("validate", "build", "check", "diff", "cost", "schema"):
        assert command in result.stdout


def test_validate_the_real_spec() -> None:
    result = run_cli("validate")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "gateway_config/routing.yaml: valid (5 tasks, 3 environments)\n"


def test_build_writes_every_routed_task_for_every_environment(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run_cli("build", "--out", out)
    assert result.returncode == 0, result.stderr
    spec = load_spec(REAL_SPEC)
    expected = set()
    for environment in ENVIRONMENT_NAMES:
        expected |= {f"{environment}/litellm/config.yaml", f"{environment}/routing.json"}
        for task in resolve_environment(spec, environment).gateway_tasks:
            expected.add(f"{environment}/portkey/{task.name}.json")
    written = set(_snapshot(out))
    assert expected <= written
    # Portkey: exactly one config per routed task (other runtime files, e.g. litellm/env.json, may join).
    assert {path for path in written if "/portkey/" in path} == {path for path in expected if "/portkey/" in path}
    assert {"prod/portkey/code_generation.json", "prod/portkey/chat.json", "local/portkey/experimental.json"} <= written
    # the build is the committed tree
    assert all((out / path).read_bytes() == (DEFAULT_OUT / path).read_bytes() for path in written)
    # Into an empty folder every file is new: all of them changed.
    assert result.stdout.startswith(f"{len(written)} changed of {len(written)} files for staging, prod, local under ")
    again = run_cli("build", "--out", out)
    assert again.stdout.startswith(f"no change: {len(written)} files for staging, prod, local under "), again.stdout


def test_build_names_the_files_that_changed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    shutil.copytree(DEFAULT_OUT, out)
    (out / "prod" / "routing.json").write_text("{}\n", encoding="utf-8")
    (out / "prod" / "portkey" / "retired.json").write_text("{}\n", encoding="utf-8")
    assert main(["build", "--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("2 changed of ") and lines[1:] == ["  prod/portkey/retired.json", "  prod/routing.json"]


def test_build_one_environment_leaves_the_others(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    shutil.copytree(DEFAULT_OUT, out)
    (out / "staging" / "routing.json").write_text("{}\n", encoding="utf-8")
    (out / "prod" / "portkey" / "retired.json").write_text("{}\n", encoding="utf-8")
    assert main(["build", "--out", str(out), "--env", "prod"]) == 0
    assert (out / "staging" / "routing.json").read_text(encoding="utf-8") == "{}\n"
    assert not (out / "prod" / "portkey" / "retired.json").exists()  # an env is replaced as a whole
    assert [path.name for path in out.iterdir() if path.name.startswith(".")] == []  # no temp dirs left
    assert "for prod under" in capsys.readouterr().out


@pytest.mark.parametrize("name", sorted(ACCEPTANCE))
def test_acceptance_cases_exit_2_with_one_line_and_write_nothing(name: str, tmp_path: Path) -> None:
    out = tmp_path / "generated"
    shutil.copytree(DEFAULT_OUT, out)
    before = _snapshot(out)
    spec = MALFORMED / f"{name}.yaml"
    result = run_cli("build", "--spec", spec, "--out", out)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"{spec}:") and f": {ACCEPTANCE[name]}: " in lines[0]
    assert result.stdout == ""
    assert _snapshot(out) == before  # bytes and modification times

    fresh = tmp_path / "fresh"
    assert run_cli("build", "--spec", spec, "--out", fresh).returncode == 2
    assert not fresh.exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["build", "--env", "dev"],
        ["diff", "--env", "qa", "--base-spec", "gateway_config/routing.yaml"],
        ["diff"],  # --base-spec is required
        ["deploy"],
        [],
        ["validate", "--spec"],
    ],
    ids=["build-unknown-env", "diff-unknown-env", "diff-without-base", "unknown-command", "no-command", "no-value"],
)
def test_bad_arguments_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_unknown_env_as_a_process_writes_nothing(tmp_path: Path) -> None:
    result = run_cli("build", "--env", "dev", "--out", tmp_path / "out")
    assert result.returncode == 2
    assert "invalid choice: 'dev'" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_missing_spec_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.yaml"
    assert main(["validate", "--spec", str(missing)]) == 2
    assert capsys.readouterr().err == f"{missing}: <document>: cannot read the spec: No such file or directory\n"


def test_schema_command_writes_the_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "routing.schema.json"
    assert main(["schema", "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == schema_text()
    schema = json.loads(schema_text())
    assert schema["additionalProperties"] is False  # editors flag unknown top-level keys too


def _diff(tmp_path: Path, after_text: str, *extra: str) -> str:
    after = tmp_path / "after.yaml"
    after.write_text(after_text, encoding="utf-8")
    result = run_cli("diff", "--base-spec", BASE_SPEC, "--spec", after, *extra)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_diff_names_targets_traffic_retry_timeout_and_cache_changes(tmp_path: Path) -> None:
    after = edit(
        base_text(),
        # tier1: claude-sonnet replaced by claude-haiku (target added / removed)
        ("    targets: [gpt-4o, claude-sonnet]\n", "    targets: [gpt-4o, claude-haiku]\n"),
        # the chat experiment grows from 10 % to 30 %: 20 pp move from gpt-4o-mini to claude-haiku
        ("    traffic_percent: 10\n", "    traffic_percent: 30\n"),
        # chat: retry, timeout and cache
        (
            "    tier: tier2\n",
            "    tier: tier2\n    request_timeout_seconds: 20\n    retry: {attempts: 1}\n    cache: {mode: simple}\n",
        ),
    )
    markdown = _diff(tmp_path, after, "--env", "prod")
    assert markdown.startswith("## Routing change\n")
    assert "### prod" in markdown and "### staging" not in markdown and "### local" not in markdown
    chat = markdown[markdown.index("- **chat**") : markdown.index("- **code_generation**")]
    for line in (
        "  - traffic `openai/gpt-4o-mini`: 90% → 70% (-20 pp)",
        "  - traffic `anthropic/claude-haiku-4-5-20251001`: 10% → 30% (+20 pp)",
        "  - retry.attempts: 3 → 1",
        "  - cache.mode: semantic → simple",
        "  - request timeout: 30 s → 20 s",
        "  - timeout `anthropic/claude-haiku-4-5-20251001`: 30 s → 20 s",
        "  - experiment `chat-haiku-first`: 10% → 30%",
    ):
        assert line in chat.splitlines(), f"{line!r} not in\n{markdown}"
    code = markdown[markdown.index("- **code_generation**") :]
    assert "  - target added: `anthropic/claude-haiku-4-5-20251001`" in code.splitlines()
    assert "  - target removed: `anthropic/claude-sonnet-4-5-20250929`" in code.splitlines()


def test_diff_of_identical_specs(tmp_path: Path) -> None:
    assert _diff(tmp_path, base_text()) == "## Routing change\n\nNo change to routing in any environment.\n"


def test_diff_with_an_invalid_side_exits_2(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    text = edit(base_text(), ("    tier: tier2\n", "    tier: tier3\n"))
    broken.write_text(text, encoding="utf-8")
    result = run_cli("diff", "--base-spec", broken, "--spec", BASE_SPEC)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{broken}:{line_of(text, 'tier: tier3')}: tasks.chat.tier: "
        "unknown tier 'tier3' (defined: cortex-embeddings, experimental, tier1, tier2)"
    ]


def _assert_well_formed_markdown(markdown: str) -> None:
    """A blank line before and after every heading, no doubled blank lines, one trailing newline."""
    assert markdown.endswith("\n") and not markdown.endswith("\n\n")
    lines = markdown.split("\n")[:-1]
    assert "" not in (lines[0], lines[-1])
    for index, line in enumerate(lines):
        if line.startswith("#"):
            assert index == 0 or lines[index - 1] == "", (index, line)
            assert lines[index + 1] == "", (index, line)
        assert not (line == "" and lines[index - 1] == ""), index


def test_diff_folds_identical_environments_and_describes_a_new_task(tmp_path: Path) -> None:
    # A new task with the defaults: the same in staging and prod, other limits in local (its overlay).
    after = edit(
        base_text(), ("  chat:\n    tier: tier2\n", "  chat:\n    tier: tier2\n  summaries:\n    tier: tier2\n")
    )
    markdown = _diff(tmp_path, after)
    _assert_well_formed_markdown(markdown)
    assert markdown.count("- **summaries**") == 2
    assert "### staging, prod\n" in markdown and "### local\n" in markdown
    folded = markdown[markdown.index("### staging, prod") : markdown.index("### local")]
    local = markdown[markdown.index("### local") :]
    for line in (
        "  - task added: openai/gpt-4o-mini → anthropic/claude-haiku-4-5-20251001",
        "  - request timeout: 30 s",
        "  - cache: semantic, ttl 3600 s, similarity 0.95",
        "  - retry: 3 attempts on 429, 500, 502, 503, 504",
    ):
        assert line in folded.splitlines(), f"{line!r} not in\n{markdown}"
    assert "  - request timeout: 5 s" in local.splitlines() and "  - cache: simple, ttl 3600 s" in local.splitlines()

    prod_only = edit(after, ("        code_generation: 6000\n", "        code_generation: 7000\n"))
    markdown = _diff(tmp_path, prod_only)
    _assert_well_formed_markdown(markdown)
    assert "### staging\n" in markdown and "### prod\n" in markdown and "### staging, prod" not in markdown


def test_diff_names_application_changes(tmp_path: Path) -> None:
    before = base_text() + "applications:\n  bot:\n    tasks: [chat]\n  old-app:\n    tasks: [chat]\n"
    after = base_text() + "applications:\n  bot:\n    tasks: [chat, code_generation]\n  new-app:\n    tasks: [chat]\n"
    (tmp_path / "before.yaml").write_text(before, encoding="utf-8")
    (tmp_path / "after.yaml").write_text(after, encoding="utf-8")
    result = run_cli("diff", "--base-spec", tmp_path / "before.yaml", "--spec", tmp_path / "after.yaml")
    assert result.returncode == 0, result.stderr
    _assert_well_formed_markdown(result.stdout)
    assert "### staging, prod, local" in result.stdout
    for line in (
        "- application `bot` tasks: chat → chat, code_generation",
        "- application added: `new-app` (tasks: chat)",
        "- application removed: `old-app` (its key stops working)",
    ):
        assert line in result.stdout.splitlines(), result.stdout


def test_make_diff_compares_with_a_git_ref_in_the_projects_environment() -> None:
    # HEAD's spec against the working tree's: the same unless the spec is being edited.
    result = subprocess.run(
        ["make", "--no-print-directory", "diff", "BASE=HEAD"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PATH": "/usr/bin:/bin"},  # no `python` of someone else's on the PATH
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("## Routing change\n\n")
    _assert_well_formed_markdown(result.stdout)
    unknown = subprocess.run(
        ["make", "--no-print-directory", "diff", "BASE=no-such-ref"], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert unknown.returncode == 2 and "no-such-ref" in unknown.stderr and "Traceback" not in unknown.stderr
