"""Snowflake policies: every warehouse is capped by a resource monitor and suspends when idle, and
no administrator role is ever granted."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from policies.model import Resource, Violation, of_type

WAREHOUSE = "snowflake:index/warehouse:Warehouse"
RESOURCE_MONITOR = "snowflake:index/resourceMonitor:ResourceMonitor"
GRANT_ACCOUNT_ROLE = "snowflake:index/grantAccountRole:GrantAccountRole"
USER_TYPES = (
    "snowflake:index/serviceUser:ServiceUser",
    "snowflake:index/user:User",
    "snowflake:index/legacyServiceUser:LegacyServiceUser",
)
ADMIN_ROLES = frozenset({"ACCOUNTADMIN", "SECURITYADMIN", "ORGADMIN"})


def _identifier(value: Any) -> str:
    return str(value or "").strip('"').upper()


def warehouse_guarded(resources: Sequence[Resource], config: Mapping[str, Any]) -> Iterator[Violation]:
    """Every warehouse names a resource monitor of this stack (its credit quota suspends it) and
    auto-suspends within ``maxAutoSuspendSeconds`` (300) of going idle."""
    limit = int(config.get("maxAutoSuspendSeconds", 300))
    monitors = {_identifier(monitor.props.get("name")) for monitor in of_type(resources, RESOURCE_MONITOR)}
    for warehouse in of_type(resources, WAREHOUSE):
        name = warehouse.props.get("name", warehouse.name)
        monitor = _identifier(warehouse.props.get("resourceMonitor"))
        if not monitor:
            yield Violation(
                f"Warehouse {name}: no resource monitor, so its credits are unbounded; "
                "fix: attach the analytics component's ResourceMonitor (resource_monitor=…)",
                warehouse,
            )
        elif monitor not in monitors:
            yield Violation(
                f"Warehouse {name}: resource monitor {monitor} is not managed by this stack; "
                "fix: attach the monitor components/analytics.py creates",
                warehouse,
            )
        suspend = warehouse.props.get("autoSuspend")
        if not isinstance(suspend, int | float) or not 0 < suspend <= limit:
            yield Violation(
                f"Warehouse {name}: auto_suspend is {suspend} s (0 or unset never suspends); "
                f"fix: set llm-gateway:snowflakeAutoSuspendSeconds to at most {limit}",
                warehouse,
            )


def no_admin_role_grant(resource: Resource, config: Mapping[str, Any]) -> Iterator[str]:
    """No grant gives ACCOUNTADMIN, SECURITYADMIN or ORGADMIN to a role or user, and no user of the
    stack defaults to one (the stack's roles are least-privilege; administrators use, never grant)."""
    if resource.type == GRANT_ACCOUNT_ROLE and _identifier(resource.props.get("roleName")) in ADMIN_ROLES:
        grantee = resource.props.get("parentRoleName") or resource.props.get("userName")
        yield (
            f"{resource.display}: grants {_identifier(resource.props.get('roleName'))} to {grantee}; "
            "fix: grant the least-privilege role that does the job (components/analytics.py loader/analyst/embedder)"
        )
    if resource.type in USER_TYPES and _identifier(resource.props.get("defaultRole")) in ADMIN_ROLES:
        yield (
            f"{resource.display}: defaults to {_identifier(resource.props.get('defaultRole'))}; "
            "fix: give the user the stack's own role as its default"
        )
