"""Compare the ESC environment definitions in esc/ with what Pulumi ESC holds, key by key.

    python -m tools.esc_drift --org ORG [--env prod ...] [--check]

``esc/<name>.yaml`` defines ``llm-gateway/<name>``. Each definition is read from ESC as stored
(``GET``, secrets as ciphertext; never decrypted) and compared with the file by key path:

    + values.providerKeys.mistral            in ESC, not in esc/prod.yaml
    - values.pulumiConfig["llm-gateway:x"]   in esc/prod.yaml, not in ESC
    ~ values.gateway.monitoringNamespace     a different value
    ~ values.providerKeys.openai             secret on one side, plain on the other

A secret is compared by being a secret only: the files hold placeholders (the real keys are set in
ESC with ``esc env set``), and a ciphertext says nothing about its value. No value is ever printed,
secret or not. Credentials: ``PULUMI_ACCESS_TOKEN`` or the CLI's login; ``PULUMI_BACKEND_URL``.

Exit codes: 0 no drift (or drift without ``--check``), 1 drift with ``--check``, 2 bad input
(unreadable file, unknown environment, no credentials, an ESC error).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from program.esc.client import EscError, client, stored_definition

ROOT = Path(__file__).resolve().parent.parent
ESC_DIR = ROOT / "esc"
PROJECT = "llm-gateway"
SECRET = "fn::secret"


class BadInput(Exception):
    """A definition file or an argument is unusable; the message names it."""


@dataclass(frozen=True)
class Leaf:
    """What is compared at one key path: a secret (by being one) or a plain value."""

    secret: bool
    value: str  # canonical JSON of a plain value; "" for a secret

    @staticmethod
    def of(node: Any) -> Leaf:
        if isinstance(node, dict) and set(node) == {SECRET}:
            return Leaf(True, "")
        return Leaf(False, json.dumps(node, sort_keys=True, default=str))


def _segment(key: str) -> str:
    return f".{key}" if key.replace("_", "").replace("-", "").isalnum() else f"[{json.dumps(key)}]"


def leaves(node: Any, path: str) -> Iterator[tuple[str, Leaf]]:
    """Every key path of a definition with its leaf; a secret or an `fn::` call is one leaf."""
    if isinstance(node, dict) and node and not any(str(key).startswith("fn::") for key in node):
        for key, value in node.items():
            yield from leaves(value, path + _segment(str(key)))
    else:
        yield path, Leaf.of(node)


def compare(repo: dict[str, Any], stored: dict[str, Any]) -> list[str]:
    """Drift lines (`+`, `-`, `~` and a key path), no values."""
    lines = []
    if list(repo.get("imports") or []) != list(stored.get("imports") or []):
        lines.append("~ imports")
    ours = dict(leaves(repo.get("values") or {}, "values"))
    theirs = dict(leaves(stored.get("values") or {}, "values"))
    for path in sorted(set(ours) | set(theirs)):
        if path not in ours:
            lines.append(f"+ {path}")
        elif path not in theirs:
            lines.append(f"- {path}")
        elif ours[path].secret != theirs[path].secret:
            lines.append(f"~ {path} (secret on one side only)")
        elif ours[path] != theirs[path]:
            lines.append(f"~ {path}")
    return lines


def _read_definition(path: Path) -> dict[str, Any]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise BadInput(f"{path}: cannot be read ({error.strerror})") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise BadInput(f"{path}{where}: not valid YAML ({getattr(error, 'problem', error)})") from None
    if not isinstance(document, dict) or not isinstance(document.get("values", {}), dict):
        raise BadInput(f"{path}: not an ESC environment definition (a mapping with `values`)")
    return document


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--org", required=True, help="Pulumi organization that holds the environments")
    parser.add_argument("--env", action="append", help="environment name (esc/<name>.yaml); default: all")
    parser.add_argument("--esc-dir", type=Path, default=ESC_DIR, help="definitions folder (default: esc/)")
    parser.add_argument("--check", action="store_true", help="exit 1 when any environment drifted")
    args = parser.parse_args(argv)

    try:
        available = sorted(path.stem for path in args.esc_dir.glob("*.yaml"))
        names = args.env or available
        unknown = sorted(set(names) - set(available))
        if unknown:
            raise BadInput(f"--env {', '.join(unknown)}: no such definition in {args.esc_dir} ({', '.join(available)})")
        definitions = {name: _read_definition(args.esc_dir / f"{name}.yaml") for name in names}
        esc_client = client()
        drifted = False
        for name, repo in definitions.items():
            target = f"{PROJECT}/{name}"
            stored = stored_definition(esc_client, args.org, PROJECT, name)
            if stored is None:
                print(f"{target}: missing in ESC (create it from esc/{name}.yaml, see docs/deploy.md)")
                drifted = True
                continue
            lines = compare(repo, stored)
            drifted = drifted or bool(lines)
            count = sum(1 for _ in leaves(repo.get("values") or {}, "values"))
            print(f"{target}: {'drift' if lines else 'in sync'} ({count} keys compared)")
            for line in lines:
                print(f"  {line}")
    except (BadInput, EscError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 1 if drifted and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
