"""The ESC environments application teams read: one per application, ``llm-gateway/<env>-app-<application>``.

Each application of the spec (``applications:``, each with a key of its own, components/secrets.py)
opens its own environment, which gives a service everything it needs to call the gateway as
``environmentVariables`` (exported by ``esc run`` / ``pulumi env run`` and ``esc open --format dotenv``):

==================================  ===================================================================
``LLM_GATEWAY_URL``                 the in-cluster gateway (``http://<service>.<namespace>.svc.cluster.local``)
``LLM_GATEWAY_KEY``                 this application's key (secret; never the admin master key)
``LLM_GATEWAY_APPLICATION``         the application's name in the spec (what its key may use: routing.json)
``LLM_GATEWAY_PORTKEY_URL``         Portkey's hosted gateway, when the stack manages its control plane
``LLM_GATEWAY_PORTKEY_CONFIG_<T>``  the saved-config slug of task ``<t>`` (``x-portkey-config``)
``LLM_GATEWAY_ROUTING``             the routing manifest (``routing.json``, JSON)
==================================  ===================================================================

One environment per application, not one variable per application in a shared environment: ESC grants
access per environment, so each team is given its own and can read no other team's key (nor can a
leaked token of one service); every application reads the same variable names, so client code does not
depend on which application it is. What the applications share is written once:

- ``llm-gateway/<env>-app`` holds the shared, non-secret part (URL, Portkey slugs, routing) and no key;
- ``llm-gateway/<env>-credential-<application>`` holds one application's key as ``fn::secret``, written
  by :class:`program.esc.credential_environment.EscCredentialEnvironment`, which judges drift on the
  stored ciphertext (docs/runtime-facts.md, "ESC"): a ``pulumiservice.Environment`` holding
  ``fn::secret: <plaintext>`` reads back as ciphertext on every refresh and would show as changed in
  every drift review;
- ``llm-gateway/<env>-app-<application>`` imports the two (ESC merges imports as a JSON merge patch)
  and adds the application's variables. It holds no secret either.

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
    """The shared environment (no key): ``<env>-app``."""
    return f"{environment}-app"


def application_environment_name(environment: str, application: str) -> str:
    """What one application opens: ``<env>-app-<application>``."""
    return f"{environment}-app-{application}"


def credential_environment_name(environment: str, application: str) -> str:
    """Where one application's key lives: ``<env>-credential-<application>`` (a prefix no app environment
    has, so no application name can make the two collide)."""
    return f"{environment}-credential-{application}"


def config_variable(task: str) -> str:
    """The variable a task's saved-config slug is exported as: LLM_GATEWAY_PORTKEY_CONFIG_<TASK>."""
    return "LLM_GATEWAY_PORTKEY_CONFIG_" + re.sub(r"[^A-Z0-9]", "_", task.upper())


def _header(managed_by: str, what: str) -> str:
    return (
        f"# Written by `pulumi up` ({managed_by}): {what}. Edits are overwritten;\n"
        "# change the stack or gateway_config/routing.yaml instead.\n"
    )


def _serialized(header: str, document: dict[str, Any]) -> str:
    # ESC hands the definition back trimmed: a trimmed text keeps refresh from seeing a change.
    return (header + yaml.safe_dump(document, sort_keys=False, default_flow_style=False, width=1000)).strip()


def app_environment_yaml(
    managed_by: str,
    gateway_url: str,
    portkey_url: str | None,
    config_slugs: Mapping[str, str],
    routing_manifest: dict[str, Any],
) -> str:
    """The shared environment's definition, serialized from data (no secret, no key)."""
    gateway: dict[str, Any] = {"url": gateway_url}
    variables = {"LLM_GATEWAY_URL": "${gateway.url}"}
    if portkey_url is not None:
        gateway["portkeyUrl"] = portkey_url
        gateway["portkeyConfigs"] = dict(sorted(config_slugs.items()))
        variables["LLM_GATEWAY_PORTKEY_URL"] = "${gateway.portkeyUrl}"
        for task in sorted(config_slugs):
            variables[config_variable(task)] = f"${{gateway.portkeyConfigs.{task}}}"
    gateway["routingJson"] = json.dumps(routing_manifest, sort_keys=True, separators=(",", ":"))
    variables["LLM_GATEWAY_ROUTING"] = "${gateway.routingJson}"
    document = {"values": {"gateway": gateway, "environmentVariables": variables}}
    return _serialized(_header(managed_by, "what every application of this environment shares"), document)


