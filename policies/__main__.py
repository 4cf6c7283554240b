"""The llm-gateway policy pack: what ``pulumi preview --policy-pack policies`` loads.

Only builds the pack. Constructing ``PolicyPack`` starts the analyzer's gRPC server and never
returns, so the policies live in ``policies/registry.py`` and the validators in the modules beside
it, importable by the report and the tests. The engine runs this file from the pack's directory:
the repository root goes on the import path so the validators can read the project's modules.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import EnforcementLevel, PolicyPack

from policies.registry import PACK_NAME, build_policies

# Mandatory unless the stack's pack config says otherwise (policies/config/<stack>.json): a preview
# run without a config is held to prod's rules.
PolicyPack(name=PACK_NAME, policies=build_policies(), enforcement_level=EnforcementLevel.MANDATORY)
