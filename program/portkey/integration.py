"""``PortkeyIntegration``: an organisation-level credential for one AI provider (Terraform: ``portkey_integration``).

The key comes from ESC as a secret input and stays secret in the state (the engine re-marks the
``key`` output as secret, and the resource lists it in ``additional_secret_outputs`` too). Portkey
never returns a key (only a masked form, which is not kept), so key drift cannot be read back: a
rotation is a new key in ESC, which changes the input, and ``pulumi up`` updates the integration in
place (``PUT /integrations/{slug}`` with the new key); providers and configs that reference the
slug are untouched.

Identity is the fixed slug (``llm-gateway-<env>-<provider>``, from routing.json). A slug that
already exists in Portkey but not in this stack's state is *adopted* when it is provably this
stack's (same AI provider, and this stack's ``managed-by`` marker in its description): the key,
name and description are then written as for an update. Any other holder of the slug stops the
create with a message naming the slug and the two ways out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import pulumi
import pulumi.dynamic

from program.portkey.api import AdminSession, model_dict
from program.portkey.base import BASE_URL, FixedSlugResourceProvider


class IntegrationResourceProvider(FixedSlugResourceProvider):
    kind = "integration"
    inputs: ClassVar[tuple[str, ...]] = (BASE_URL, "slug", "name", "ai_provider_id", "key", "description", "managed_by")
    replace_on: ClassVar[tuple[str, ...]] = (BASE_URL, "slug", "ai_provider_id")
    owner_field = "ai_provider_id"
    marker_field = "description"

    def label(self, props: dict[str, Any]) -> str:
        return f"'{props['slug']}'"

    def observe(self, id_: str, props: dict[str, Any]) -> dict[str, Any] | None:
        session = self.session(props, f"'{id_}'")
        found = session.get_or_none("read", lambda client: client.integrations.retrieve(slug=id_))
        if found is None:
            return None
        data = model_dict(found)
        # `masked_key` is deliberately not kept: even a masked key says something about the secret.
        return {
            "slug": data.get("slug") or id_,
            "name": data.get("name"),
            "ai_provider_id": data.get("ai_provider_id"),
            "description": data.get("description") or "",
            "portkey_id": data.get("id"),
            "status": data.get("status"),
        }

    def post(self, client: Any, props: dict[str, Any]) -> Any:
        return client.integrations.create(
            slug=props["slug"],
            name=props["name"],
            ai_provider_id=props["ai_provider_id"],
            key=props["key"],
            description=props["description"],
        )

    def write(self, session: AdminSession, action: str, props: dict[str, Any]) -> None:
        session.call(
            action,
            lambda client: client.integrations.update(
                slug=props["slug"], name=props["name"], key=props["key"], description=props["description"]
            ),
        )

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        self.session(props, f"'{id_}'").delete(lambda client: client.integrations.delete(slug=id_))


@dataclass(frozen=True)
class PortkeyIntegrationArgs:
    """Arguments of :class:`PortkeyIntegration`."""

    base_url: str
    slug: str
    name: str
    ai_provider_id: str
    key: pulumi.Input[str]  # a secret Output from ESC
    description: str
    # This stack's marker (`pulumi <project>/<stack>`): adoption of an existing slug requires it.
    managed_by: str


class PortkeyIntegration(pulumi.dynamic.Resource, module="portkey", name="Integration"):
    """An organisation-level Portkey integration holding one provider key."""

    slug: pulumi.Output[str]
    portkey_id: pulumi.Output[str]
    status: pulumi.Output[str]

    def __init__(self, name: str, args: PortkeyIntegrationArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        props = {
            BASE_URL: args.base_url,
            "slug": args.slug,
            "name": args.name,
            "ai_provider_id": args.ai_provider_id,
            "key": pulumi.Output.secret(args.key),
            "description": args.description,
            "managed_by": args.managed_by,
            "portkey_id": None,
            "status": None,
        }
        secret = pulumi.ResourceOptions(additional_secret_outputs=["key"])
        super().__init__(IntegrationResourceProvider(), name, props, pulumi.ResourceOptions.merge(opts, secret))
