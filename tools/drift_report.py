"""Turn `pulumi preview --refresh --expect-no-changes --json` into a markdown table of drifted resources.

    python -m tools.drift_report preview.json --stack prod [--out drift-prod.md]

The input is Pulumi's preview digest (pulumi/pulumi `pkg/display/json.go`, `PreviewDigest`, printed
by `pkg/backend/display/json.go`, `ShowPreviewDigest`): `steps` (each with `op`, `urn`, `oldState`,
`newState`, `diffReasons`, `detailedDiff` of property path → `{kind, inputDiff}`), `diagnostics`,
`changeSummary`. Every step whose operation is not `same` (or that carries a detailed diff) is a
resource that differs from the code; each changed property is one row, with its old and new values.

Secrets never reach the report: Pulumi already writes secret values as `"[secret]"` (its
`MassageSecrets`); a value still wrapped in Pulumi's secret signature object, a property whose name
looks secret (password, token, key, credential, kubeconfig, …), an env entry whose `name` does, and
the data of a Kubernetes Secret print as `[secret]` too.

Exit codes: 0 no drift, 1 drift found (the drift workflow opens an issue), 2 bad input (one line
naming the file and key path; nothing written). Error diagnostics are listed in the report; a
preview that failed without steps reports no drift, so the workflow also checks Pulumi's own exit code.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway_config.errors import InputError, KeyPath, Problem
from tools.markdown import emit, read_json, render, shorten

EXIT_NO_DRIFT, EXIT_DRIFT, EXIT_INVALID = 0, 1, 2
MARKER_PREFIX = "<!-- llm-gateway:drift:"
SECRET = "[secret]"
# pulumi/pulumi sdk/go/common/resource/sig/sig.go: the key of a typed value and the secret's signature.
SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
# Operations that change nothing: a resource read or refreshed without a difference.
NO_CHANGE_OPS = frozenset({"same", "read", "refresh"})
# The steps Pulumi adds around a `replace` of the same resource.
REPLACEMENT_PARTS = frozenset(
    {"create-replacement", "delete-replaced", "discard-replaced", "read-replacement", "import-replacement"}
)
# Diff kinds of pulumi/pulumi sdk/go/common/resource/plugin/provider.go (`DiffKind.String`).
DIFF_KINDS = frozenset({"add", "add-replace", "delete", "delete-replace", "update", "update-replace"})
# A property whose name holds one of these words is masked whatever Pulumi says about its value:
# a provider that forgets to mark an output secret must not leak it into an issue.
SECRET_WORDS = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "secret",
        "secrets",
        "token",
        "key",
        "apikey",
        "credential",
        "credentials",
        "kubeconfig",
        "auth",
        "authorization",
        "private",
        "passphrase",
        "cert",
        "certificate",
    }
)
# ... unless the name ends in one of these: it names or points at a secret (`secretKeyRef`,
# `secretName`, `api_key_env`), it does not hold one.
REFERENCE_WORDS = frozenset({"ref", "name", "names", "id", "arn", "env", "path", "file", "version"})
KUBERNETES_SECRET_TYPES = frozenset({"kubernetes:core/v1:Secret", "kubernetes:core/v1:SecretPatch"})
KUBERNETES_SECRET_DATA = frozenset({"data", "stringData"})


@dataclass(frozen=True)
class PropertyChange:
    path: str
    kind: str
    old: str | None  # None: the property is absent on that side
    new: str | None


@dataclass(frozen=True)
class ResourceDrift:
    type: str
    name: str
    operation: str
    properties: list[PropertyChange]


@dataclass(frozen=True)
class DriftReport:
    stack: str
    resources: list[ResourceDrift]
    unchanged: int
    errors: list[str] = field(default_factory=list)

    @property
    def drifted(self) -> bool:
        return bool(self.resources)

    @property
    def marker(self) -> str:
        return f"{MARKER_PREFIX}{self.stack} -->"


# --- property paths and values -------------------------------------------------------------------

PATH_PART = re.compile(r'\.?([A-Za-z0-9_$-]+)|\["((?:[^"\\]|\\.)*)"\]|\[(\d+)\]')


def parse_property_path(path: str) -> list[str | int]:
    """Pulumi's property path syntax (`PropertyPath.String`): `a.b`, `a["k.8s.io/x"]`, `a[0]`.
    An unparsable path is kept whole, as one key, so the row still shows it."""
    parts: list[str | int] = []
    position = 0
    while position < len(path):
        match = PATH_PART.match(path, position)
        if match is None or match.end() == position:
            return [path]
        name, quoted, index = match.groups()
        if index is not None:
            parts.append(int(index))
        elif quoted is not None:
            parts.append(quoted.replace('\\"', '"'))
        else:
            parts.append(name)
        position = match.end()
    return parts


MISSING = object()


def value_at(properties: Any, path: Sequence[str | int]) -> Any:
    node = properties
    for part in path:
        in_list = isinstance(part, int) and isinstance(node, list) and 0 <= part < len(node)
        in_object = isinstance(part, str) and isinstance(node, dict) and part in node
        if not (in_list or in_object):
            return MISSING
        node = node[part]
    return node


def name_words(name: str) -> list[str]:
    """`adminKey` → [admin, key]; `OPENAI_API_KEY` → [openai, api, key]; `kube-config` → [kube, config]."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return [word.lower() for word in re.split(r"[^A-Za-z0-9]+", spaced) if word]


