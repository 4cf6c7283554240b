"""Prod runs the versions that were tested: one place keeps the runtime pins, the engine registry's
default images, Pulumi.yaml and every stack and ESC file in step.

The LiteLLM version is runtime/litellm/requirements.txt's pin (every e2e test and benchmark runs
it), the Portkey version runtime/portkey/package.json's. No digest of either is written into the
repository (none can be cited): prod takes the gateway image, digest-pinned, from its ESC
environment, and the program refuses any other tag there (tests/pulumi/test_stack_settings.py).
Redis is pinned by the digest docker-library/repo-info publishes for the default tag.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from program.stack_settings import DEFAULT_REDIS_IMAGE, ESC_PLACEHOLDER, StackSettings, image_tag
from runtime.engines import ENGINES, LITELLM, PORTKEY

ROOT = Path(__file__).resolve().parents[1]
# The multi-arch index digest of redis:8.4.4, docker-library/repo-info commit
# 02a7125d340ea0a81a74d59288d3bdb0d75f9ee2, repos/redis/remote/8.4.4.md.
REDIS_8_4_4_INDEX = "sha256:c44528447fa07ed62bdb0c1944cba54f8cad6a4e4a49ada9d4843b5b07d03227"


def _litellm_pin() -> str:
    pins = set(
        re.findall(
            r"^litellm(?:\[[a-z,-]+\])?==([0-9][0-9.]*)\b",
            (ROOT / "runtime/litellm/requirements.txt").read_text(),
            re.MULTILINE,
        )
    )
    assert len(pins) == 1, pins
    return pins.pop()


def _portkey_pin() -> str:
    version: str = json.loads((ROOT / "runtime/portkey/package.json").read_text())["dependencies"][
        "@portkey-ai/gateway"
    ]
    assert re.fullmatch(r"[0-9]+\.[0-9]+\.[0-9]+", version), f"pin an exact version: {version!r}"
    return version


def _yaml(path: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / path).read_text())
    return document


def test_default_images_are_the_tested_runtime_versions() -> None:
    assert image_tag(LITELLM.default_image) == f"v{_litellm_pin()}"
    assert image_tag(PORTKEY.default_image) == _portkey_pin()
    declared = _yaml("Pulumi.yaml")["config"]
    for engine in ENGINES.values():
        assert declared[engine.image_setting]["default"] == engine.default_image, engine.name
    assert declared["redisImage"]["default"] == DEFAULT_REDIS_IMAGE
    assert StackSettings.model_fields["redis_image"].default == DEFAULT_REDIS_IMAGE


def test_every_stack_file_runs_the_tested_tags() -> None:
    tested = {engine.image_setting: image_tag(engine.default_image) for engine in ENGINES.values()}
    tested["redisImage"] = image_tag(DEFAULT_REDIS_IMAGE)
    for path in sorted(ROOT.glob("Pulumi.*.yaml")):
        config = yaml.safe_load(path.read_text())["config"]
        for key, tag in tested.items():
            image = config.get(f"llm-gateway:{key}")
            if image is not None:
                assert image_tag(image) == tag, (path.name, key, image)


def test_prod_pins_the_cited_redis_digest_and_no_gateway_digest() -> None:
    prod = _yaml("Pulumi.prod.yaml")["config"]
    assert prod["llm-gateway:redisImage"] == f"{DEFAULT_REDIS_IMAGE}@{REDIS_8_4_4_INDEX}"
    # The gateway image comes from ESC, where the operator puts the digest cosign verified.
    assert "llm-gateway:litellmImage" not in prod and "llm-gateway:portkeyImage" not in prod
    assert _yaml("esc/prod.yaml")["values"]["images"]["litellm"] == ESC_PLACEHOLDER
    text = (ROOT / "Pulumi.prod.yaml").read_text() + (ROOT / "esc/prod.yaml").read_text()
    assert "sha256:" + "0" * 64 not in text
    assert set(re.findall(r"sha256:[0-9a-f]{64}", text)) == {REDIS_8_4_4_INDEX}


def test_the_docs_name_the_tested_image() -> None:
    deploy = (ROOT / "docs/deploy.md").read_text()
    assert "cosign verify" in deploy and LITELLM.default_image in deploy
    assert f"v{_litellm_pin()}" in (ROOT / "esc/prod.yaml").read_text()
