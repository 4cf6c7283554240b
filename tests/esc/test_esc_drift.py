"""`python -m tools.esc_drift` against a fake ESC API on 127.0.0.1, driven by the real pulumi-esc-sdk.

The environments are created as docs/deploy.md says (the esc/ files, then the real keys set with
`esc env set`), so an environment in sync differs from its file in every secret's value: the command
must report no drift there, name each drifted key, and never print a value.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.fakes.esc_api import FakeEsc
from tools.esc_drift import ESC_DIR, main

ORG = "acme"
REAL_KEYS = {
    "openai": "sk-real-openai-key-9f8e7d",
    "anthropic": "sk-ant-real-key-6c5b4a",
    "openrouter": "sk-or-real-key-3a2b1c",
}
ADMIN_KEY = "pk-real-admin-key-0d9c8b"


def _as_deployed(name: str) -> str:
    """esc/<name>.yaml with its placeholders replaced by real keys, as `esc env set` leaves it."""
    document = yaml.safe_load((ESC_DIR / f"{name}.yaml").read_text())
    values = document["values"]
    for provider, key in REAL_KEYS.items():
        if provider in values.get("providerKeys", {}):
            values["providerKeys"][provider] = {"fn::secret": key}
    if "portkey" in values:
        values["portkey"]["adminKey"] = {"fn::secret": ADMIN_KEY}
    return yaml.safe_dump(document, sort_keys=False)


@pytest.fixture
def deployed(fake_esc: FakeEsc) -> FakeEsc:
    for name in ("common", "staging", "prod"):
        fake_esc.put(ORG, "llm-gateway", name, _as_deployed(name))
    return fake_esc


def _never_a_value(text: str, fake: FakeEsc) -> None:
    for secret in [*REAL_KEYS.values(), ADMIN_KEY, *fake.state.vault]:  # plaintexts and ciphertexts
        assert secret not in text


def test_environments_in_sync_report_no_drift(deployed: FakeEsc, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--org", ORG, "--check"]) == 0
    out = capsys.readouterr()
    assert [line.split(" (")[0] for line in out.out.splitlines()] == [
        "llm-gateway/common: in sync",
        "llm-gateway/prod: in sync",
        "llm-gateway/staging: in sync",
    ]
    _never_a_value(out.out + out.err, deployed)
    # The command only reads, and only the stored (encrypted) definitions: never /decrypt.
    assert {method for method, _ in deployed.requests} == {"GET"}
    assert not any(path.endswith("/decrypt") for _, path in deployed.requests)


def test_drift_is_named_by_key_without_values(deployed: FakeEsc, capsys: pytest.CaptureFixture[str]) -> None:
    prod = yaml.safe_load(_as_deployed("prod"))
    prod["values"]["providerKeys"]["mistral"] = {"fn::secret": "sk-mistral-added-by-hand-77"}  # added in ESC
    prod["values"]["providerKeys"]["openai"] = "sk-real-openai-key-9f8e7d"  # no longer a secret
    del prod["values"]["pulumiConfig"]["llm-gateway:portkeyAdminKey"]  # removed in ESC
    deployed.put(ORG, "llm-gateway", "prod", yaml.safe_dump(prod))
    common = yaml.safe_load(_as_deployed("common"))
    common["values"]["gateway"]["monitoringNamespace"] = "observability-by-hand"
    deployed.put(ORG, "llm-gateway", "common", yaml.safe_dump(common))

    assert main(["--org", ORG, "--check"]) == 1
    out = capsys.readouterr()
    assert out.out.splitlines() == [
        "llm-gateway/common: drift (2 keys compared)",
        "  ~ values.gateway.monitoringNamespace",
        "llm-gateway/prod: drift (29 keys compared)",
        "  + values.providerKeys.mistral",
        "  ~ values.providerKeys.openai (secret on one side only)",
        '  - values.pulumiConfig["llm-gateway:portkeyAdminKey"]',
        "llm-gateway/staging: in sync (27 keys compared)",
    ]
    _never_a_value(out.out + out.err, deployed)
    assert "observability-by-hand" not in out.out and "sk-mistral" not in out.out
    # Without --check the report is the same and the exit code 0 (a report for people).
    assert main(["--org", ORG, "--env", "common"]) == 0


def test_missing_environment_is_drift(fake_esc: FakeEsc, capsys: pytest.CaptureFixture[str]) -> None:
    fake_esc.put(ORG, "llm-gateway", "common", _as_deployed("common"))
    assert main(["--org", ORG, "--env", "common", "--env", "prod", "--check"]) == 1
    out = capsys.readouterr().out
    assert "llm-gateway/prod: missing in ESC (create it from esc/prod.yaml, see docs/deploy.md)" in out


def test_bad_input_exits_2_with_one_line(
    deployed: FakeEsc, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "esc"
    broken.mkdir()
    (broken / "prod.yaml").write_text("values:\n  providerKeys: [unclosed\n")
    assert main(["--org", ORG, "--esc-dir", str(broken)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {broken / 'prod.yaml'}:3: not valid YAML") and err.count("\n") == 1

    assert main(["--org", ORG, "--env", "dev"]) == 2
    assert "--env dev: no such definition" in capsys.readouterr().err

    monkeypatch.setenv("PULUMI_ACCESS_TOKEN", "pul-wrong-token")
    assert main(["--org", ORG, "--env", "prod"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ESC API 401 (Unauthorized") and "pul-wrong-token" not in err

    monkeypatch.delenv("PULUMI_ACCESS_TOKEN")
    assert main(["--org", ORG, "--env", "prod"]) == 2
    assert "no Pulumi Cloud credentials: set PULUMI_ACCESS_TOKEN or run `pulumi login`" in capsys.readouterr().err


def test_the_command_line_exit_codes(deployed: FakeEsc) -> None:
    env = {**os.environ, "PULUMI_ACCESS_TOKEN": deployed.token, "PULUMI_BACKEND_URL": deployed.url}
    command = [sys.executable, "-m", "tools.esc_drift", "--org", ORG, "--check"]
    root = ESC_DIR.parent
    in_sync = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=60)
    assert in_sync.returncode == 0, in_sync.stderr
    deployed.put(ORG, "llm-gateway", "staging", _as_deployed("staging").replace("providerKeys:", "providerKeyz:"))
    drift = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=60)
    assert drift.returncode == 1 and "+ values.providerKeyz.openai" in drift.stdout
    _never_a_value(drift.stdout + drift.stderr, deployed)
