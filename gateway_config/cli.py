"""`python -m gateway_config`: validate, build, check and diff the routing spec, and price it.

Exit codes: 0 ok; 1 `check` found stale generated files; 2 invalid input (spec or arguments).
Invalid input prints one line per problem (file:line: key.path: message) and writes nothing.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from gateway_config.build import DEFAULT_OUT, DEFAULT_SPEC, render, stale_files, write_tree
from gateway_config.cost import cost_report, read_history
from gateway_config.diff import routing_diff
from gateway_config.errors import InputError
from gateway_config.loader import load_spec
from gateway_config.schema import SCHEMA_PATH, schema_is_current, schema_text
from gateway_config.spec import ENVIRONMENT_NAMES

EXIT_OK, EXIT_STALE, EXIT_INVALID = 0, 1, 2


def _spec_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--spec",
        type=Path,
        default=Path(_relative(DEFAULT_SPEC)),
        help=f"routing spec (default: {_relative(DEFAULT_SPEC)})",
    )


def _env_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--env",
        dest="environments",
        action="append",
        choices=ENVIRONMENT_NAMES,
        help="environment to generate (repeatable; default: all)",
    )


def _requests_option(parser: argparse.ArgumentParser, required: bool) -> None:
    parser.add_argument(
        "--requests",
        type=Path,
        required=required,
        help="past requests: the request log's export as CSV or JSONL (task, prompt_tokens, completion_tokens, "
        "cache_status; optional environment, request_time)",
    )
    parser.add_argument(
        "--days", type=float, help="days the requests cover (default: from their request_time), scaled to 30"
    )


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m gateway_config",
        description="Validate the routing spec and generate the configs the gateway runtimes consume.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    validate = commands.add_parser("validate", help="check the spec; print every problem with its key path")
    _spec_option(validate)

    build = commands.add_parser("build", help="write generated/<env>/ (portkey/, litellm/, routing.json)")
    _spec_option(build)
    build.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: %(default)s)")
    _env_option(build)

    check = commands.add_parser("check", help="exit 1 if the committed generated tree or schema is stale")
    _spec_option(check)
    check.add_argument("--out", type=Path, default=DEFAULT_OUT, help="generated tree (default: %(default)s)")

    diff = commands.add_parser("diff", help="markdown summary of the routing change from a base spec")
    diff.add_argument("--base-spec", type=Path, required=True, help="the spec before the change")
    _spec_option(diff)
    _env_option(diff)
    _requests_option(diff, required=False)

    cost = commands.add_parser("cost", help="projected monthly cost per environment and task, from past requests")
    _spec_option(cost)
    cost.add_argument("--base-spec", type=Path, help="also price this spec, and show the difference")
    _requests_option(cost, required=True)
    _env_option(cost)

    schema = commands.add_parser("schema", help="write the JSON Schema of the spec")
    schema.add_argument("--out", type=Path, default=SCHEMA_PATH, help="schema file (default: %(default)s)")
    return parser


def _validate(args: argparse.Namespace) -> int:
    spec = load_spec(args.spec)
    print(f"{_relative(args.spec)}: valid ({len(spec.tasks)} tasks, {len(spec.environments)} environments)")
    return EXIT_OK


def _build(args: argparse.Namespace) -> int:
    environments = args.environments or list(ENVIRONMENT_NAMES)
    rendered = render(load_spec(args.spec), environments)
    # Changed, added or removed: what `git status` will show, not the count of files rewritten.
    changed = stale_files(rendered, args.out, environments)
    write_tree(rendered, args.out, environments)
    where = f"{len(rendered)} files for {', '.join(environments)} under {_relative(args.out)}"
    if not changed:
        print(f"no change: {where}")
        return EXIT_OK
    print(f"{len(changed)} changed of {where}:")
    for path in changed:
        print(f"  {path}")
    return EXIT_OK


def _check(args: argparse.Namespace) -> int:
    rendered = render(load_spec(args.spec), ENVIRONMENT_NAMES)
    stale = stale_files(rendered, args.out, ENVIRONMENT_NAMES)
    if not schema_is_current():
        stale.append(_relative(SCHEMA_PATH))
    if stale:
        print("stale generated files (run `make generate` and commit the result):")
        for path in stale:
            print(f"  {path}")
        return EXIT_STALE
    print(f"generated tree is current ({len(rendered)} files)")
    return EXIT_OK


def _diff(args: argparse.Namespace) -> int:
    before = load_spec(args.base_spec)
    after = load_spec(args.spec)
    history = read_history(args.requests, args.days) if args.requests else None
    summary = routing_diff(before, after, args.environments or ENVIRONMENT_NAMES)
    if history is not None:
        # The PR shows what the change costs next to what it changes.
        summary = summary.rstrip("\n") + "\n\n" + cost_report(after, history, before, args.environments)
    print(summary, end="")
    return EXIT_OK


def _cost(args: argparse.Namespace) -> int:
    spec = load_spec(args.spec)
    base = load_spec(args.base_spec) if args.base_spec else None
    history = read_history(args.requests, args.days)
    print(cost_report(spec, history, base, args.environments), end="")
    return EXIT_OK


def _schema(args: argparse.Namespace) -> int:
    args.out.write_text(schema_text(), encoding="utf-8")
    print(f"wrote {_relative(args.out)}")
    return EXIT_OK


COMMANDS = {
    "validate": _validate,
    "build": _build,
    "check": _check,
    "diff": _diff,
    "cost": _cost,
    "schema": _schema,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except InputError as error:
        for line in error.lines():
            print(line, file=sys.stderr)
        return EXIT_INVALID
    except OSError as error:
        # An unwritable --out or a path that is a file: one line, not a traceback, and not exit 1
        # (which means "stale").
        where = error.filename or "?"
        print(f"{_relative(Path(where).absolute())}: {error.strerror or error}", file=sys.stderr)
        return EXIT_INVALID
