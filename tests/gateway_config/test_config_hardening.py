"""What a reviewer relies on: credentials never reach the generated files, the diff names every change
that reaches a runtime, a build survives leftovers of an interrupted one, and I/O errors exit 2."""

from __future__ import annotations

import json

from spec_edits import base_text, edit, problems, run_cli, valid

from gateway_config import render
from gateway_config.build import write_tree
from gateway_config.diff import routing_diff

OPENROUTER_URL = "    base_url: https://openrouter.ai/api/v1\n"


def test_a_credential_in_a_provider_url_is_rejected_and_never_echoed() -> None:
    text = edit(base_text(), (OPENROUTER_URL, "    base_url: https://user:sk-or-secret@openrouter.ai/api/v1\n"))
    [line] = problems(text)
    assert "providers.openrouter.base_url: must be an http(s) URL without credentials" in line
    assert "sk-or-secret" not in line


def test_plain_http_is_only_allowed_to_loopback() -> None:
    text = edit(base_text(), (OPENROUTER_URL, "    base_url: http://openrouter.ai/api/v1\n"))
    [line] = problems(text)
    assert "providers.openrouter.base_url: plain http would send provider keys unencrypted" in line
    for loopback in ("http://127.0.0.1:9000/v1", "http://localhost/v1", "http://[::1]:9000/v1"):
        valid(edit(base_text(), (OPENROUTER_URL, f"    base_url: {loopback}\n")))


def test_a_task_timeout_applies_to_every_attempt_of_that_task() -> None:
    # business_intelligence sets 60 s: its targets' own 25 s must not silently cap it.
    manifest = json.loads(render(valid(base_text()), ["prod"])["prod/routing.json"])
    entry = manifest["tasks"]["business_intelligence"]
    assert entry["request_timeout_seconds"] == 60
    assert {target["timeout_seconds"] for target in entry["targets"]} == {60}
    # Without a task override the targets keep their own timeouts, capped by the route's.
    # (gpt-4o has its own 25 s; claude-sonnet has none in the base spec and takes the route's 30 s.)
    timeouts = {t["model"]: t["timeout_seconds"] for t in manifest["tasks"]["code_generation"]["targets"]}
    assert timeouts == {"gpt-4o": 25, "claude-sonnet": 30}


def test_diff_names_endpoint_key_and_router_changes_and_lists_changed_files() -> None:
    before = valid(base_text())
    after = valid(
        edit(
            base_text(),
            (OPENROUTER_URL, "    base_url: https://elsewhere.example.com/v1\n"),
            ("  cooldown_seconds: 30\n", "  cooldown_seconds: 90\n"),
        )
    )
    report = routing_diff(before, after, ["prod"])
    assert (
        "endpoint `openrouter/meta-llama/llama-3.3-70b-instruct`: https://openrouter.ai/api/v1 → "
        "https://elsewhere.example.com/v1"
    ) in report
    assert "- cooldown_seconds: 30 → 90" in report
    assert "Generated files that change: `litellm/config.yaml`" in report
    assert "No change" not in report


def test_diff_of_equal_specs_says_so() -> None:
    spec = valid(base_text())
    assert "No change to routing in any environment." in routing_diff(spec, spec)


def test_build_survives_leftovers_of_an_interrupted_build_and_keeps_folders_readable(tmp_path) -> None:
    rendered = render(valid(base_text()))
    (tmp_path / ".prod.previous" / "prod").mkdir(parents=True)  # what an older, interrupted build left
    (tmp_path / ".prod-retired-x" / "prod" / "stale").mkdir(parents=True)
    write_tree(rendered, tmp_path, ["staging", "prod", "local"])
    write_tree(rendered, tmp_path, ["staging", "prod", "local"])
    for environment in ("staging", "prod", "local"):
        assert (tmp_path / environment).stat().st_mode & 0o777 == 0o755
        assert (tmp_path / environment / "routing.json").read_text() == rendered[f"{environment}/routing.json"]


def test_unwritable_output_exits_2_with_one_line(tmp_path) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    result = run_cli("build", "--out", not_a_folder / "generated")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "generated" in result.stderr
