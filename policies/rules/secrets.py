"""Secret policies: no provider key, master key or password in a ConfigMap, a plain env var or a stack output.

Two complementary tests. By name: a variable or field named like a credential must come from a
Secret (``valueFrom.secretKeyRef``; in the generated configs, ``os.environ/<VAR>``). By value: the
stack's own secret values (Secret data, generated passwords, the keys handed to Portkey and ESC)
must not appear anywhere else, and nothing may look like a well-known credential format.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import yaml

from policies.model import (
    CONFIG_MAP,
    SECRET,
    STACK_TYPE,
    Resource,
    Violation,
    containers,
    get,
    is_list,
    is_workload,
    items,
    secret_entries,
)

# Words of a variable name that make it a credential (LLM_GATEWAY_APP_KEY_CHAT, STATE_REDIS_PASSWORD).
SECRET_NAME_WORDS = frozenset({"KEY", "APIKEY", "PASSWORD", "PASSWD", "SECRET", "TOKEN"})
# Words of a stack output's name (lower case, letters only) that make it a credential.
SECRET_OUTPUT_WORDS = ("apikey", "masterkey", "password", "privatekey", "token", "secretkey")
# Field names in a generated config that hold a credential.
SECRET_FIELDS = frozenset({"api_key", "master_key", "password", "redis_password", "secret", "token", "private_key"})
# Well-known credential shapes: OpenAI/Anthropic/OpenRouter keys, AWS access key ids, a PEM private key.
CREDENTIAL_PATTERN = re.compile(
    r"\bsk-(?:ant-|or-|proj-)?[A-Za-z0-9_-]{16,}|\bAKIA[0-9A-Z]{16}\b|-----BEGIN [A-Z ]*PRIVATE KEY-----"
)
# How the generated configs name a secret they read from the environment.
ENV_REFERENCE = re.compile(r"^os\.environ/[A-Z0-9_]+$")
# Secret values shorter than this, or with whitespace (an ACL file, a config), are not searched for
# whole: they would match ordinary text by accident.
MIN_SECRET_LENGTH = 12
# Where the program's dynamic resources carry a secret input.
SECRET_INPUTS: dict[str, tuple[str, ...]] = {
    "random:index/randomPassword:RandomPassword": ("result",),
    "pulumi-python:dynamic/portkey:Integration": ("key",),
    "pulumi-python:dynamic/esc:CredentialEnvironment": ("value",),
}


def _name_is_secret(name: str) -> bool:
    words = re.split(r"[^A-Za-z0-9]+|(?<=[a-z])(?=[A-Z])", name)
    return any(word.upper() in SECRET_NAME_WORDS for word in words if word)


def _searchable(value: Any) -> bool:
    return isinstance(value, str) and len(value) >= MIN_SECRET_LENGTH and not any(char.isspace() for char in value)


def secret_values(resources: Sequence[Resource]) -> dict[str, str]:
    """Every secret value the stack holds (value → where it belongs), for the by-value search."""
    found: dict[str, str] = {}
    for resource in resources:
        if resource.type == SECRET:
            for key, value in secret_entries(resource).items():
                # An ACL file's plaintext passwords are its `>password` rules.
                for word in value.split():
                    if word.startswith(">") and _searchable(word[1:]):
                        found.setdefault(word[1:], f"Secret {resource.kube_name} {key}")
                if _searchable(value):
                    found.setdefault(value, f"Secret {resource.kube_name} {key}")
        for field in SECRET_INPUTS.get(resource.type, ()):
            secret_input = resource.props.get(field)
            if _searchable(secret_input):
                found.setdefault(str(secret_input), f"{resource.display} {field}")
    return found


def _strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(key path, string) of every string in a nested value."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}" if path else str(key))
    elif is_list(value):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]")
    elif isinstance(value, str):
        yield path, value


def _leaks(text: str, known: Mapping[str, str]) -> str | None:
    """Why ``text`` holds a secret (a known secret value, or a credential's shape), or None."""
    for value, owner in known.items():
        if value in text:
            return f"the value of {owner}"
    if CREDENTIAL_PATTERN.search(text):
        return "a credential-shaped value"
    return None


def _parsed(text: str) -> Any:
    for parse in (json.loads, yaml.safe_load):
        try:
            return parse(text)
        except (ValueError, yaml.YAMLError):
            continue
    return None


def _plain_secret_fields(document: Any) -> Iterator[str]:
    """Key paths of credential fields in a config document that hold a literal instead of an env reference."""
    for path, value in _strings(document):
        field = path.rsplit(".", 1)[-1].split("[", 1)[0]
        if field in SECRET_FIELDS and value and not ENV_REFERENCE.match(value):
            yield path


def no_secret_in_config_map(resources: Sequence[Resource], config: Mapping[str, Any]) -> Iterator[Violation]:
    """No ConfigMap holds a credential: no key named like one, no literal in a config's credential
    fields (``api_key``, ``master_key``, ``password``: ``os.environ/<VAR>`` only), no secret value."""
    known = secret_values(resources)
    fix = (
        "fix: keep it in a Secret and reference it (os.environ/<VAR> in the generated config, secretKeyRef in the pod)"
    )
    for config_map in (resource for resource in resources if resource.type == CONFIG_MAP):
        for key, text in (config_map.props.get("data") or {}).items():
            where = f"{config_map.display} data[{key!r}]"
            if _name_is_secret(str(key).rsplit(".", 1)[0]):
                yield Violation(f"{where} is named like a credential; {fix}", config_map)
            leak = _leaks(str(text), known)
            if leak:
                yield Violation(f"{where} holds {leak}; {fix}", config_map)
            for path in _plain_secret_fields(_parsed(str(text))):
                yield Violation(f"{where}: {path} is a literal, not an environment reference; {fix}", config_map)


def no_secret_in_plain_env(resources: Sequence[Resource], config: Mapping[str, Any]) -> Iterator[Violation]:
    """No container gets a credential as a plain ``value``: variables named like one come from a
    Secret (``valueFrom.secretKeyRef``), and no plain value holds a secret or a URL with a password."""
    known = secret_values(resources)
    for workload in (resource for resource in resources if is_workload(resource)):
        for container in containers(workload, init=True):
            for entry in items(container.get("env")):
                name, value = str(get(entry, "name")), get(entry, "value")
                if value is None or value == "":
                    continue
                where = f"{workload.display}: container {container.get('name')!r} env {name}"
                fix = f"fix: set {name} from a Secret (valueFrom.secretKeyRef), never as a plain value"
                if _name_is_secret(name):
                    yield Violation(f"{where} is a credential given as a plain value; {fix}", workload)
                    continue
                leak = _leaks(str(value), known)
                # A URL's password may only be an interpolated variable: redis://user:$(PASSWORD)@host.
                userinfo = re.match(r"^[a-z][a-z0-9+.-]*://[^/@:]*:([^@/]+)@", str(value))
                if leak or (userinfo and not re.fullmatch(r"\$\([A-Z0-9_]+\)", userinfo.group(1))):
                    yield Violation(f"{where} holds {leak or 'a password in a URL'}; {fix}", workload)


def no_secret_in_stack_output(resources: Sequence[Resource], config: Mapping[str, Any]) -> Iterator[Violation]:
    """No stack output carries a credential (outputs are readable by everyone with stack access, and
    secret-marked outputs still leave the stack): none named like one, none holding a secret value."""
    known = secret_values(resources)
    for stack in (resource for resource in resources if resource.type == STACK_TYPE):
        for name, value in stack.props.items():
            fix = f"fix: export where the secret lives (a Secret's name, an ESC path), not the secret; drop {name!r}"
            compact = re.sub(r"[^a-z]", "", str(name).lower())
            named = any(word in compact for word in SECRET_OUTPUT_WORDS)
            if named and value not in (None, "", {}, []):
                yield Violation(f"stack output {name!r} is named like a credential; {fix}", stack)
                continue
            for path, text in _strings(value, str(name)):
                leak = _leaks(text, known)
                if leak:
                    yield Violation(f"stack output {path!r} holds {leak}; {fix}", stack)