def looks_secret(name: str) -> bool:
    words = name_words(name)
    if not words or words[-1] in REFERENCE_WORDS:
        return False
    # Joined neighbours too: `api_key` → apikey, `kube_config` → kubeconfig, `pass_phrase` → passphrase.
    candidates = {*words, *(first + second for first, second in itertools.pairwise(words)), "".join(words)}
    return bool(candidates & SECRET_WORDS)


def is_secret_value(value: Any) -> bool:
    return value == SECRET or (isinstance(value, dict) and value.get(SIG_KEY) == SECRET_SIG)


def mask(value: Any) -> Any:
    """The value with every secret inside it replaced by `[secret]`."""
    if is_secret_value(value):
        return SECRET
    if isinstance(value, list):
        return [mask(item) for item in value]
    if isinstance(value, dict):
        # An env entry {name: LITELLM_MASTER_KEY, value: …}: the name says what the value is.
        entry_is_secret = isinstance(value.get("name"), str) and looks_secret(value["name"])
        return {
            key: SECRET if looks_secret(str(key)) or (entry_is_secret and key == "value") else mask(item)
            for key, item in value.items()
        }
    return value


def path_is_secret(resource_type: str, path: Sequence[str | int]) -> bool:
    names = [part for part in path if isinstance(part, str)]
    if resource_type in KUBERNETES_SECRET_TYPES and names and names[0] in KUBERNETES_SECRET_DATA:
        return True
    return any(looks_secret(name) for name in names)


def show(value: Any) -> str | None:
    """The value as the report prints it (in a code span); None when the property is absent."""
    if value is MISSING:
        return None
    if isinstance(value, str) and value and value.strip() == value:
        return shorten(value)
    return shorten(json.dumps(value, sort_keys=True, separators=(", ", ": "), ensure_ascii=False))


def shown_value(resource_type: str, path: Sequence[str | int], value: Any, container: Any) -> str | None:
    if value is MISSING:
        return show(value)
    if path_is_secret(resource_type, path):
        return SECRET
    # An env entry's value, reached by a path that ends in `.value`: its sibling `name` tells.
    if path and path[-1] == "value":
        sibling = value_at(container, [*path[:-1], "name"])
        if isinstance(sibling, str) and looks_secret(sibling):
            return SECRET
    return show(mask(value))


# --- reading the preview digest --------------------------------------------------------------------


class Problems:
    def __init__(self) -> None:
        self.found: list[Problem] = []

    def add(self, path: KeyPath, message: str) -> None:
        self.found.append(Problem(path, message))


def _properties(state: Any, key: str) -> dict[str, Any]:
    if not isinstance(state, dict):
        return {}
    properties = state.get(key)
    return properties if isinstance(properties, dict) else {}


def _urn_type_and_name(urn: str) -> tuple[str, str]:
    """`urn:pulumi:prod::llm-gateway::parent$kubernetes:apps/v1:Deployment::llm-gateway` →
    (`kubernetes:apps/v1:Deployment`, `llm-gateway`)."""
    parts = urn.split("::", 3)
    if len(parts) < 4 or not urn.startswith("urn:pulumi:"):
        return "", urn
    return parts[2].rsplit("$", 1)[-1], parts[3]


