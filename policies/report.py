"""Every policy of the pack against one stack's mocked graph, as JSON.

    python -m policies.report --stack <staging|prod> [--json] [--config FILE]

Runs the real program under Pulumi's mocks with the stack's config (the runner ``make plan`` and
the tests use, ``tools.offline``), then every policy of ``policies/`` under the stack's pack
config (``policies/config/<stack>.json``, the file ``pulumi preview --policy-pack-config`` takes).
Prints ``{"stack", "pack", "results": [{"policy", "description", "enforcement", "violations":
[{"resource", "message"}]}]}`` on stdout (``--json`` is accepted for callers that say so; the
output is JSON either way) and a one-line summary on stderr. Exit 0: no mandatory policy is
violated; 1: one is; 2: bad arguments, a refused stack config or a malformed pack config.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import Any

STACKS = ("staging", "prod")


def mocked_graph(stack: str) -> dict[str, Any]:
    """The stack's graph from the real program under mocks (once per process: Pulumi's state is global).
    The program's own output goes to stderr, so stdout carries only the report."""
    from tools.offline import run_program, stack_config

    config, secret_keys = stack_config(stack)
    with contextlib.redirect_stdout(sys.stderr):
        return run_program(stack, config, secret_keys)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m policies.report", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", required=True, choices=STACKS)
    parser.add_argument("--json", action="store_true", help="print the report as JSON (the default, kept for callers)")
    parser.add_argument("--config", type=Path, help="pack config (default: policies/config/<stack>.json)")
    args = parser.parse_args(argv)

    from policies.evaluate import CONFIG_DIR, PackConfigError, blocking, evaluate, load_pack_config
    from tools.offline import StackConfigError

    config_path = args.config or CONFIG_DIR / f"{args.stack}.json"
    try:
        pack_config = load_pack_config(config_path)
        graph = mocked_graph(args.stack)
    except (PackConfigError, StackConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except SystemExit as exit_:
        # The program refuses its configuration with exit 2 and says why on stderr.
        print(f"error: the program refused stack {args.stack!r}'s configuration (see above)", file=sys.stderr)
        return exit_.code if isinstance(exit_.code, int) and exit_.code else 2
    report = evaluate(graph, pack_config)
    print(json.dumps(report, indent=2))
    failing = blocking(report)
    violated = sum(1 for result in report["results"] if result["violations"])
    print(
        f"{args.stack}: {len(report['results'])} policies, {violated} with violations, "
        f"{len(failing)} mandatory: {', '.join(result['policy'] for result in failing) or 'none'}",
        file=sys.stderr,
    )
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
