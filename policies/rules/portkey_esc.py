"""Portkey and ESC policies: providers carry usage limits, saved configs are the committed files, and
no ESC environment the program writes holds a credential in plain text."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

import yaml

from policies.model import Resource, plain, text_of
from policies.rules.routing import PORTKEY_CONFIG, PORTKEY_PROVIDER
from policies.rules.secrets import CREDENTIAL_PATTERN

ESC_ENVIRONMENT = "pulumiservice:index:Environment"
# Keys of an ESC definition whose value is a credential (applicationKey, adminKey, password, token).
ESC_SECRET_KEY = re.compile(r"(key|password|passwd|secret|token|credential)s?$", re.IGNORECASE)
# ESC values that are references, not values: `${path}` interpolations.
ESC_INTERPOLATION = re.compile(r"^\$\{[^}]+\}$")


def provider_usage_limits(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    """Every Model Catalog provider has a monthly credit limit with an alert threshold below it (the
    hosted gateway stops spending there; a provider without one can spend without bound)."""
    if resource.type != PORTKEY_PROVIDER:
        return
    limits = resource.props.get("usage_limits")
    limits = limits if isinstance(limits, Mapping) else {}
    credit = limits.get("credit_limit")
    alert = limits.get("alert_threshold")
    fix = (
        "fix: give the environment a budget (environments.<env>.budgets in gateway_config/routing.yaml) so the "
        "provider gets a credit limit, then make generate"
    )
    if not isinstance(credit, int | float) or credit <= 0:
        yield f"{resource.display}: Portkey provider {resource.props.get('slug')!r} has no credit limit; {fix}"
        return
    if not isinstance(alert, int | float) or not 0 < alert <= credit:
        yield f"{resource.display}: credit limit {credit} has no alert threshold at or below it; {fix}"
    if limits.get("periodic_reset") not in ("monthly", "weekly"):
        reset = limits.get("periodic_reset")
        yield f"{resource.display}: the credit limit never resets (periodic_reset {reset!r}); {fix}"


def saved_config_matches_committed(
    resource: Resource, config: Mapping[str, Any], committed: Mapping[str, Mapping[str, Any]]
) -> Iterator[str]:
    """A saved Portkey config's body is exactly the committed
    gateway_config/generated/<env>/portkey/<task>.json (``committed``: saved-config name → that file)."""
    if resource.type != PORTKEY_CONFIG:
        return
    name = str(resource.props.get("name") or resource.name)
    body = resource.props.get("config")
    if isinstance(body, str):
        body = json.loads(body)
    expected = committed.get(name)
    fix = "fix: run make generate, commit gateway_config/generated/, and deploy from that tree"
    if expected is None:
        yield f"{resource.display}: saved config {name!r} has no committed portkey/<task>.json; {fix}"
    elif _canonical(body) != _canonical(expected):
        yield f"{resource.display}: saved config {name!r} differs from the committed generated file; {fix}"


def _canonical(value: Any) -> str:
    return json.dumps(_whole_numbers(plain(value)), sort_keys=True, separators=(",", ":"), default=str)


def _whole_numbers(value: Any) -> Any:
    # The engine hands numbers over as protobuf doubles (30000 arrives as 30000.0); the files hold ints.
    if isinstance(value, dict):
        return {key: _whole_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(item) for item in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _plain_credentials(node: Any, path: str) -> Iterator[str]:
    """Key paths in an ESC definition's values where a credential sits in plain text."""
    if isinstance(node, Mapping):
        if "fn::secret" in node:
            return
        for key, value in node.items():
            where = f"{path}.{key}"
            if isinstance(value, str):
                named = bool(ESC_SECRET_KEY.search(str(key))) and not ESC_INTERPOLATION.match(value)
                if value and (named or CREDENTIAL_PATTERN.search(value)):
                    yield where
            else:
                yield from _plain_credentials(value, where)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _plain_credentials(item, f"{path}[{index}]")


def esc_no_plaintext_secret(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    """An ESC environment the program writes holds no credential in plain text: a value named like
    a key, password or token is an ``fn::secret`` or a ``${…}`` reference to one."""
    if resource.type != ESC_ENVIRONMENT:
        return
    text = text_of(resource.props.get("yaml"))
    if text is None:
        return
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        yield f"{resource.display}: its definition is not valid YAML ({error}); fix: write it from data (safe_dump)"
        return
    values = document.get("values") if isinstance(document, Mapping) else None
    for where in _plain_credentials(values, "values"):
        yield (
            f"{resource.display} (ESC {resource.props.get('name')!r}): {where} is a credential in plain text; "
            "fix: wrap it in fn::secret (or import it from the credential environment) "
            "(components/app_environment.py)"
        )
