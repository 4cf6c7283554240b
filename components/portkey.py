"""Portkey's hosted control plane for one environment: integrations, Model Catalog providers with their
budgets and rate limits, one saved config per Portkey-routed task, and the budget policies.

Everything comes from the generated tree (``routing.json``'s ``portkey_providers`` and budgets, and
``portkey/<task>.json``), so a stack creates exactly what its environment's configs name: prod only
prod providers, staging only staging ones. The resources are the dynamic providers of
``program.portkey`` (Portkey's Terraform resource model).

Budgets are enforced at two levels (docs/deploy.md, "Budgets"):

- every provider carries a monthly **credit limit** (``usage_limits``) that the hosted gateway
  enforces on its own: no provider can spend more than the tasks that reach it may spend together,
  nor more than the environment;
- with ``llm-gateway:portkeyUsagePolicies`` (Enterprise), **usage-limits policies** enforce the
  spec's budgets exactly: one per task, matched by the saved config the request names
  (``x-portkey-config: <slug>``, so a request carries its task without any metadata), and one for
  the environment (everything in its workspace).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi

from program.generated_tree import HostedPortkey
from program.portkey.base import managed_marker
from program.portkey.config import PortkeyConfig, PortkeyConfigArgs
from program.portkey.integration import PortkeyIntegration, PortkeyIntegrationArgs
from program.portkey.provider import PortkeyProvider, PortkeyProviderArgs, UsageLimits
from program.portkey.usage_limits_policy import PortkeyUsageLimitsPolicy, PortkeyUsageLimitsPolicyArgs
from program.portkey.workspace_access import PortkeyIntegrationWorkspaceAccess, PortkeyIntegrationWorkspaceAccessArgs


class MissingPortkeyKeyError(ValueError):
    """A Model Catalog provider needs a provider key the stack does not supply."""


@dataclass(frozen=True)
class PortkeyControlPlaneArgs:
    """Arguments of :class:`PortkeyControlPlane`."""

    hosted: HostedPortkey
    base_url: str
    workspace_id: str
    usage_policies: bool
    # env var name (OPENAI_API_KEY, ...) → the secret Output holding the key (from ESC)
    provider_keys: Mapping[str, pulumi.Output[str]]
    # This stack's marker (`pulumi llm-gateway/<stack>`): adoption of existing slugs requires it.
    managed_by: str


def alert_threshold(limit: float, percent: int) -> int | None:
    """Portkey's alert threshold for a limit: whole units, at least 1 and below the limit itself."""
    threshold = int(limit * percent / 100)
    return threshold if 1 <= threshold < limit else None


def config_name(environment: str, task: str) -> str:
    """The saved config's name: its identity for look-ups (Portkey generates the slug)."""
    return f"llm-gateway-{environment}-{task}"


