"""docs/policies.md lists every policy of the pack with the enforcement its stacks' configs give it."""

from __future__ import annotations

import re
from pathlib import Path

from policies.evaluate import CONFIG_DIR, load_pack_config, policy_config
from policies.registry import policy_specs

DOC = Path(__file__).resolve().parents[2] / "docs" / "policies.md"


def test_the_doc_table_is_the_pack() -> None:
    rows = {
        match.group(1): match.group(0)
        for match in re.finditer(r"^\| `([a-z0-9-]+)` \|.*$", DOC.read_text(), re.MULTILINE)
    }
    configs = {stack: load_pack_config(CONFIG_DIR / f"{stack}.json") for stack in ("staging", "prod")}
    assert set(rows) == {spec.name for spec in policy_specs()}
    for spec in policy_specs():
        cells = [cell.strip() for cell in rows[spec.name].strip("|").split("|")]
        assert cells[1] == spec.scope, spec.name
        for stack, cell in (("staging", cells[3]), ("prod", cells[4])):
            assert cell.split(" ")[0] == policy_config(configs[stack], spec.name).enforcement, (spec.name, stack)
