"""The ESC environment application teams read: ``llm-gateway/<env>-app``.

One environment per stack gives a service everything it needs to call the gateway, as
``environmentVariables`` (exported by ``esc run`` / ``pulumi env run`` and ``esc open --format dotenv``):

==================================  ===================================================================
``LLM_GATEWAY_URL``                 the in-cluster gateway (``http://<service>.<namespace>.svc.cluster.local``)
``LLM_GATEWAY_API_KEY``             the application key (secret; never the admin master key)
``LLM_GATEWAY_PORTKEY_URL``         Portkey's hosted gateway, when the stack manages its control plane
``LLM_GATEWAY_PORTKEY_CONFIG_<T>``  the saved-config slug of task ``<t>`` (``x-portkey-config``)
``LLM_GATEWAY_ROUTING``             the routing manifest (``routing.json``, JSON)
==================================  ===================================================================

Two environments, so that nothing drifts by itself (docs/runtime-facts.md, "ESC"):

- ``llm-gateway/<env>-app`` is a ``pulumi_pulumiservice.Environment`` and holds no secret. It imports
- ``llm-gateway/<env>-app-credential``, which holds the application key as ``fn::secret`` and is written
  by :class:`program.esc.credential_environment.EscCredentialEnvironment`, which judges drift on the
  stored ciphertext. A ``pulumiservice.Environment`` holding ``fn::secret: <plaintext>`` reads back
  as ciphertext on every refresh and would show as changed in every drift review.

Secrets sit under ``gateway.*`` and reach ``environmentVariables`` by interpolation only: a
``fn::secret`` directly under ``environmentVariables`` makes the ESC SDK reject the definition.
The human-managed ``llm-gateway/<env>`` (provider keys, the Portkey admin key) is never written here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_pulumiservice as pulumiservice
import yaml

from program.esc.credential_environment import EscCredentialEnvironment, EscCredentialEnvironmentArgs

ESC_PROJECT = "llm-gateway"
APPLICATION_KEY_PATH = ["gateway", "applicationKey"]


def app_environment_name(environment: str) -> str:
    return f"{environment}-app"


def credential_environment_name(environment: str) -> str:
    return f"{environment}-app-credential"


def config_variable(task: str) -> str:
    """The variable a task's saved-config slug is exported as: LLM_GATEWAY_PORTKEY_CONFIG_<TASK>."""
    return "LLM_GATEWAY_PORTKEY_CONFIG_" + re.sub(r"[^A-Z0-9]", "_", task.upper())


def app_environment_yaml(
    environment: str,
    managed_by: str,
    gateway_url: str,
    portkey_url: str | None,
    config_slugs: Mapping[str, str],
    routing_manifest: dict[str, Any],
) -> str:
    """The app environment's definition, serialized from data (no secret in it: the key is imported)."""
    gateway: dict[str, Any] = {"url": gateway_url}
    variables = {"LLM_GATEWAY_URL": "${gateway.url}", "LLM_GATEWAY_API_KEY": "${gateway.applicationKey}"}
    if portkey_url is not None:
        gateway["portkeyUrl"] = portkey_url
        gateway["portkeyConfigs"] = dict(sorted(config_slugs.items()))
        variables["LLM_GATEWAY_PORTKEY_URL"] = "${gateway.portkeyUrl}"
        for task in sorted(config_slugs):
            variables[config_variable(task)] = f"${{gateway.portkeyConfigs.{task}}}"
    gateway["routingJson"] = json.dumps(routing_manifest, sort_keys=True, separators=(",", ":"))
    variables["LLM_GATEWAY_ROUTING"] = "${gateway.routingJson}"
    document = {
        "imports": [f"{ESC_PROJECT}/{credential_environment_name(environment)}"],
        "values": {"gateway": gateway, "environmentVariables": variables},
    }
    header = (
        f"# Written by `pulumi up` ({managed_by}): what application teams read. Edits are overwritten;\n"
        "# change the stack or gateway_config/routing.yaml instead.\n"
    )
    # ESC hands the definition back trimmed: a trimmed text keeps refresh from seeing a change.
    return (header + yaml.safe_dump(document, sort_keys=False, default_flow_style=False, width=1000)).strip()


@dataclass(frozen=True)
class AppEnvironmentArgs:
    """Arguments of :class:`AppEnvironment`."""

    organization: str
    environment: str
    managed_by: str
    gateway_url: pulumi.Output[str]
    application_key: pulumi.Output[str]  # secret
    # None when the stack does not manage a Portkey control plane (no hosted route to publish).
    portkey_url: str | None
    config_slugs: Mapping[str, pulumi.Output[str]]
    routing_manifest: dict[str, Any]


class AppEnvironment(pulumi.ComponentResource):
    """``llm-gateway/<env>-app`` (importing ``llm-gateway/<env>-app-credential``) for application teams."""

    # `<project>/<name>`, what a service opens (`esc run llm-gateway/prod-app -- …`)
    name: str

    def __init__(self, name: str, args: AppEnvironmentArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llm-gateway:index:AppEnvironment", name, None, opts)
        credential_name = credential_environment_name(args.environment)
        credential = EscCredentialEnvironment(
            f"{name}-credential",
            EscCredentialEnvironmentArgs(
                organization=args.organization,
                project=ESC_PROJECT,
                name=credential_name,
                path=APPLICATION_KEY_PATH,
                value=args.application_key,
                comment=f"Written by `pulumi up` ({args.managed_by}): the application key of {args.environment}.\n"
                f"Imported by {ESC_PROJECT}/{app_environment_name(args.environment)}; edits are overwritten.",
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        slugs = pulumi.Output.all(**dict(args.config_slugs)) if args.config_slugs else pulumi.Output.from_input({})
        text = pulumi.Output.all(args.gateway_url, slugs).apply(
            lambda parts: app_environment_yaml(
                args.environment, args.managed_by, parts[0], args.portkey_url, parts[1], args.routing_manifest
            )
        )
        pulumiservice.Environment(
            f"{name}-environment",
            organization=args.organization,
            project=ESC_PROJECT,
            name=app_environment_name(args.environment),
            yaml=text.apply(pulumi.StringAsset),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[credential]),
        )
        self.name = f"{ESC_PROJECT}/{app_environment_name(args.environment)}"
        self.register_outputs({"name": self.name})
