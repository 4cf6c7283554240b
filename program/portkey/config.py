"""``PortkeyConfig``: a saved config in the stack's workspace (Terraform: ``portkey_config``).

Its body is the generated ``portkey/<task>.json``; a changed file updates the config in place (a new
version under the same slug, so clients keep sending the same ``x-portkey-config``). Portkey
generates the slug (``pc-…``) on create: it is an output, exported by the stack and published in the
ESC app environment. A saved config is what arms the hosted gateway's circuit breaker (``cb_config``
applies to configs that carry an id).

Portkey has no client-chosen identity for configs, so the name is the identity: this stack names
its configs ``llm-gateway-<env>-<task>``, looks them up by that name before a create and after a
create whose answer was lost, and adopts the one it finds (its body is then written as for an update).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import pulumi
import pulumi.dynamic

from program.portkey.api import AdminSession, json_object, model_dict
from program.portkey.base import BASE_URL, CreateResult, PortkeyResourceProvider, UpdateResult

ACTIVE = "active"


class ConfigResourceProvider(PortkeyResourceProvider):
    kind = "config"
    inputs: ClassVar[tuple[str, ...]] = (BASE_URL, "workspace_id", "name", "config")
    replace_on: ClassVar[tuple[str, ...]] = (BASE_URL, "workspace_id")

    def label(self, props: dict[str, Any]) -> str:
        return f"'{props['name']}'"

    def observe(self, id_: str, props: dict[str, Any]) -> dict[str, Any] | None:
        found = self.session(props, f"'{props['name']}' ({id_})").get_or_none(
            "read", lambda client: client.configs.retrieve(slug=id_)
        )
        if found is None:
            return None
        data = model_dict(found)
        if (data.get("status") or ACTIVE) != ACTIVE:  # deleting a config archives it
            return None
        return {
            "slug": data.get("slug") or id_,
            "name": data.get("name"),
            "config": json_object(data.get("config")),
            "portkey_id": data.get("id"),
            "version_id": data.get("version_id"),
        }

    def _find_by_name(self, session: AdminSession, props: dict[str, Any]) -> str | None:
        listing = session.call("look up", lambda client: client.configs.list(workspace_id=props["workspace_id"]))
        for entry in model_dict(listing).get("data") or []:
            if entry.get("name") == props["name"] and (entry.get("status") or ACTIVE) == ACTIVE:
                return str(entry["slug"])
        return None

    def _write(self, session: AdminSession, action: str, slug: str, props: dict[str, Any]) -> None:
        session.call(
            action, lambda client: client.configs.update(slug=slug, name=props["name"], config=props["config"])
        )

    def create(self, props: dict[str, Any]) -> CreateResult:
        session = self.session(props, self.label(props))
        slug = self._find_by_name(session, props)
        if slug is not None:
            self._write(session, "adopt", slug, props)
        else:
            slug = session.create_once(
                lambda client: str(
                    client.configs.create(
                        name=props["name"], config=props["config"], workspace_id=props["workspace_id"]
                    ).slug
                ),
                find=lambda: self._find_by_name(session, props),
            )
        return CreateResult(id_=slug, outs=self.settled_state(slug, props, "create"))

    def update(self, id_: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        self._write(self.session(news, self.label(news)), "update", id_, news)
        return UpdateResult(outs=self.settled_state(id_, news, "update"))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        self.session(props, f"'{props['name']}' ({id_})").delete(lambda client: client.configs.delete(slug=id_))


@dataclass(frozen=True)
class PortkeyConfigArgs:
    """Arguments of :class:`PortkeyConfig`."""

    base_url: str
    workspace_id: str
    name: str
    config: dict[str, Any]  # the generated portkey/<task>.json, as data


class PortkeyConfig(pulumi.dynamic.Resource, module="portkey", name="Config"):
    """A saved Portkey config; ``slug`` is what a client sends as ``x-portkey-config``."""

    slug: pulumi.Output[str]
    version_id: pulumi.Output[str]
    portkey_id: pulumi.Output[str]

    def __init__(self, name: str, args: PortkeyConfigArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        props = {
            BASE_URL: args.base_url,
            "workspace_id": args.workspace_id,
            "name": args.name,
            "config": args.config,
            "slug": None,
            "version_id": None,
            "portkey_id": None,
        }
        super().__init__(ConfigResourceProvider(), name, props, opts)
