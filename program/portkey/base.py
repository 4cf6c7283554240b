"""What every Portkey dynamic provider shares: configure, diff, read-with-drift, pickling, outputs.

A dynamic provider instance is pickled (dill) into every resource's ``__provider`` input when the
program registers it, and unpickled by the dynamic-provider host (``python -m pulumi.dynamic``,
started in the project root) for each CRUD call. So an instance holds no client and no secret:
the admin API key arrives in :meth:`PortkeyResourceProvider.configure` (the host passes the whole
stack config, secrets decrypted) and :meth:`__getstate__` drops it should an instance ever be
pickled after configure. The classes live in importable modules (``program.portkey.*``), which
dill pickles by reference: the host imports them from the project root.

Each resource kind declares its inputs and which of them force a replacement (identity and
placement: slug, workspace, control plane); every other input updates in place. ``read`` merges what
Portkey reports into the state and returns it as the new inputs too, so ``pulumi refresh`` and
``pulumi preview --refresh`` show a field changed in Portkey's UI as drift, which the next
``pulumi up`` reverts.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from pulumi.dynamic import ConfigureRequest, CreateResult, DiffResult, ReadResult, ResourceProvider, UpdateResult
from pulumi.dynamic.dynamic import PROVIDER_KEY

from program.portkey.api import ADMIN_KEY_SETTING, AdminSession, PortkeyApiError

# Every resource records the control plane it lives on: `read` and `delete` reach the one that holds it
# even after llm-gateway:portkeyBaseUrl changes (a change of base URL replaces the resource).
BASE_URL = "base_url"


def canonical(value: Any) -> str:
    """A value as comparable text: dict order and int/float spelling (4000 vs 4000.0) do not count."""

    def normal(item: Any) -> Any:
        if isinstance(item, float) and item.is_integer():
            return int(item)
        if isinstance(item, dict):
            return {key: normal(entry) for key, entry in item.items()}
        if isinstance(item, list | tuple):
            return [normal(entry) for entry in item]
        return item

    return json.dumps(normal(value), sort_keys=True, default=str)


def managed_marker(managed_by: str) -> str:
    """The text a managed object's description (or note) carries; adoption requires it."""
    return f"managed-by: {managed_by}"


