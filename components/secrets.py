"""Kubernetes Secrets for the gateway: provider API keys from ESC and a generated master key.

The provider keys reach the program as secret stack config (the stack files import an ESC
environment whose ``pulumiConfig`` maps ``fn::secret`` values onto ``llm-gateway:*ApiKey``), so
they stay encrypted in state and redacted in previews. The LiteLLM master key is generated here
and never leaves the cluster except through Pulumi's encrypted state. Every value is written as
``string_data`` from a secret Output: nothing passes through plain text.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.labels import object_labels
from gateway_config.runtime_env import MASTER_KEY

MASTER_KEY_ENV = MASTER_KEY
# Pod-template annotation over the Secret data a pod reads into its environment. Env vars from a
# Secret are read once at container start, so without it a key rotated in ESC would update the
# Secret on `pulumi up` but leave the pods on the old key until something else restarts them.
SECRETS_CHECKSUM_ANNOTATION = "llm-gateway/secrets-checksum"


def secret_data_digest(values: Mapping[str, str]) -> str:
    """sha256 over env var names and values (canonical JSON, so no two inputs collide)."""
    canonical = json.dumps(dict(sorted(values.items())), separators=(",", ":"))
    return hashlib.sha256(f"llm-gateway/secrets:{canonical}".encode()).hexdigest()


def secret_data_checksum(values: Mapping[str, pulumi.Input[str]]) -> pulumi.Output[str]:
    """:func:`secret_data_digest` of secret Outputs, deliberately *not* marked secret.

    The values never leave the ``apply``; only their hash does. Every input is high-entropy
    (provider API keys, 40+ random characters), so the hash reveals nothing a guess could confirm.
    Unsecreting it is honest rather than risky: a pod annotation is plain text in the cluster
    whatever Pulumi's state says, and a plain value keeps `pulumi preview` and `make plan` showing
    that a rotation rolls the pods.
    """
    names = sorted(values)
    digest = pulumi.Output.all(*(values[name] for name in names)).apply(
        lambda resolved: secret_data_digest(dict(zip(names, resolved, strict=True)))
    )
    return pulumi.Output.unsecret(digest)


def generated_password(
    resource_name: str, length: int, parent: pulumi.Resource, prefix: str = ""
) -> pulumi.Output[str]:
    """A random password as a secret Output (`RandomPassword.result` is not secret under mocks)."""
    password = random.RandomPassword(
        resource_name,
        random.RandomPasswordArgs(length=length, special=False),
        opts=pulumi.ResourceOptions(parent=parent, additional_secret_outputs=["result"]),
    )
    return pulumi.Output.secret(pulumi.Output.concat(prefix, password.result))


def opaque_secret(
    resource_name: str,
    secret_name: str,
    namespace: pulumi.Input[str],
    labels: dict[str, str],
    data: Mapping[str, pulumi.Input[str]],
    parent: pulumi.Resource,
) -> tuple[k8s.core.v1.Secret, dict[str, pulumi.Output[str]]]:
    """A Kubernetes Secret written from secret Outputs only; returns it and the values it holds.

    Each value is wrapped even if it arrives secret: a plain value handed in by mistake must still
    never be stored unencrypted.
    """
    secret_data = {key: pulumi.Output.secret(value) for key, value in sorted(data.items())}
    secret = k8s.core.v1.Secret(
        resource_name,
        metadata=k8s.meta.v1.ObjectMetaArgs(name=secret_name, namespace=namespace, labels=labels),
        type="Opaque",
        string_data=secret_data,
        opts=pulumi.ResourceOptions(parent=parent, additional_secret_outputs=["data", "stringData"]),
    )
    return secret, secret_data


@dataclass(frozen=True)
class GatewaySecretsArgs:
    """Arguments of :class:`GatewaySecrets`."""

    namespace: pulumi.Input[str]
    # env var name (OPENAI_API_KEY, ...) → secret Output holding the key
    provider_keys: Mapping[str, pulumi.Output[str]]


class GatewaySecrets(pulumi.ComponentResource):
    """Provider keys and the LiteLLM master key as Kubernetes Secrets, keyed by env var name."""

    provider_keys_secret_name: pulumi.Output[str]
    master_key_secret_name: pulumi.Output[str]
    # env var → secret Output, exactly what the two Secrets hold (for the pod-template checksum)
    env_values: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: GatewaySecretsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llm-gateway:index:GatewaySecrets", name, None, opts)
        labels = object_labels("gateway")

        provider_secret, provider_data = opaque_secret(
            f"{name}-provider-keys", f"{name}-provider-keys", args.namespace, labels, args.provider_keys, self
        )
        # LiteLLM only accepts master keys that start with "sk-".
        master_key = generated_password(f"{name}-master-key", 48, self, prefix="sk-")
        master_secret, _ = opaque_secret(
            f"{name}-master-key-secret",
            f"{name}-master-key",
            args.namespace,
            labels,
            {MASTER_KEY_ENV: master_key},
            self,
        )

        self.provider_keys_secret_name = provider_secret.metadata.apply(lambda meta: meta.name)
        self.master_key_secret_name = master_secret.metadata.apply(lambda meta: meta.name)
        self.env_values = {**provider_data, MASTER_KEY_ENV: master_key}
        self.register_outputs(
            {
                "provider_keys_secret_name": self.provider_keys_secret_name,
                "master_key_secret_name": self.master_key_secret_name,
            }
        )