def application_environment_yaml(environment: str, application: str, managed_by: str) -> str:
    """One application's definition: the shared environment and its credential, plus its own variables."""
    document = {
        "imports": [
            f"{ESC_PROJECT}/{app_environment_name(environment)}",
            f"{ESC_PROJECT}/{credential_environment_name(environment, application)}",
        ],
        "values": {
            "gateway": {"application": application},
            "environmentVariables": {
                "LLM_GATEWAY_KEY": "${gateway.applicationKey}",
                "LLM_GATEWAY_APPLICATION": "${gateway.application}",
            },
        },
    }
    return _serialized(_header(managed_by, f"what application {application!r} reads"), document)


@dataclass(frozen=True)
class AppEnvironmentArgs:
    """Arguments of :class:`AppEnvironment`."""

    organization: str
    environment: str
    managed_by: str
    gateway_url: pulumi.Output[str]
    # application → its key (secret Outputs: GatewaySecrets.application_key_values)
    application_keys: Mapping[str, pulumi.Output[str]]
    # None when the stack does not manage a Portkey control plane (no hosted route to publish).
    portkey_url: str | None
    config_slugs: Mapping[str, pulumi.Output[str]]
    routing_manifest: dict[str, Any]


class AppEnvironment(pulumi.ComponentResource):
    """``llm-gateway/<env>-app`` and, per application, ``llm-gateway/<env>-app-<application>`` (importing
    it and ``llm-gateway/<env>-credential-<application>``) for application teams."""

    # `<project>/<name>` of the shared environment
    name: str
    # application → `<project>/<name>` of what it opens (`esc run llm-gateway/prod-app-<application> -- …`)
    application_environments: dict[str, str]

    def __init__(self, name: str, args: AppEnvironmentArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llm-gateway:index:AppEnvironment", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        slugs = pulumi.Output.all(**dict(args.config_slugs)) if args.config_slugs else pulumi.Output.from_input({})
        text = pulumi.Output.all(args.gateway_url, slugs).apply(
            lambda parts: app_environment_yaml(
                args.managed_by, parts[0], args.portkey_url, parts[1], args.routing_manifest
            )
        )
        shared = pulumiservice.Environment(
            f"{name}-environment",
            organization=args.organization,
            project=ESC_PROJECT,
            name=app_environment_name(args.environment),
            yaml=text.apply(pulumi.StringAsset),
            opts=child,
        )
        self.application_environments = {}
        for application, key in sorted(args.application_keys.items()):
            credential = EscCredentialEnvironment(
                f"{name}-{application}-credential",
                EscCredentialEnvironmentArgs(
                    organization=args.organization,
                    project=ESC_PROJECT,
                    name=credential_environment_name(args.environment, application),
                    path=APPLICATION_KEY_PATH,
                    value=key,
                    comment=f"Written by `pulumi up` ({args.managed_by}): the key of application {application!r} "
                    f"in {args.environment}.\nImported by "
                    f"{ESC_PROJECT}/{application_environment_name(args.environment, application)}; "
                    "edits are overwritten.",
                ),
                opts=child,
            )
            environment_name = application_environment_name(args.environment, application)
            pulumiservice.Environment(
                f"{name}-{application}-environment",
                organization=args.organization,
                project=ESC_PROJECT,
                name=environment_name,
                yaml=pulumi.StringAsset(application_environment_yaml(args.environment, application, args.managed_by)),
                # ESC refuses a definition whose imports do not exist yet.
                opts=pulumi.ResourceOptions(parent=self, depends_on=[shared, credential]),
            )
            self.application_environments[application] = f"{ESC_PROJECT}/{environment_name}"
        self.name = f"{ESC_PROJECT}/{app_environment_name(args.environment)}"
        self.register_outputs({"name": self.name, "application_environments": self.application_environments})
