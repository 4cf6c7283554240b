"""The alert route tree (program/alertmanager.py), checked by the real Alertmanager's own tool: the plain
config it writes passes ``amtool check-config``, and ``amtool config routes test`` sends each severity to
its receiver. The cluster's AlertmanagerConfig is written from the same tree (tests/pulumi checks its
shape; tests/e2e/test_observability.py delivers through a real Alertmanager)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from program.alertmanager import (
    RECEIVER_KINDS,
    ReceiverSecret,
    alertmanager_config_spec,
    alertmanager_yaml,
    receiver_name,
    route_tree,
)


def _amtool() -> str:
    path = shutil.which("amtool")
    if path is None:
        message = "amtool is not installed; install with: make runtime-prometheus"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return path


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    tree = route_tree()
    path = tmp_path / "alertmanager.yml"
    urls = {name: f"http://127.0.0.1:9/{name}" for name in tree.receivers}
    path.write_text(yaml.safe_dump(alertmanager_yaml(tree, urls)))
    return path


def test_the_plain_config_is_valid(config_file: Path) -> None:
    result = subprocess.run([_amtool(), "check-config", str(config_file)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["alertname=LLMGatewayErrorRateHigh", "severity=page", "env=prod", "task=chat"], receiver_name("page")),
        (["alertname=LLMGatewayFallbackSpike", "severity=ticket", "env=prod"], receiver_name("ticket")),
        # Anything without a known severity still reaches someone: the ticket receiver.
        (["alertname=Unlabelled"], receiver_name("ticket")),
        (["alertname=X", "severity=critical"], receiver_name("ticket")),
    ],
)
def test_each_severity_reaches_its_receiver(config_file: Path, labels: list[str], receiver: str) -> None:
    result = subprocess.run(
        [_amtool(), "config", "routes", "test", f"--config.file={config_file}", *labels],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == receiver


def test_every_receiver_kind_reads_its_secret_by_reference() -> None:
    tree = route_tree()
    for kind in RECEIVER_KINDS:
        spec = alertmanager_config_spec(
            tree, {name: ReceiverSecret(kind, "receivers-abc", "page") for name in tree.receivers}
        )
        for receiver in spec["receivers"]:
            ((key, configs),) = [(k, v) for k, v in receiver.items() if k.endswith("Configs")]
            assert key == f"{kind}Configs"
            references = [value for value in configs[0].values() if isinstance(value, dict)]
            assert references == [{"name": "receivers-abc", "key": "page"}]


def test_a_receiver_without_a_secret_is_refused() -> None:
    tree = route_tree()
    with pytest.raises(ValueError, match="llm-gateway-page"):
        alertmanager_config_spec(tree, {receiver_name("ticket"): ReceiverSecret("slack", "s", "ticket")})
