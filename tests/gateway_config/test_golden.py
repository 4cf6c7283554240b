"""Golden files: a fixed spec and the exact tree it must generate, plus the committed real tree.

The golden spec (golden/spec.yaml) exercises fallback, loadbalance, fallback_tier, experiments with
model and tier variants, per-task overrides, a route-bound task (`prompts_stay_on_route`), a Cortex
task, a custom_host environment and client applications. After an
intended generator change, rewrite the expected tree and review its diff like any other change:

    UPDATE_GOLDEN=1 .venv/bin/pytest -q tests/gateway_config/test_golden.py
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import yaml
from spec_edits import REAL_SPEC, REPO_ROOT, TESTS_DIR, run_cli

from gateway_config.build import DEFAULT_OUT, dump_yaml, render, write_tree
from gateway_config.loader import load_spec
from gateway_config.spec import ENVIRONMENT_NAMES

GOLDEN_SPEC = TESTS_DIR / "golden" / "spec.yaml"
GOLDEN_TREE = TESTS_DIR / "golden" / "expected"


def _tree(root: Path) -> dict[str, bytes]:
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in root.rglob("*") if path.is_file()}


def test_golden_tree_matches_byte_for_byte() -> None:
    rendered = render(load_spec(GOLDEN_SPEC))
    if os.environ.get("UPDATE_GOLDEN") == "1":
        write_tree(rendered, GOLDEN_TREE, ENVIRONMENT_NAMES)
    expected = _tree(GOLDEN_TREE)
    assert sorted(rendered) == sorted(expected), "files added or missing (UPDATE_GOLDEN=1 rewrites the tree)"
    for path, text in rendered.items():
        assert text.encode("utf-8") == expected[path], f"{path} differs (UPDATE_GOLDEN=1 rewrites the tree)"


@pytest.mark.parametrize("spec_path", [GOLDEN_SPEC, REAL_SPEC], ids=["golden", "real"])
def test_yaml_is_the_same_with_or_without_libyaml(spec_path: Path) -> None:
    for path, text in render(load_spec(spec_path)).items():
        if path.endswith(".yaml"):
            data = yaml.safe_load(text)
            assert dump_yaml(data, yaml.SafeDumper) == text == dump_yaml(data, yaml.CSafeDumper), path


def test_golden_spec_covers_the_shapes_it_claims() -> None:
    spec = load_spec(GOLDEN_SPEC)
    strategies = {tier.strategy for tier in spec.tiers.values()}
    assert strategies == {"fallback", "loadbalance"}
    assert any(tier.fallback_tier for tier in spec.tiers.values())
    variants = {("model" if e.variant.model else "tier") for e in spec.experiments.values()}
    assert variants == {"model", "tier"}
    assert any(task.retry or task.cache or task.request_timeout_seconds for task in spec.tasks.values())
    assert spec.tasks["embed"].tier == "data-local"
    assert spec.providers[spec.models["embed-arctic"].provider].kind == "snowflake_cortex"
    assert spec.environments["local"].portkey_targets == "custom_host"


def test_committed_generated_tree_is_current() -> None:
    result = run_cli("check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("generated tree is current")


def test_check_lists_a_stale_file(tmp_path: Path) -> None:
    out = tmp_path / "generated"
    shutil.copytree(DEFAULT_OUT, out)
    edited = out / "prod" / "portkey" / "chat.json"
    edited.write_text(edited.read_text(encoding="utf-8").replace('"attempts": 0', '"attempts": 3', 1), encoding="utf-8")
    (out / "staging" / "routing.json").unlink()
    (out / "local" / "portkey" / "retired-task.json").write_text("{}\n", encoding="utf-8")
    result = run_cli("check", "--spec", REAL_SPEC, "--out", out)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.splitlines() == [
        "stale generated files (run `make generate` and commit the result):",
        "  local/portkey/retired-task.json",
        "  prod/portkey/chat.json",
        "  staging/routing.json",
    ]
    assert "Traceback" not in result.stderr


def test_check_with_an_invalid_spec_exits_2(tmp_path: Path) -> None:
    spec = tmp_path / "routing.yaml"
    spec.write_text(REAL_SPEC.read_text(encoding="utf-8").replace("attempts: 3", "attempts: lots"), encoding="utf-8")
    result = run_cli("check", "--spec", spec, "--out", DEFAULT_OUT)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "defaults.retry.attempts" in result.stderr


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_committed_tree_is_sorted_with_one_trailing_newline(environment: str) -> None:
    for path in (DEFAULT_OUT / environment).rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            assert text.endswith("\n") and not text.endswith("\n\n"), path.relative_to(REPO_ROOT)
            if path.suffix == ".json":
                assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
