"""The pack's policies: each a name, a validator from the modules beside this one, and its config.

``build_policies`` turns them into the Pulumi Policy SDK's ``ResourceValidationPolicy`` /
``StackValidationPolicy`` objects, whose ``validate`` adapts the engine's arguments to the pure
validators; ``policies/__main__.py`` hands the same list to ``PolicyPack`` and
``python -m policies.report`` calls it on the mocked graph.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

from pulumi_policy import (
    Policy,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from policies.facts import committed_portkey_configs, tested_image_tags
from policies.model import Resource, Violation
from policies.rules import gateway, observability, portkey_esc, redis, routing, secrets, snowflake

PACK_NAME = "llm-gateway"
ResourceValidator = Callable[[Resource, Mapping[str, Any]], Iterable[str]]
StackValidator = Callable[[Sequence[Resource], Mapping[str, Any]], Iterable[Violation]]


@dataclass(frozen=True)
class PolicySpec:
    """One policy: its name, what it checks, its validator and its config properties (JSON schema)."""

    name: str
    description: str
    scope: Literal["resource", "stack"]
    validator: Callable[..., Iterable[Any]]
    config: Mapping[str, Mapping[str, Any]]


def _spec(
    name: str, scope: Literal["resource", "stack"], validator: Callable[..., Iterable[Any]], **config: Any
) -> PolicySpec:
    # The description is the validator's docstring, so the doc, the report and the code say one thing.
    target = validator.func if isinstance(validator, partial) else validator
    description = " ".join((target.__doc__ or name).split())
    return PolicySpec(name, description, scope, validator, config)


def _integers() -> dict[str, Any]:
    return {"type": "integer", "minimum": 0}


def policy_specs() -> list[PolicySpec]:
    """Every policy of the pack, in the order the report lists them."""
    tested_tags = tested_image_tags()
    committed = committed_portkey_configs()
    strings = {"type": "array", "items": {"type": "string"}}
    return [
        _spec("gateway-replicas-and-pdb", "stack", gateway.gateway_replicas_and_pdb,
              minReplicas=_integers(), requirePdb={"type": "boolean"}),
        _spec("workload-requests-and-limits", "resource", gateway.requests_and_limits),
        _spec("workload-probes", "resource", gateway.probes),
        _spec("workload-non-root", "resource", gateway.non_root),
        _spec("workload-read-only-root-filesystem", "resource", gateway.read_only_root_filesystem),
        _spec("image-no-latest", "resource", gateway.no_latest_image),
        _spec("image-pinned-by-digest", "resource", gateway.images_pinned_by_digest),
        _spec("gateway-tested-runtime-version", "resource",
              partial(gateway.gateway_tested_version, tested_tags=tested_tags)),
        _spec("portkey-engine-headless", "resource", gateway.portkey_headless),
        _spec("portkey-trusted-hosts-bounded", "stack", gateway.portkey_trusted_hosts),
        _spec("serviceaccount-token-automount-off", "resource", gateway.service_account_token_off, needsToken=strings),
        _spec("egress-bounded", "resource", gateway.egress_bounded,
              publicPorts={"type": "array", "items": {"type": "integer"}}),
        _spec("redis-auth-required", "stack", redis.redis_auth),
        _spec("redis-not-exposed", "resource", redis.redis_not_exposed),
        _spec("redis-persistence", "stack", redis.redis_persistence, persistentComponents=strings),
        _spec("no-secret-in-configmap", "stack", secrets.no_secret_in_config_map),
        _spec("no-secret-in-plain-env", "stack", secrets.no_secret_in_plain_env),
        _spec("no-secret-in-stack-output", "stack", secrets.no_secret_in_stack_output),
        _spec("routing-tier1-fallback", "stack", routing.tier1_fallback,
              tiers=strings, minProviders=_integers()),
        _spec("routing-own-providers-only", "stack", routing.own_providers_only, providerPrefixes=strings),
        _spec("routing-retries-within-latency-slo", "stack", routing.retries_within_latency_slo,
              p95LatencySeconds={"type": "number", "exclusiveMinimum": 0}),
        _spec("routing-semantic-threshold", "stack", routing.semantic_threshold,
              min={"type": "number"}, max={"type": "number"}),
        _spec("routing-experiment-share", "stack", routing.experiment_share,
              maxPercent={"type": "number", "minimum": 0, "maximum": 100}),
        _spec("portkey-provider-usage-limits", "resource", portkey_esc.provider_usage_limits),
        _spec("portkey-saved-config-matches-committed", "resource",
              partial(portkey_esc.saved_config_matches_committed, committed=committed)),
        _spec("esc-no-plaintext-secret", "resource", portkey_esc.esc_no_plaintext_secret),
        _spec("snowflake-warehouse-guarded", "stack", snowflake.warehouse_guarded,
              maxAutoSuspendSeconds=_integers()),
        _spec("snowflake-no-admin-role-grant", "resource", snowflake.no_admin_role_grant),
        _spec("alert-runbook-url", "resource", observability.alert_runbook),
        _spec("environment-alert-coverage", "stack", observability.environment_alert_coverage),
    ]  # fmt: skip


def _resource_validate(validator: ResourceValidator) -> Callable[[ResourceValidationArgs, ReportViolation], None]:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        resource = Resource(args.resource_type, args.name, args.props, args.urn)
        for message in validator(resource, args.get_config() or {}):
            report_violation(message, args.urn)

    return validate


def _stack_validate(validator: StackValidator) -> Callable[[StackValidationArgs, ReportViolation], None]:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        resources = [Resource(r.resource_type, r.name, r.props, r.urn) for r in args.resources]
        for violation in validator(resources, args.get_config() or {}):
            report_violation(violation.message, violation.resource.urn if violation.resource else None)

    return validate


def to_policy(spec: PolicySpec) -> Policy:
    """The SDK's policy object for a spec (no enforcement level: the pack's default or its config decides)."""
    properties = {key: dict(value) for key, value in spec.config.items()}
    schema = PolicyConfigSchema(properties=properties) if properties else None
    if spec.scope == "resource":
        return ResourceValidationPolicy(
            spec.name, spec.description, validate=_resource_validate(spec.validator), config_schema=schema
        )
    return StackValidationPolicy(
        spec.name, spec.description, validate=_stack_validate(spec.validator), config_schema=schema
    )


def build_policies() -> list[Policy]:
    return [to_policy(spec) for spec in policy_specs()]
