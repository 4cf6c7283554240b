"""Render the one PR comment a reviewer reads: policy results, the routing diff and the cost projection.

    python -m tools.pr_comment --routing-diff diff.md --cost cost.md \\
        --policy policy-staging.json --policy policy-prod.json [--commit SHA] [--base SHA] [--out comment.md]

Inputs are the outputs of the project's own commands: `make diff BASE=<sha>` (`python -m
gateway_config diff`), `make cost BASE=<sha>` (`python -m gateway_config cost`) and, per stack,
`python -m policies.report --stack <stack> --json`:

    {"stack": "prod", "pack": "llm-gateway", "results": [{"policy": "...", "description": "...",
      "enforcement": "mandatory|advisory|disabled", "violations": [{"resource": "<type> <name>" | null,
      "message": "..."}]}]}

The comment starts with a hidden marker (`MARKER`): the PR workflow finds the comment by it and
edits it in place on every push, so a PR carries one comment, always current.

Exit codes: 0 rendered (whatever the policies found: the workflow fails the run on a mandatory
violation itself, after the comment is posted); 2 bad input (one line per problem naming the file and
key path; nothing written).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway_config.errors import InputError, KeyPath, Problem
from tools.markdown import demote_headings, emit, read_json, read_text, render

EXIT_OK, EXIT_INVALID = 0, 2
MARKER = "<!-- llm-gateway:pr-checks -->"
ENFORCEMENTS = ("mandatory", "advisory", "disabled")
# GitHub refuses a comment body over 65,536 characters; the routing diff is what can grow that long.
COMMENT_LIMIT = 65_000


@dataclass(frozen=True)
class Violation:
    policy: str
    enforcement: str
    resource: str | None
    message: str


@dataclass(frozen=True)
class StackPolicies:
    stack: str
    pack: str
    policies: int
    disabled: int
    violations: list[Violation]

    @property
    def mandatory(self) -> int:
        return sum(violation.enforcement == "mandatory" for violation in self.violations)

    @property
    def advisory(self) -> int:
        return sum(violation.enforcement == "advisory" for violation in self.violations)


def _string(value: Any, path: KeyPath, problems: list[Problem], optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value:
        problems.append(Problem(path, "expected a string" + (" or null" if optional else "")))
        return None
    return value


def policy_results(document: Any, file: Path | str) -> StackPolicies:
    """One stack's policy report (the shape above); raises InputError naming every key path that is wrong."""
    if not isinstance(document, dict):
        raise InputError(file, [Problem((), "not a policy report (an object with stack, pack, results)")])
    problems: list[Problem] = []
    stack = _string(document.get("stack"), ("stack",), problems)
    pack = _string(document.get("pack"), ("pack",), problems)
    results = document.get("results")
    if not isinstance(results, list):
        problems.append(Problem(("results",), "expected a list of policy results"))
        results = []
    violations: list[Violation] = []
    disabled = 0
    for index, result in enumerate(results):
        where: KeyPath = ("results", index)
        if not isinstance(result, dict):
            problems.append(Problem(where, "expected an object with policy, enforcement, violations"))
            continue
        policy = _string(result.get("policy"), (*where, "policy"), problems)
        enforcement = result.get("enforcement")
        if enforcement not in ENFORCEMENTS:
            problems.append(Problem((*where, "enforcement"), f"expected one of {', '.join(ENFORCEMENTS)}"))
        disabled += enforcement == "disabled"
        found = result.get("violations")
        if not isinstance(found, list):
            problems.append(Problem((*where, "violations"), "expected a list"))
            continue
        for number, violation in enumerate(found):
            at: KeyPath = (*where, "violations", number)
            if not isinstance(violation, dict):
                problems.append(Problem(at, "expected an object with resource and message"))
                continue
            resource = _string(violation.get("resource"), (*at, "resource"), problems, optional=True)
            message = _string(violation.get("message"), (*at, "message"), problems)
            if policy and message and enforcement in ENFORCEMENTS:
                violations.append(Violation(policy, str(enforcement), resource, message))
    if problems:
        raise InputError(file, problems)
    assert stack is not None and pack is not None
    return StackPolicies(stack, pack, len(results), disabled, violations)


def command_output(path: Path, command: str) -> str:
    text = read_text(path)
    if not text.strip():
        raise InputError(path, [Problem((), f"empty: expected the markdown `{command}` prints")])
    return text


def _section(markdown: str, top_level: int) -> str:
    """A command's markdown as a section of the comment: its `## Title` becomes a `###` heading."""
    return demote_headings(markdown.strip("\n"), top_level)


def render_comment(
    routing_diff: str,
    cost: str,
    policies: Sequence[StackPolicies],
    commit: str | None = None,
    base: str | None = None,
) -> str:
    context = {
        "marker": MARKER,
        "policies": policies,
        "commit": commit,
        "base": base,
        "cost": _section(cost, 3),
        "truncated": False,
    }
    comment = render("pr_comment.md.j2", routing_diff=_section(routing_diff, 3), **context)
    if len(comment) > COMMENT_LIMIT:
        # Keep the policies and the cost whole; cut the routing diff, and say where to read all of it.
        room = max(0, len(routing_diff) - (len(comment) - COMMENT_LIMIT) - 200)
        cut = _section(routing_diff, 3)[:room].rsplit("\n", 1)[0]
        comment = render("pr_comment.md.j2", routing_diff=cut, **{**context, "truncated": True})
    return comment


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.pr_comment", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--routing-diff", type=Path, required=True, help="markdown of `make diff BASE=<sha>`")
    parser.add_argument("--cost", type=Path, required=True, help="markdown of `make cost BASE=<sha>`")
    parser.add_argument(
        "--policy", type=Path, action="append", required=True, help="`python -m policies.report --json` (per stack)"
    )
    parser.add_argument("--commit", help="the commit the checks ran on (shown in the comment)")
    parser.add_argument("--base", help="the base commit the diff and cost compare with")
    parser.add_argument("--out", type=Path, help="write the comment here (default: standard output)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        routing_diff = command_output(args.routing_diff, "make diff BASE=<sha>")
        cost = command_output(args.cost, "make cost BASE=<sha>")
        policies = [policy_results(read_json(path), path) for path in args.policy]
    except InputError as error:
        for line in error.lines():
            print(line, file=sys.stderr)
        return EXIT_INVALID
    comment = render_comment(routing_diff, cost, policies, args.commit, args.base)
    if not emit(comment, args.out):
        return EXIT_INVALID
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
