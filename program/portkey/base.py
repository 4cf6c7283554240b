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


__all__ = [
    "BASE_URL",
    "CreateResult",
    "DiffResult",
    "PortkeyResourceProvider",
    "ReadResult",
    "UpdateResult",
    "canonical",
    "managed_marker",
]
