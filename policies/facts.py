"""What the policies compare the stack against, read from the repository: the runtime versions the
end-to-end tests ran and the committed generated Portkey configs. Read once, when the pack is built."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from components.portkey import config_name
from program.generated_tree import DEFAULT_GENERATED_DIR, load_hosted_portkey
from runtime.engines import LITELLM, PORTKEY, REPO_ROOT

LITELLM_REQUIREMENTS = REPO_ROOT / "runtime" / "litellm" / "requirements.txt"
PORTKEY_PACKAGE = REPO_ROOT / "runtime" / "portkey" / "package.json"


class FactsError(Exception):
    """A file the policies read is missing or not what its producer writes (one line)."""


def tested_litellm_version(requirements: Path = LITELLM_REQUIREMENTS) -> str:
    """The LiteLLM version runtime/litellm/requirements.txt pins (what every e2e test ran)."""
    pins = set(re.findall(r"^litellm(?:\[[a-z,-]+\])?==([0-9][0-9.]*)\b", requirements.read_text(), re.MULTILINE))
    if len(pins) != 1:
        raise FactsError(f"{requirements}: expected one litellm==<version> pin, found {sorted(pins) or 'none'}")
    return str(pins.pop())


def tested_portkey_version(package: Path = PORTKEY_PACKAGE) -> str:
    version = json.loads(package.read_text()).get("dependencies", {}).get("@portkey-ai/gateway")
    if not isinstance(version, str) or not re.fullmatch(r"[0-9]+\.[0-9]+\.[0-9]+", version):
        raise FactsError(f"{package}: dependencies.@portkey-ai/gateway must be an exact version, got {version!r}")
    return version


def tested_image_tags() -> dict[str, str]:
    """Engine name → the image tag of the tested runtime version (LiteLLM's images are tagged v<version>)."""
    return {LITELLM.name: f"v{tested_litellm_version()}", PORTKEY.name: tested_portkey_version()}


def committed_portkey_configs(root: Path = DEFAULT_GENERATED_DIR) -> dict[str, dict[str, Any]]:
    """Saved-config name (``llm-gateway-<env>-<task>``) → the committed ``portkey/<task>.json`` of every
    environment its generated tree serves through Portkey's hosted gateway."""
    configs: dict[str, dict[str, Any]] = {}
    for env_dir in sorted(path for path in root.iterdir() if (path / "routing.json").is_file()):
        hosted = load_hosted_portkey(env_dir.name, root=root)
        if hosted is None:
            continue
        for task, body in hosted.configs.items():
            configs[config_name(env_dir.name, task)] = body
    return configs