def _step_changes(step: dict[str, Any], where: KeyPath, problems: Problems) -> ResourceDrift | None:
    op, urn = step.get("op"), step.get("urn")
    if not isinstance(op, str) or not op:
        problems.add((*where, "op"), "missing or not a string (a `pulumi preview --json` step has `op`)")
    if not isinstance(urn, str) or not urn:
        problems.add((*where, "urn"), "missing or not a string (a `pulumi preview --json` step has `urn`)")
    for state in ("oldState", "newState"):
        if step.get(state) is not None and not isinstance(step[state], dict):
            problems.add((*where, state), "not an object (a resource state)")
    detailed = step.get("detailedDiff")
    if detailed is not None and not isinstance(detailed, dict):
        problems.add((*where, "detailedDiff"), "not an object of property path → {kind, inputDiff}")
        detailed = None
    reasons = step.get("diffReasons")
    if reasons is not None and not (isinstance(reasons, list) and all(isinstance(r, str) for r in reasons)):
        problems.add((*where, "diffReasons"), "not a list of property names")
        reasons = None
    for path, diff in (detailed or {}).items():
        if not isinstance(diff, dict) or diff.get("kind") not in DIFF_KINDS:
            problems.add((*where, "detailedDiff", path, "kind"), f"expected one of {', '.join(sorted(DIFF_KINDS))}")
    if not isinstance(op, str) or not isinstance(urn, str) or (op in NO_CHANGE_OPS and not detailed):
        return None

    resource_type, name = _urn_type_and_name(urn)
    resource_type = str(_properties_type(step) or resource_type)
    old_state, new_state = step.get("oldState"), step.get("newState")
    old_inputs, old_outputs = _properties(old_state, "inputs"), _properties(old_state, "outputs")
    new_inputs, new_outputs = _properties(new_state, "inputs"), _properties(new_state, "outputs")

    changes: list[PropertyChange] = []
    if detailed:
        for path_text, diff in detailed.items():
            if not isinstance(diff, dict):
                continue
            path = parse_property_path(path_text)
            kind = str(diff.get("kind"))
            # inputDiff: old inputs against new inputs; else the old state (outputs) against new inputs.
            old_source = old_inputs if diff.get("inputDiff") else (old_outputs or old_inputs)
            old = MISSING if kind.startswith("add") else value_at(old_source, path)
            if old is MISSING and not kind.startswith("add"):
                old_source, old = old_inputs, value_at(old_inputs, path)
            new_source = new_inputs
            new = MISSING if kind.startswith("delete") else value_at(new_inputs, path)
            if new is MISSING and not kind.startswith("delete"):
                new_source, new = new_outputs, value_at(new_outputs, path)
            changes.append(
                PropertyChange(
                    path_text,
                    kind,
                    shown_value(resource_type, path, old, old_source),
                    shown_value(resource_type, path, new, new_source),
                )
            )
    else:
        # No detailed diff from the provider: the top-level properties it named.
        for reason in reasons or []:
            old = value_at(old_outputs or old_inputs, [reason])
            new = value_at(new_inputs or new_outputs, [reason])
            changes.append(
                PropertyChange(
                    reason,
                    "update",
                    shown_value(resource_type, [reason], old, old_outputs),
                    shown_value(resource_type, [reason], new, new_inputs),
                )
            )
    return ResourceDrift(resource_type, name, op, changes)


def _properties_type(step: dict[str, Any]) -> str | None:
    for state in ("newState", "oldState"):
        value = step.get(state)
        if isinstance(value, dict) and isinstance(value.get("type"), str):
            return str(value["type"])
    return None


def drift_report(digest: Any, stack: str, file: Path | str) -> DriftReport:
    """The report of one preview digest; raises InputError naming the key path of what is wrong."""
    problems = Problems()
    if not isinstance(digest, dict):
        raise InputError(file, [Problem((), "not a `pulumi preview --json` document (a JSON object with `steps`)")])
    steps = digest.get("steps", [])
    if not isinstance(steps, list):
        problems.add(("steps",), "not a list of steps")
        steps = []
    resources: list[ResourceDrift] = []
    unchanged = 0
    replaced = {step.get("urn") for step in steps if isinstance(step, dict) and step.get("op") == "replace"}
    for index, step in enumerate(steps):
        if not isinstance(step, dict):
            problems.add(("steps", index), "not an object (a step has `op` and `urn`)")
            continue
        drift = _step_changes(step, ("steps", index), problems)
        if drift is not None and step.get("urn") in replaced and step.get("op") in REPLACEMENT_PARTS:
            continue  # one row set per replaced resource: the `replace` step says it all
        if drift is None:
            unchanged += 1
        elif drift not in resources:  # a refreshed resource can appear twice with the same change
            resources.append(drift)
    errors = []
    diagnostics = digest.get("diagnostics", [])
    if not isinstance(diagnostics, list):
        problems.add(("diagnostics",), "not a list")
        diagnostics = []
    for index, diagnostic in enumerate(diagnostics):
        if not isinstance(diagnostic, dict):
            problems.add(("diagnostics", index), "not an object")
        elif diagnostic.get("severity") == "error":
            errors.append(shorten(str(diagnostic.get("message", "")).strip(), 400))
    if problems.found:
        raise InputError(file, problems.found)
    return DriftReport(stack, resources, unchanged, errors)


def render_report(report: DriftReport) -> str:
    return render("drift_report.md.j2", report=report)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.drift_report", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "preview", type=Path, help="the output of `pulumi preview --refresh --expect-no-changes --json`"
    )
    parser.add_argument("--stack", required=True, help="the stack the preview ran on (named in the report)")
    parser.add_argument("--out", type=Path, help="write the markdown here (default: standard output)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        report = drift_report(read_json(args.preview), args.stack, args.preview)
    except InputError as error:
        for line in error.lines():
            print(line, file=sys.stderr)
        return EXIT_INVALID
    markdown = render_report(report)
    if not emit(markdown, args.out):
        return EXIT_INVALID
    return EXIT_DRIFT if report.drifted else EXIT_NO_DRIFT


if __name__ == "__main__":
    sys.exit(main())
