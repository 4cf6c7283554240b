"""The llm-gateway policy pack: what ``pulumi preview --policy-pack policies`` loads.

Only builds the pack. Constructing ``PolicyPack`` starts the analyzer's gRPC server and never
returns, so the policies live in ``policies/registry.py`` and the validators in the modules beside
it, importable by the report and the tests. The engine runs this file from the pack's directory;
the validators read the project's own modules, so the repository root must be on PYTHONPATH
(``PYTHONPATH=$PWD pulumi preview …`` from the root; docs/policies.md).
"""

import sys

try:
    from policies.registry import PACK_NAME, build_policies
except ModuleNotFoundError as error:
    print(
        f"error: the llm-gateway policy pack cannot import {error.name!r}: run it with the repository root on "
        "PYTHONPATH (PYTHONPATH=$PWD pulumi preview --policy-pack policies …; docs/policies.md)",
        file=sys.stderr,
    )
    sys.exit(2)

from pulumi_policy import EnforcementLevel, PolicyPack

# Mandatory unless the stack's pack config says otherwise (policies/config/<stack>.json): a preview
# run without a config is held to prod's rules.
PolicyPack(name=PACK_NAME, policies=build_policies(), enforcement_level=EnforcementLevel.MANDATORY)
