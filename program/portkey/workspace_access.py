"""``PortkeyIntegrationWorkspaceAccess``: an integration enabled for one workspace
(Terraform: ``portkey_integration_workspace_access``).

A workspace provider can only be created on an integration enabled for its workspace. Enabling it
sends ``create_default_provider: false``: Portkey would otherwise create an extra, unmanaged
provider next to the ones the spec names. Deleting the access disables it (``enabled: false``).
A refresh that finds the access disabled reports ``enabled: false`` as drift; ``pulumi up``
enables it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import pulumi
import pulumi.dynamic
from portkey_ai.api_resources.utils import GenericResponse

from program.portkey.api import AdminSession, model_dict
from program.portkey.base import BASE_URL, CreateResult, PortkeyResourceProvider, UpdateResult


class WorkspaceAccessResourceProvider(PortkeyResourceProvider):
    kind = "integration workspace access"
    inputs: ClassVar[tuple[str, ...]] = (BASE_URL, "integration_slug", "workspace_id", "enabled")
    replace_on: ClassVar[tuple[str, ...]] = (BASE_URL, "integration_slug", "workspace_id")

    def label(self, props: dict[str, Any]) -> str:
        return f"'{props['integration_slug']}' in workspace '{props['workspace_id']}'"

    def observe(self, _id: str, props: dict[str, Any]) -> dict[str, Any] | None:
        slug, workspace = props["integration_slug"], props["workspace_id"]
        # Read untyped: the SDK's model types each entry's `usage_limits` as an object, while the API
        # answers an array (OpenAPI `IntegrationWorkspace`), which fails the SDK's validation.
        found = self.session(props, self.label(props)).get_or_none(
            "read", lambda client: client.get(path=f"/integrations/{slug}/workspaces", cast_to=GenericResponse)
        )
        if found is None:
            return None  # the integration itself is gone
        entries = model_dict(found).get("workspaces") or []
        entry = next((entry for entry in entries if isinstance(entry, dict) and entry.get("id") == workspace), None)
        return {"enabled": bool(entry and entry.get("enabled"))}

    def _set(self, session: AdminSession, action: str, props: dict[str, Any], enabled: bool) -> None:
        session.call(
            action,
            lambda client: client.integrations.workspaces.update(
                slug=props["integration_slug"],
                workspaces=[{"id": props["workspace_id"], "enabled": enabled, "create_default_provider": False}],
                create_default_provider=False,
            ),
        )

    def create(self, props: dict[str, Any]) -> CreateResult:
        # Enabling is idempotent (a PUT): a lost answer is simply sent again.
        self._set(self.session(props, self.label(props)), "create", props, True)
        id_ = f"{props['integration_slug']}/{props['workspace_id']}"
        return CreateResult(id_=id_, outs=self.settled_state(id_, props, "create"))

    def update(self, id_: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        self._set(self.session(news, self.label(news)), "update", news, bool(news["enabled"]))
        return UpdateResult(outs=self.settled_state(id_, news, "update"))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        session = self.session(props, self.label(props))
        session.get_or_none(
            "delete",
            lambda client: client.integrations.workspaces.update(
                slug=props["integration_slug"], workspaces=[{"id": props["workspace_id"], "enabled": False}]
            ),
        )


@dataclass(frozen=True)
class PortkeyIntegrationWorkspaceAccessArgs:
    """Arguments of :class:`PortkeyIntegrationWorkspaceAccess`."""

    base_url: str
    integration_slug: pulumi.Input[str]
    workspace_id: str


class PortkeyIntegrationWorkspaceAccess(pulumi.dynamic.Resource, module="portkey", name="IntegrationWorkspaceAccess"):
    """An integration enabled for the stack's workspace (without Portkey's default provider)."""

    enabled: pulumi.Output[bool]

    def __init__(
        self, name: str, args: PortkeyIntegrationWorkspaceAccessArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        props = {
            BASE_URL: args.base_url,
            "integration_slug": args.integration_slug,
            "workspace_id": args.workspace_id,
            "enabled": True,
        }
        super().__init__(WorkspaceAccessResourceProvider(), name, props, opts)
