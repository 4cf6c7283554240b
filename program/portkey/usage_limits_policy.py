"""``PortkeyUsageLimitsPolicy``: a budget over a slice of the workspace's traffic
(Terraform: ``portkey_usage_limits_policy``).

The program creates one per environment (every request of the workspace: ``api_key: *`` grouped by
``workspace_id``) and one per task with a budget (``config: <the task's saved-config slug>``),
each a monthly cost limit with an alert threshold; an exhausted policy makes Portkey answer 412.
Name, limit and threshold update in place; conditions, grouping, type and reset period replace
the policy (as in Terraform).

The SDK has no policies client: the calls go through its generic ``get``/``post``/``put``/``delete``.
Policies have server-generated ids, so the name (``llm-gateway-<env>-…``) is the identity for look-ups
before a create and after a create whose answer was lost. A policy of that name whose conditions
differ is not adopted: the create stops and names it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import pulumi
import pulumi.dynamic
from portkey_ai.api_resources.utils import GenericResponse

from program.portkey.api import AdminSession, PortkeyApiError, model_dict
from program.portkey.base import BASE_URL, CreateResult, PortkeyResourceProvider, UpdateResult, canonical

PATH = "/policies/usage-limits"
IDENTITY = ("conditions", "group_by", "type", "periodic_reset")


class UsageLimitsPolicyResourceProvider(PortkeyResourceProvider):
    kind = "usage-limits policy"
    inputs: ClassVar[tuple[str, ...]] = (
        BASE_URL,
        "workspace_id",
        "name",
        "conditions",
        "group_by",
        "type",
        "periodic_reset",
        "credit_limit",
        "alert_threshold",
    )
    replace_on: ClassVar[tuple[str, ...]] = (BASE_URL, "workspace_id", *IDENTITY)

    def label(self, props: dict[str, Any]) -> str:
        return f"'{props['name']}'"

    @staticmethod
    def _fields(data: dict[str, Any]) -> dict[str, Any]:
        return {
            "name": data.get("name"),
            "conditions": [{"key": c.get("key"), "value": c.get("value")} for c in data.get("conditions") or []],
            "group_by": [{"key": g.get("key")} for g in data.get("group_by") or []],
            "type": data.get("type"),
            "periodic_reset": data.get("periodic_reset"),
            "credit_limit": data.get("credit_limit"),
            "alert_threshold": data.get("alert_threshold"),
        }

    def observe(self, id_: str, props: dict[str, Any]) -> dict[str, Any] | None:
        found = self.session(props, f"{self.label(props)} ({id_})").get_or_none(
            "read", lambda client: client.get(path=f"{PATH}/{id_}", cast_to=GenericResponse)
        )
        if found is None:
            return None
        data = model_dict(found)
        if data.get("status", "active") != "active":  # a deleted policy is archived
            return None
        return {**self._fields(data), "status": data.get("status"), "policy_id": data.get("id") or id_}

    def _find_by_name(self, session: AdminSession, props: dict[str, Any]) -> dict[str, Any] | None:
        workspace = props["workspace_id"]
        listing = session.call(
            "look up", lambda client: client.get(path=f"{PATH}?workspace_id={workspace}", cast_to=GenericResponse)
        )
        for entry in model_dict(listing).get("data") or []:
            if entry.get("name") == props["name"] and entry.get("status", "active") == "active":
                return dict(entry)
        return None

    def _write(self, session: AdminSession, action: str, id_: str, props: dict[str, Any]) -> None:
        body = {key: props[key] for key in ("name", "credit_limit", "alert_threshold")}
        session.call(action, lambda client: client.put(path=f"{PATH}/{id_}", body=body, cast_to=GenericResponse))

    def create(self, props: dict[str, Any]) -> CreateResult:
        session = self.session(props, self.label(props))
        existing = self._find_by_name(session, props)
        if existing is not None:
            fields = self._fields(existing)
            if any(canonical(fields[key]) != canonical(props[key]) for key in IDENTITY):
                raise PortkeyApiError(
                    f"{session.resource} already exists in workspace '{props['workspace_id']}' with other "
                    "conditions, grouping, type or reset: delete it in Portkey and run pulumi up again"
                )
            id_ = str(existing["id"])
            self._write(session, "adopt", id_, props)
        else:
            body = {key: props[key] for key in self.inputs if key != BASE_URL and props.get(key) is not None}

            def find() -> str | None:
                found = self._find_by_name(session, props)
                return str(found["id"]) if found else None

            id_ = session.create_once(lambda client: str(model_dict(client.post(url=PATH, **body))["id"]), find)
        return CreateResult(id_=id_, outs=self.settled_state(id_, props, "create"))

    def update(self, id_: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        self._write(self.session(news, self.label(news)), "update", id_, news)
        return UpdateResult(outs=self.settled_state(id_, news, "update"))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        session = self.session(props, f"{self.label(props)} ({id_})")
        session.delete(lambda client: client.delete(path=f"{PATH}/{id_}", cast_to=GenericResponse))


@dataclass(frozen=True)
class PortkeyUsageLimitsPolicyArgs:
    """Arguments of :class:`PortkeyUsageLimitsPolicy` (a monthly cost budget)."""

    base_url: str
    workspace_id: str
    name: str
    # Portkey's shapes: [{"key": ..., "value": ...}] and [{"key": ...}]
    conditions: pulumi.Input[list[dict[str, Any]]]
    group_by: list[dict[str, str]]
    credit_limit: float
    alert_threshold: float | None


class PortkeyUsageLimitsPolicy(pulumi.dynamic.Resource, module="portkey", name="UsageLimitsPolicy"):
    """A monthly cost budget Portkey enforces (412 when exhausted) over the requests it matches."""

    policy_id: pulumi.Output[str]
    status: pulumi.Output[str]

    def __init__(
        self, name: str, args: PortkeyUsageLimitsPolicyArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        props = {
            BASE_URL: args.base_url,
            "workspace_id": args.workspace_id,
            "name": args.name,
            "conditions": args.conditions,
            "group_by": args.group_by,
            "type": "cost",
            "periodic_reset": "monthly",
            "credit_limit": args.credit_limit,
            "alert_threshold": args.alert_threshold,
            "policy_id": None,
            "status": None,
        }
        super().__init__(UsageLimitsPolicyResourceProvider(), name, props, opts)