class PortkeyControlPlane(pulumi.ComponentResource):
    """Integrations, providers, saved configs and budget policies of one environment in Portkey."""

    # task → the saved config's slug, what a client sends as `x-portkey-config`
    config_slugs: dict[str, pulumi.Output[str]]
    # The Model Catalog providers' slugs, as the configs name them (`@<slug>/<model>`)
    provider_slugs: list[str]

    def __init__(self, name: str, args: PortkeyControlPlaneArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llm-gateway:index:PortkeyControlPlane", name, None, opts)
        self._name = name
        self._args = args
        self._environment = args.hosted.environment
        self._marker = managed_marker(args.managed_by)

        access = self._integrations()
        providers = self._catalog_providers(access)
        configs = self._configs(providers)
        if args.usage_policies:
            self._policies(configs)

        self.config_slugs = {task: config.slug for task, config in configs.items()}
        self.provider_slugs = [provider.slug for provider in args.hosted.providers]
        self.register_outputs({"config_slugs": self.config_slugs, "provider_slugs": self.provider_slugs})

    def _child(self, depends_on: list[pulumi.Resource] | None = None) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, depends_on=depends_on or [])

    def _integrations(self) -> dict[str, PortkeyIntegrationWorkspaceAccess]:
        """Integration slug → its access to the workspace (what a provider on it waits for)."""
        args, environment = self._args, self._environment
        access: dict[str, PortkeyIntegrationWorkspaceAccess] = {}
        for slug, facts in args.hosted.integrations.items():
            if facts.api_key_env is None or facts.api_key_env not in args.provider_keys:
                raise MissingPortkeyKeyError(
                    f"Portkey integration {slug!r} needs {facts.api_key_env}, which no llm-gateway:*ApiKey setting "
                    "supplies"
                )
            integration = PortkeyIntegration(
                f"{self._name}-integration-{facts.provider}",
                PortkeyIntegrationArgs(
                    base_url=args.base_url,
                    slug=slug,
                    name=f"llm-gateway {environment} {facts.provider}",
                    ai_provider_id=facts.ai_provider_id,
                    key=args.provider_keys[facts.api_key_env],
                    description=(
                        f"The {environment} {facts.provider} key, from ESC llm-gateway/{environment}. {self._marker}; "
                        "edits here are reverted by pulumi up."
                    ),
                    managed_by=args.managed_by,
                ),
                opts=self._child(),
            )
            access[slug] = PortkeyIntegrationWorkspaceAccess(
                f"{self._name}-access-{facts.provider}",
                PortkeyIntegrationWorkspaceAccessArgs(
                    base_url=args.base_url, integration_slug=integration.slug, workspace_id=args.workspace_id
                ),
                opts=self._child([integration]),
            )
        return access

    def _catalog_providers(self, access: dict[str, PortkeyIntegrationWorkspaceAccess]) -> list[PortkeyProvider]:
        args, hosted = self._args, self._args.hosted
        providers = []
        for facts in hosted.providers:
            limit = facts.credit_limit_usd_monthly
            providers.append(
                PortkeyProvider(
                    f"{self._name}-provider-{facts.slug}",
                    PortkeyProviderArgs(
                        base_url=args.base_url,
                        workspace_id=args.workspace_id,
                        slug=facts.slug,
                        name=facts.slug,
                        integration_id=facts.integration,
                        note=f"{facts.description or facts.name} {self._marker}".strip(),
                        managed_by=args.managed_by,
                        usage_limits=UsageLimits(limit, alert_threshold(limit, hosted.alert_threshold_percent)),
                        rate_limits=facts.rate_limit,
                    ),
                    opts=self._child([access[facts.integration]]),
                )
            )
        return providers

    def _configs(self, providers: list[PortkeyProvider]) -> dict[str, PortkeyConfig]:
        # After the providers: a config names them by slug.
        args = self._args
        return {
            task: PortkeyConfig(
                f"{self._name}-config-{task}",
                PortkeyConfigArgs(
                    base_url=args.base_url,
                    workspace_id=args.workspace_id,
                    name=config_name(self._environment, task),
                    config=body,
                ),
                opts=self._child(list(providers)),
            )
            for task, body in args.hosted.configs.items()
        }

    def _policy(
        self, suffix: str, conditions: pulumi.Input[list[dict[str, Any]]], group_by: str, limit: float, parent: Any
    ) -> None:
        args = self._args
        PortkeyUsageLimitsPolicy(
            f"{self._name}-budget-{suffix}",
            PortkeyUsageLimitsPolicyArgs(
                base_url=args.base_url,
                workspace_id=args.workspace_id,
                name=f"llm-gateway-{self._environment}-{suffix}",
                conditions=conditions,
                group_by=[{"key": group_by}],
                credit_limit=limit,
                alert_threshold=alert_threshold(limit, args.hosted.alert_threshold_percent),
            ),
            opts=self._child(parent),
        )

    def _policies(self, configs: dict[str, PortkeyConfig]) -> None:
        hosted = self._args.hosted
        # The environment: every request in its (dedicated) workspace shares one counter.
        self._policy("environment", [{"key": "api_key", "value": "*"}], "workspace_id", hosted.budget_usd_monthly, [])
        for task, budget in hosted.task_budgets_usd_monthly.items():
            conditions = configs[task].slug.apply(lambda slug: [{"key": "config", "value": slug}])
            self._policy(f"task-{task}", conditions, "config", budget, [configs[task]])
