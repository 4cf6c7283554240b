"""`python -m tools.drift_report` on fixtures in the shape of Pulumi's preview digest.

The fixtures follow `pulumi preview --json` as pulumi/pulumi prints it: `PreviewDigest` and
`PreviewStep` in pkg/display/json.go (`config`, `steps` with `op`, `urn`, `provider`, `oldState`,
`newState` as apitype.ResourceV3, `diffReasons`, `detailedDiff` of property path → `{kind,
inputDiff}`, `diagnostics`, `duration`, `changeSummary`), filled by `ShowPreviewDigest` in
pkg/backend/display/json.go, which writes every secret value as "[secret]" (`MassageSecrets`).
Property paths use `PropertyPath.String` (sdk/go/common/resource/properties_path.go), diff kinds
`DiffKind.String` (sdk/go/common/resource/plugin/provider.go), and the secret envelope the
signature of sdk/go/common/resource/sig/sig.go. The resources are this program's own (`make plan
STACK=prod`). A canary value sits wherever a secret could leak: a Secret's data read back in plain
text, a plain env var on a hand-edited Deployment, an output a provider forgot to mark secret, a
ciphertext in a secret envelope.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.prflow.helpers import EXPECTED, FIXTURES, assert_one_clean_error, run_module
from tools.drift_report import looks_secret, parse_property_path

CANARY = "CANARY-7f3e9b2d-live-secret"
DRIFT = FIXTURES / "preview-prod-drift.json"
CLEAN = FIXTURES / "preview-staging-clean.json"


def test_drifted_stack_renders_the_expected_table_and_exits_1() -> None:
    result = run_module("tools.drift_report", DRIFT, "--stack", "prod")
    assert result.returncode == 1, result.stderr
    assert result.stdout == (EXPECTED / "drift-prod.md").read_text(encoding="utf-8")


def test_clean_stack_says_so_and_exits_0() -> None:
    result = run_module("tools.drift_report", CLEAN, "--stack", "staging")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (EXPECTED / "drift-staging.md").read_text(encoding="utf-8")


def test_the_canary_is_in_the_fixture_and_never_in_the_report(tmp_path: Path) -> None:
    assert DRIFT.read_text(encoding="utf-8").count(CANARY) == 5  # the test has something to catch
    out = tmp_path / "drift.md"
    result = run_module("tools.drift_report", DRIFT, "--stack", "prod", "--out", out)
    assert result.returncode == 1
    report = out.read_text(encoding="utf-8")
    assert result.stdout == ""
    assert CANARY not in report and CANARY not in result.stderr
    # Each leak path is masked, not dropped: the reviewer still sees that the property drifted.
    for row in (
        "`spec.template.spec.containers[0].env[2].value` | delete | `[secret]`",
        "`data.OPENAI_API_KEY` | update | `[secret]`",
        '`stringData["users.acl"]` | update | `[secret]` → `[secret]`',
        "`adminKey` | update | `[secret]` → `[secret]`",
    ):
        assert row in report


def test_a_plain_value_is_shown_old_to_new() -> None:
    report = (EXPECTED / "drift-prod.md").read_text(encoding="utf-8")
    assert "| `spec.replicas` | update | `5` → `3` |" in report
    assert "| `usage_limits.credit_limit` | update | `15000` → `12000` |" in report
    assert "| `llm-gateway-portkey-config-chat` | create | (whole resource) |" in report


@pytest.mark.parametrize(
    ("path", "parts"),
    [
        ("spec.replicas", ["spec", "replicas"]),
        (
            "spec.template.spec.containers[0].env[2].value",
            ["spec", "template", "spec", "containers", 0, "env", 2, "value"],
        ),
        ('stringData["users.acl"]', ["stringData", "users.acl"]),
        ('metadata.annotations["pulumi.com/patchForce"]', ["metadata", "annotations", "pulumi.com/patchForce"]),
        ('data["say \\"hi\\""]', ["data", 'say "hi"']),
    ],
)
def test_property_paths_parse_as_pulumi_writes_them(path: str, parts: list[str | int]) -> None:
    assert parse_property_path(path) == parts


@pytest.mark.parametrize("name", ["password", "adminKey", "OPENAI_API_KEY", "kubeconfig", "apiToken", "masterKey"])
def test_secret_looking_names(name: str) -> None:
    assert looks_secret(name)


@pytest.mark.parametrize("name", ["replicas", "secretKeyRef", "secretName", "api_key_env", "keyId", "note", "image"])
def test_names_that_point_at_a_secret_or_hold_none(name: str) -> None:
    assert not looks_secret(name)


def _write(tmp_path: Path, document: object) -> Path:
    path = tmp_path / "preview.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_not_json_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "preview.json"
    path.write_text('{\n  "steps": [\n', encoding="utf-8")
    assert_one_clean_error(run_module("tools.drift_report", path, "--stack", "prod"), f"{path}:3", "not valid JSON")


def test_empty_output_of_a_failed_preview(tmp_path: Path) -> None:
    path = tmp_path / "preview.json"
    path.write_text("", encoding="utf-8")
    assert_one_clean_error(run_module("tools.drift_report", path, "--stack", "prod"), str(path), "empty file")


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.json"
    assert_one_clean_error(run_module("tools.drift_report", path, "--stack", "prod"), str(path), "cannot be read")


@pytest.mark.parametrize(
    ("document", "key_path"),
    [
        ([], "<document>: not a `pulumi preview --json` document"),
        ({"steps": {}}, "steps: not a list"),
        ({"steps": [{"urn": "urn:pulumi:prod::llm-gateway::x:y:Z::n"}]}, "steps[0].op: missing"),
        ({"steps": [{"op": "update", "urn": 7}]}, "steps[0].urn: missing or not a string"),
        (
            {"steps": [{"op": "update", "urn": "u", "detailedDiff": {"spec.replicas": {"kind": "grow"}}}]},
            "steps[0].detailedDiff.spec.replicas.kind: expected one of add",
        ),
        ({"steps": [{"op": "update", "urn": "u", "oldState": "x"}]}, "steps[0].oldState: not an object"),
    ],
)
def test_bad_preview_documents_exit_2_naming_the_key_path(tmp_path: Path, document: object, key_path: str) -> None:
    path = _write(tmp_path, document)
    out = tmp_path / "drift.md"
    result = run_module("tools.drift_report", path, "--stack", "prod", "--out", out)
    assert_one_clean_error(result, f"{path}: {key_path}")
    assert not out.exists()


def test_a_replaced_resource_is_reported_once_with_its_replace_reasons(tmp_path: Path) -> None:
    urn = "urn:pulumi:prod::llm-gateway::llm-gateway:index:Gateway$kubernetes:core/v1:ConfigMap::llm-gateway-config"
    live = {"urn": urn, "type": "kubernetes:core/v1:ConfigMap", "custom": True, "outputs": {"data": {"a": "1"}}}
    code = {"urn": urn, "type": "kubernetes:core/v1:ConfigMap", "custom": True, "inputs": {"data": {"a": "2"}}}
    steps = [
        {"op": "create-replacement", "urn": urn, "oldState": live, "newState": code,
         "detailedDiff": {"data.a": {"kind": "update-replace", "inputDiff": False}}},
        {"op": "replace", "urn": urn, "oldState": live, "newState": code, "replaceReasons": ["data"],
         "detailedDiff": {"data.a": {"kind": "update-replace", "inputDiff": False}}},
        {"op": "delete-replaced", "urn": urn, "oldState": live, "detailedDiff": None},
    ]  # fmt: skip
    result = run_module("tools.drift_report", _write(tmp_path, {"steps": steps}), "--stack", "prod")
    assert result.returncode == 1, result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("| `kubernetes")]
    assert rows == [
        "| `kubernetes:core/v1:ConfigMap` | `llm-gateway-config` | replace | `data.a` | update-replace | `1` → `2` |"
    ]
