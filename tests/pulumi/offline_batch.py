"""Many offline program runs from one process: import Pulumi and the components once, fork a child per run.

A test-harness tool (the suite's speed), not something a user runs: ``make plan`` runs one stack in
its own process (``tools.plan``). Pulumi's runtime state is process-global, so every run needs a
process that has run nothing; a forked child of a process that has only *imported* Pulumi is
exactly that, minus ~1.5 s of imports per run.

    python -m tests.pulumi.offline_batch BATCH.json

``BATCH.json`` maps a run name to its options (``stack``, ``generated_dir``, ``set``, ``secret``,
``unset``); each run writes ``<name>.json`` (the graph), ``<name>.stdout``, ``<name>.stderr`` and
``<name>.rc`` next to it. A program that refuses its configuration exits 2, as under ``pulumi up``.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

from program.generated_tree import GENERATED_DIR_ENV
from tools.offline import PROJECT, run_program, stack_config


def _config_for(options: dict[str, Any]) -> tuple[dict[str, str], list[str]]:
    config, secret_keys = stack_config(options["stack"])
    for values, secret in ((options.get("set") or {}, False), (options.get("secret") or {}, True)):
        for key, value in values.items():
            full = key if ":" in key else f"{PROJECT}:{key}"
            config[full] = value
            if secret and full not in secret_keys:
                secret_keys.append(full)
            elif not secret and full in secret_keys:
                secret_keys.remove(full)
    for key in options.get("unset") or []:
        config.pop(key if ":" in key else f"{PROJECT}:{key}", None)
    return config, secret_keys


def _run_one(options: dict[str, Any], graph_path: Path) -> int:
    os.environ[GENERATED_DIR_ENV] = str(Path(options["generated_dir"]).resolve())
    config, secret_keys = _config_for(options)
    graph = run_program(options["stack"], config, secret_keys)
    graph_path.write_text(json.dumps(graph, indent=1, sort_keys=True, default=str))
    return 0


def _fork(name: str, options: dict[str, Any], workdir: Path) -> int:
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        with (workdir / f"{name}.stdout").open("w") as out, (workdir / f"{name}.stderr").open("w") as err:
            os.dup2(out.fileno(), 1)
            os.dup2(err.fileno(), 2)
            try:
                code = _run_one(options, workdir / f"{name}.json")
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else 1
            except BaseException:
                traceback.print_exc()
            sys.stdout.flush()
            sys.stderr.flush()
    finally:
        os._exit(code)


def main(batch_file: Path) -> int:
    # Imported once here, for every child.
    import pulumi_kubernetes  # noqa: F401
    import pulumi_random  # noqa: F401

    import components.gateway
    import components.namespace
    import components.redis
    import components.secrets  # noqa: F401

    runs: dict[str, dict[str, Any]] = json.loads(batch_file.read_text())
    workdir = batch_file.parent
    children = {_fork(name, options, workdir): name for name, options in runs.items()}
    while children:
        pid, status = os.wait()
        name = children.pop(pid)
        (workdir / f"{name}.rc").write_text(str(os.waitstatus_to_exitcode(status)))
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
