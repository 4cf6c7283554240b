"""``EscCredentialEnvironment``: a program-owned ESC environment that holds one secret, refresh-stable.

Why not ``pulumi_pulumiservice.Environment`` for a secret: its ``read`` returns the definition as ESC
stores it, with every ``fn::secret`` as ciphertext, as the new inputs. After ``pulumi refresh`` (and
so in every ``pulumi preview --refresh --expect-no-changes`` drift review) the program's
``fn::secret: <plaintext>`` differs from that ciphertext, and the environment shows as changed
forever. So the application credential lives in an environment of its own, written by this
provider, and the app environment (a ``pulumiservice.Environment`` without any secret) imports it.

Drift is judged on what can be compared without decrypting: after each write the provider records
the ciphertext ESC stored (``written_ciphertext``); ``read`` records the ciphertext there now
(``observed_ciphertext``). Someone setting the value by hand (``esc env set``) changes the
ciphertext, ``diff`` reports it, and ``pulumi up`` writes the program's value back. A changed
value from the program (a rotated key) is an update in place: the environment keeps its name, and
the environments importing it see the new value at their next open.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import pulumi
import pulumi.dynamic
import yaml
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, ResourceProvider, UpdateResult

from program.esc.client import EscError, call, client, stored_definition
from program.portkey.base import canonical

INPUTS = ("organization", "project", "name", "path", "value", "comment")
REPLACE_ON = ("organization", "project", "name", "path")


def definition_yaml(path: list[str], value: str, comment: str) -> str:
    """The environment's YAML: one ``fn::secret`` at ``path`` under ``values``."""
    node: dict[str, Any] = {"fn::secret": value}
    for part in reversed(path):
        node = {part: node}
    body = yaml.safe_dump({"values": node}, sort_keys=False, default_flow_style=False)
    header = "".join(f"# {line}\n" for line in comment.splitlines())
    return header + body


def stored_ciphertext(document: dict[str, Any] | None, path: list[str]) -> str | None:
    """The ciphertext ESC holds at ``values.<path>``, or None when there is no secret there."""
    node: Any = (document or {}).get("values")
    for part in path:
        node = node.get(part) if isinstance(node, dict) else None
    secret = node.get("fn::secret") if isinstance(node, dict) else None
    ciphertext = secret.get("ciphertext") if isinstance(secret, dict) else None
    return str(ciphertext) if ciphertext else None


class CredentialEnvironmentResourceProvider(ResourceProvider):
    """Create, read (ciphertext drift), diff, update and delete one ESC environment holding one secret."""

    serialize_as_secret_always = False
    inputs: ClassVar[tuple[str, ...]] = INPUTS

    @staticmethod
    def _target(props: dict[str, Any]) -> str:
        return f"environment {props['organization']}/{props['project']}/{props['name']}"

    def _write(self, props: dict[str, Any]) -> dict[str, Any]:
        org, project, name = props["organization"], props["project"], props["name"]
        esc_client = client()
        text = definition_yaml(list(props["path"]), props["value"], props["comment"])
        call("write", self._target(props), lambda: esc_client.update_environment_yaml(org, project, name, text))
        ciphertext = stored_ciphertext(stored_definition(esc_client, org, project, name), list(props["path"]))
        if ciphertext is None:
            raise EscError(f"ESC stored no secret at values.{'.'.join(props['path'])} of {self._target(props)}")
        state = {key: props[key] for key in INPUTS}
        return {**state, "written_ciphertext": ciphertext, "observed_ciphertext": ciphertext}

    def create(self, props: dict[str, Any]) -> CreateResult:
        org, project, name = props["organization"], props["project"], props["name"]
        esc_client = client()
        if stored_definition(esc_client, org, project, name) is None:
            # An environment of this name that exists already is this stack's (its name is the identity):
            # it is written over, which is what adopting it means.
            call("create", self._target(props), lambda: esc_client.create_environment(org, project, name))
        return CreateResult(id_=f"{org}/{project}/{name}", outs=self._write(props))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        document = stored_definition(client(), props["organization"], props["project"], props["name"])
        if document is None:
            return ReadResult(id_="", outs={})
        outs = {key: value for key, value in props.items() if key != "__provider"}
        outs["observed_ciphertext"] = stored_ciphertext(document, list(props["path"]))
        return ReadResult(id_=id_, outs=outs, inputs={key: outs.get(key) for key in INPUTS})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = [key for key in REPLACE_ON if canonical(olds.get(key)) != canonical(news.get(key))]
        changed = [key for key in INPUTS if canonical(olds.get(key)) != canonical(news.get(key))]
        edited_in_esc = olds.get("observed_ciphertext") != olds.get("written_ciphertext")
        return DiffResult(
            changes=bool(changed or edited_in_esc),
            replaces=replaces,
            delete_before_replace=True if replaces else None,
        )

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs=self._write(news))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        org, project, name = props["organization"], props["project"], props["name"]
        esc_client = client()
        try:
            call("delete", self._target(props), lambda: esc_client.delete_environment(org, project, name))
        except EscError as error:
            if error.status != 404:  # already gone is what was asked for
                raise


@dataclass(frozen=True)
class EscCredentialEnvironmentArgs:
    """Arguments of :class:`EscCredentialEnvironment`."""

    organization: str
    project: str
    name: str
    path: list[str]  # where the secret sits under `values`, e.g. ["gateway", "applicationKey"]
    value: pulumi.Input[str]  # a secret Output
    comment: str


class EscCredentialEnvironment(pulumi.dynamic.Resource, module="esc", name="CredentialEnvironment"):
    """An ESC environment holding one program-generated secret (imported by the app environment)."""

    written_ciphertext: pulumi.Output[str]
    observed_ciphertext: pulumi.Output[str]

    def __init__(
        self, name: str, args: EscCredentialEnvironmentArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        props = {
            "organization": args.organization,
            "project": args.project,
            "name": args.name,
            "path": args.path,
            "value": pulumi.Output.secret(args.value),
            "comment": args.comment,
            "written_ciphertext": None,
            "observed_ciphertext": None,
        }
        secret = pulumi.ResourceOptions(additional_secret_outputs=["value"])
        super().__init__(
            CredentialEnvironmentResourceProvider(), name, props, pulumi.ResourceOptions.merge(opts, secret)
        )