class PortkeyResourceProvider(ResourceProvider):
    """Base of the Portkey dynamic providers (one subclass per resource kind)."""

    # `__provider` holds no secret (nothing secret is captured): it stays a plain, diffable string.
    serialize_as_secret_always = False

    kind: ClassVar[str]
    # Every input property of the kind, and those among them whose change replaces the object.
    inputs: ClassVar[tuple[str, ...]]
    replace_on: ClassVar[tuple[str, ...]]
    # Objects with a fixed slug must be deleted before their replacement can take the slug.
    delete_before_replace: ClassVar[bool] = False

    def __init__(self) -> None:
        super().__init__()
        self._admin_key: str | None = None

    def __getstate__(self) -> dict[str, Any]:
        # Never pickle the admin key, whenever pickling happens.
        return {key: value for key, value in self.__dict__.items() if key != "_admin_key"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._admin_key = None

    def configure(self, req: ConfigureRequest) -> None:
        key = req.config.get(ADMIN_KEY_SETTING)
        self._admin_key = str(key) if key else None

    def session(self, props: dict[str, Any], label: str) -> AdminSession:
        return AdminSession(base_url=str(props[BASE_URL]), admin_key=self._admin_key, resource=f"{self.kind} {label}")

    # --- what each kind implements ----------------------------------------------------------------

    def label(self, props: dict[str, Any]) -> str:
        """How messages name the object, e.g. ``'llm-gateway-prod-openai'``."""
        raise NotImplementedError

    def observe(self, id_: str, props: dict[str, Any]) -> dict[str, Any] | None:
        """What Portkey holds for the object now, as properties; None if it is gone."""
        raise NotImplementedError

    # --- the engine's entry points -----------------------------------------------------------------

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = [key for key in self.replace_on if canonical(olds.get(key)) != canonical(news.get(key))]
        updates = [
            key
            for key in self.inputs
            if key not in self.replace_on and canonical(olds.get(key)) != canonical(news.get(key))
        ]
        return DiffResult(
            changes=bool(replaces or updates),
            replaces=replaces,
            delete_before_replace=self.delete_before_replace if replaces else None,
        )

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        observed = self.observe(id_, props)
        if observed is None:
            # An empty id tells the engine the object is gone (refresh drops it; up recreates it).
            return ReadResult(id_="", outs={})
        outs = {key: value for key, value in {**props, **observed}.items() if key != PROVIDER_KEY}
        return ReadResult(id_=id_, outs=outs, inputs={key: outs.get(key) for key in self.inputs})

    def settled_state(self, id_: str, props: dict[str, Any], action: str) -> dict[str, Any]:
        """The full state after a create or update: every input plus what Portkey reports (re-read, as
        Portkey's create and update answers carry little). The engine keeps only what is returned, and
        re-marks as secret every output named like a secret input (the integration's ``key``)."""
        observed = self.observe(id_, props)
        if observed is None:
            raise PortkeyApiError(
                f"Portkey acknowledged the {action} of {self.kind} {self.label(props)} but does not return it: "
                "run pulumi refresh, then pulumi up"
            )
        inputs = {key: value for key, value in props.items() if key != PROVIDER_KEY}
        return {**inputs, **observed}


class FixedSlugResourceProvider(PortkeyResourceProvider):
    """A kind whose identity is a slug the program chooses (integrations, providers).

    Create looks the slug up first. A slug that exists but is not in the state is adopted when it is
    provably this stack's: the same ``owner_field`` (AI provider, integration) and this stack's marker
    in its ``marker_field`` (description, note); the stack's values are then written as for an
    update. Anything else holding the slug stops the create with a message naming it. A 409 on the
    create itself (the slug was taken meanwhile, or by this create whose answer was lost) is the same
    case.
    """

    owner_field: ClassVar[str]
    marker_field: ClassVar[str]
    delete_before_replace = True

    def where(self, props: dict[str, Any]) -> str:
        """Where the slug is unique, for messages."""
        return "in Portkey"

    def post(self, client: Any, props: dict[str, Any]) -> Any:
        """The create request; its answer carries the slug."""
        raise NotImplementedError

    def write(self, session: AdminSession, action: str, props: dict[str, Any]) -> None:
        """Write every updatable field (an update, or the adoption of an existing object)."""
        raise NotImplementedError

    def _adopt_or_stop(self, session: AdminSession, props: dict[str, Any]) -> None:
        existing = self.observe(props["slug"], props)
        if existing is None:
            raise PortkeyApiError(f"Portkey reported {session.resource} as existing but does not return it: retry")
        marker = managed_marker(props["managed_by"])
        owner = existing[self.owner_field]
        if owner != props[self.owner_field] or marker not in existing[self.marker_field]:
            raise PortkeyApiError(
                f"{session.resource} already exists {self.where(props)} and is not this stack's "
                f"({self.owner_field} {owner!r}, no '{marker}' in its {self.marker_field}): delete it in "
                f"Portkey, or add '{marker}' to its {self.marker_field} to let pulumi up adopt it"
            )
        self.write(session, "adopt", props)

    def create(self, props: dict[str, Any]) -> CreateResult:
        slug = props["slug"]
        session = self.session(props, self.label(props))
        taken = self.observe(slug, props) is not None
        if not taken:
            try:
                session.create_once(
                    lambda client: str(self.post(client, props).slug or slug),
                    find=lambda: slug if self.observe(slug, props) is not None else None,
                )
            except PortkeyApiError as error:
                if error.status != 409:
                    raise
                taken = True
        if taken:
            # Outside the `except`: a refusal prints no 409 as its context.
            self._adopt_or_stop(session, props)
        return CreateResult(id_=slug, outs=self.settled_state(slug, props, "create"))

    def update(self, id_: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        self.write(self.session(news, self.label(news)), "update", news)
        return UpdateResult(outs=self.settled_state(id_, news, "update"))


__all__ = [
    "BASE_URL",
    "CreateResult",
    "DiffResult",
    "FixedSlugResourceProvider",
    "PortkeyResourceProvider",
    "ReadResult",
    "UpdateResult",
    "canonical",
    "managed_marker",
]
