"""Kubernetes Secrets for the gateway: provider API keys from ESC, a generated admin (master) key, and
a generated application key.

The provider keys reach the program as secret stack config (the stack files import an ESC
environment whose ``pulumiConfig`` maps ``fn::secret`` values onto ``llm-gateway:*ApiKey``), so
they stay encrypted in state and redacted in previews. The LiteLLM master key is generated here
and never leaves the cluster except through Pulumi's encrypted state. Every value is written as
``string_data`` from a secret Output: nothing passes through plain text.

The application key is the credential application teams get (through the ESC app environment,
components/app_environment.py), never the master key. It has its own Secret so that how the gateway
checks it (the client contract) can be added without touching the admin key.

The Secrets are auto-named (see :func:`program.kube.opaque_secret`): a rotated key in ESC creates a
new Secret on ``pulumi up``, the gateway pods roll onto it, and the old Secret goes last.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi

from gateway_config.runtime_env import MASTER_KEY
from program.kube import SecretKeyRef, generated_password, object_labels, opaque_secret

# The key of the application key in its Secret (the variable a pod would read it as).
APPLICATION_KEY = "LLM_GATEWAY_API_KEY"


@dataclass(frozen=True)
class GatewaySecretsArgs:
    """Arguments of :class:`GatewaySecrets`."""

    namespace: pulumi.Input[str]
    # env var name (OPENAI_API_KEY, ...) → secret Output holding the key
    provider_keys: Mapping[str, pulumi.Output[str]]
    # AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY → secret Output: what the request log is written with
    request_log_keys: Mapping[str, pulumi.Output[str]] = field(default_factory=dict)


class GatewaySecrets(pulumi.ComponentResource):
    """Provider keys and the LiteLLM master key as Kubernetes Secrets, keyed by env var name."""

    # env var → where the pod reads it
    provider_keys: dict[str, SecretKeyRef]
    master_key: SecretKeyRef
    request_log_keys: dict[str, SecretKeyRef]
    # The credential applications use (in ESC for them), by reference and as its secret value.
    application_key: SecretKeyRef
    application_key_value: pulumi.Output[str]

    def __init__(self, name: str, args: GatewaySecretsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llm-gateway:index:GatewaySecrets", name, None, opts)
        labels = object_labels("gateway")

        self.provider_keys = opaque_secret(f"{name}-provider-keys", args.namespace, labels, args.provider_keys, self)
        # LiteLLM only accepts master keys that start with "sk-".
        master_key = generated_password(f"{name}-master-key", 48, self, prefix="sk-")
        self.master_key = opaque_secret(
            f"{name}-master-key-secret", args.namespace, labels, {MASTER_KEY: master_key}, self
        )[MASTER_KEY]
        self.request_log_keys = (
            opaque_secret(f"{name}-request-log-keys", args.namespace, labels, args.request_log_keys, self)
            if args.request_log_keys
            else {}
        )
        self.application_key_value = generated_password(f"{name}-application-key", 48, self, prefix="sk-")
        self.application_key = opaque_secret(
            f"{name}-application-key-secret",
            args.namespace,
            labels,
            {APPLICATION_KEY: self.application_key_value},
            self,
        )[APPLICATION_KEY]
        self.register_outputs(
            {
                "provider_keys_secret_name": next(iter(self.provider_keys.values())).secret_name
                if self.provider_keys
                else None,
                "master_key_secret_name": self.master_key.secret_name,
                "application_key_secret_name": self.application_key.secret_name,
            }
        )
