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

from program.portkey.api import AdminSession, PortkeyApiError, model_dict
from program.portkey.base import BASE_URL, CreateResult, PortkeyResourceProvider, UpdateResult, managed_marker


class IntegrationResourceProvider(PortkeyResourceProvider):
    kind = "integration"
    inputs: ClassVar[tuple[str, ...]] = (BASE_URL, "slug", "name", "ai_provider_id", "key", "description", "managed_by")
    replace_on: ClassVar[tuple[str, ...]] = (BASE_URL, "slug", "ai_provider_id")
    delete_before_replace = True

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

    def _write(self, session: AdminSession, action: str, props: dict[str, Any]) -> None:
        session.call(
            action,
            lambda client: client.integrations.update(
                slug=props["slug"], name=props["name"], key=props["key"], description=props["description"]
            ),
        )

    def _adopt_or_stop(self, session: AdminSession, props: dict[str, Any]) -> None:
        existing = self.observe(props["slug"], props)
        if existing is None:
            raise PortkeyApiError(f"Portkey reported {session.resource} as existing but does not return it: retry")
        marker = managed_marker(props["managed_by"])
        if existing["ai_provider_id"] != props["ai_provider_id"] or marker not in existing["description"]:
            raise PortkeyApiError(
                f"{session.resource} already exists in Portkey and is not this stack's "
                f"(ai_provider_id {existing['ai_provider_id']!r}, no '{marker}' in its description): delete it "
                f"in Portkey, or add '{marker}' to its description to let pulumi up adopt it"
            )
        self._write(session, "adopt", props)

    def create(self, props: dict[str, Any]) -> CreateResult:
        slug = props["slug"]
        session = self.session(props, self.label(props))
        if self.observe(slug, props) is not None:
            self._adopt_or_stop(session, props)
        else:
            taken = False
            try:
                session.create_once(
                    lambda client: str(
                        client.integrations.create(
                            slug=slug,
                            name=props["name"],
                            ai_provider_id=props["ai_provider_id"],
                            key=props["key"],
                            description=props["description"],
                        ).slug
                        or slug
                    ),
                    find=lambda: slug if self.observe(slug, props) is not None else None,
                )
            except PortkeyApiError as error:
                if error.status != 409:
                    raise
                taken = True
            if taken:
                # Taken between the look-up and the create (or by a create whose answer was lost);
                # handled outside the `except`, so a refusal prints no 409 as its context.
                self._adopt_or_stop(session, props)
        return CreateResult(id_=slug, outs=self.settled_state(slug, props, "create"))

    def update(self, id_: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        self._write(self.session(news, self.label(news)), "update", news)
        return UpdateResult(outs=self.settled_state(id_, news, "update"))

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
