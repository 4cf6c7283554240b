"""``PortkeyProvider``: a Model Catalog provider in the stack's workspace (Terraform: ``portkey_provider``).

Its fixed slug is what the generated configs name (``@<slug>/<model>``), so the configs are correct
before the provider exists. It sits on one integration (the environment's key for one AI provider)
and carries the limits the hosted gateway enforces on it: a monthly credit limit with an alert
threshold (``usage_limits``, from routing.json's ``credit_limit_usd_monthly``) and an optional rate
limit (the spec's ``rate_limit``). Both update in place; a changed slug, workspace or integration
replaces the provider (deleted first: the slug is unique in the workspace).

A slug that already exists in the workspace but not in the state is adopted when it is this
stack's (same integration, this stack's ``managed-by`` marker in its note); otherwise the create
stops with a message naming the slug.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import pulumi
import pulumi.dynamic

from program.portkey.api import AdminSession, model_dict
from program.portkey.base import BASE_URL, FixedSlugResourceProvider

# The fields of Portkey's `usage_limits` / `rate_limits` objects this program sets; Portkey's answers
# carry more (usage so far, reset dates), which are not drift.
USAGE_LIMIT_FIELDS = ("credit_limit", "type", "alert_threshold", "periodic_reset")
RATE_LIMIT_FIELDS = ("type", "unit", "value")


def _only(value: Any, fields: tuple[str, ...]) -> dict[str, Any] | None:
    if isinstance(value, list):  # Portkey answers rate limits as an array of objects
        value = value[0] if value else None
    if not isinstance(value, dict) or not value:
        return None
    return {field: value.get(field) for field in fields if value.get(field) is not None}


class ProviderResourceProvider(FixedSlugResourceProvider):
    kind = "provider"
    inputs: ClassVar[tuple[str, ...]] = (
        BASE_URL,
        "workspace_id",
        "slug",
        "name",
        "integration_id",
        "note",
        "managed_by",
        "usage_limits",
        "rate_limits",
    )
    replace_on: ClassVar[tuple[str, ...]] = (BASE_URL, "workspace_id", "slug", "integration_id")
    owner_field = "integration_id"
    marker_field = "note"

    def label(self, props: dict[str, Any]) -> str:
        return f"'@{props['slug']}'"

    def observe(self, id_: str, props: dict[str, Any]) -> dict[str, Any] | None:
        workspace = props["workspace_id"]
        found = self.session(props, f"'@{id_}'").get_or_none(
            "read", lambda client: client.providers.retrieve(slug=id_, workspace_id=workspace)
        )
        if found is None:
            return None
        data = model_dict(found)
        return {
            "slug": data.get("slug") or id_,
            "name": data.get("name"),
            "integration_id": data.get("integration_id"),
            "note": data.get("note") or "",
            "usage_limits": _only(data.get("usage_limits"), USAGE_LIMIT_FIELDS),
            "rate_limits": _only(data.get("rate_limits"), RATE_LIMIT_FIELDS),
            "portkey_id": data.get("id"),
            "status": data.get("status"),
        }

    def where(self, props: dict[str, Any]) -> str:
        return f"in workspace '{props['workspace_id']}'"

    def post(self, client: Any, props: dict[str, Any]) -> Any:
        limits = {key: props[key] for key in ("usage_limits", "rate_limits") if props.get(key) is not None}
        return client.providers.create(
            name=props["name"],
            integration_id=props["integration_id"],
            workspace_id=props["workspace_id"],
            slug=props["slug"],
            note=props["note"],
            **limits,
        )

    def write(self, session: AdminSession, action: str, props: dict[str, Any]) -> None:
        # None (JSON null) removes a limit the spec no longer sets.
        session.call(
            action,
            lambda client: client.providers.update(
                slug=props["slug"],
                workspace_id=props["workspace_id"],
                name=props["name"],
                note=props["note"],
                usage_limits=props["usage_limits"],
                rate_limits=props["rate_limits"],
            ),
        )

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        workspace = props["workspace_id"]
        session = self.session(props, f"'@{id_}'")
        session.delete(lambda client: client.providers.delete(slug=id_, workspace_id=workspace))


@dataclass(frozen=True)
class UsageLimits:
    """Portkey's `usage_limits` on a provider: a monthly cost ceiling in whole USD and its alert level."""

    credit_limit: int
    alert_threshold: int | None

    def as_api(self) -> dict[str, Any]:
        limits: dict[str, Any] = {"credit_limit": self.credit_limit, "type": "cost", "periodic_reset": "monthly"}
        if self.alert_threshold is not None:
            limits["alert_threshold"] = self.alert_threshold
        return limits


@dataclass(frozen=True)
class PortkeyProviderArgs:
    """Arguments of :class:`PortkeyProvider`."""

    base_url: str
    workspace_id: str
    slug: str
    name: str
    integration_id: pulumi.Input[str]  # the integration's slug
    note: str
    managed_by: str
    usage_limits: UsageLimits | None
    # Portkey's own shape: {"type": "requests"|"tokens", "unit": "rpm"|"rph"|"rpd", "value": n}
    rate_limits: dict[str, Any] | None


class PortkeyProvider(pulumi.dynamic.Resource, module="portkey", name="Provider"):
    """A workspace provider with a fixed slug, its budget and its rate limit."""

    slug: pulumi.Output[str]
    portkey_id: pulumi.Output[str]
    status: pulumi.Output[str]

    def __init__(self, name: str, args: PortkeyProviderArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        props = {
            BASE_URL: args.base_url,
            "workspace_id": args.workspace_id,
            "slug": args.slug,
            "name": args.name,
            "integration_id": args.integration_id,
            "note": args.note,
            "managed_by": args.managed_by,
            "usage_limits": args.usage_limits.as_api() if args.usage_limits else None,
            "rate_limits": args.rate_limits,
            "portkey_id": None,
            "status": None,
        }
        super().__init__(ProviderResourceProvider(), name, props, opts)
