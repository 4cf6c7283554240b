"""Kubernetes Secrets for the gateway: provider API keys from ESC, a generated admin (master) key, and
a generated key per client application.

The provider keys reach the program as secret stack config (the stack files import an ESC
environment whose ``pulumiConfig`` maps ``fn::secret`` values onto ``llm-gateway:*ApiKey``), so
they stay encrypted in state and redacted in previews. The LiteLLM master key is generated here
and never leaves the cluster except through Pulumi's encrypted state. Every value is written as
``string_data`` from a secret Output: nothing passes through plain text.

Each application named in the spec (``applications`` in routing.json) gets its own key, in a Secret
of its own; the gateway reads it from the variable routing.json names and its auth hook lets that key
use the application's tasks only. The keys are also exposed as secret Outputs, for the ESC
environment each application reads (components/app_environment.py); never the master key.

The Secrets are auto-named (see :func:`program.kube.opaque_secret`): a rotated key in ESC creates a
new Secret on ``pulumi up``, the gateway pods roll onto it, and the old Secret goes last.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi

from gateway_config.runtime_env import MASTER_KEY
from program.kube import SecretKeyRef, generated_password, object_labels, opaque_secret


@dataclass(frozen=True)
class GatewaySecretsArgs:
    """Arguments of :class:`GatewaySecrets`."""

    namespace: pulumi.Input[str]
    # env var name (OPENAI_API_KEY, ...) → secret Output holding the key
    provider_keys: Mapping[str, pulumi.Output[str]]
    # AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY → secret Output: what the request log is written with
    request_log_keys: Mapping[str, pulumi.Output[str]] = field(default_factory=dict)
    # application → the env var the gateway reads its key from (GeneratedConfig.applications)
    applications: Mapping[str, str] = field(default_factory=dict)


class GatewaySecrets(pulumi.ComponentResource):
    """Provider keys, the LiteLLM master key and the application keys as Kubernetes Secrets."""

    # env var → where the pod reads it
    provider_keys: dict[str, SecretKeyRef]
    master_key: SecretKeyRef
    request_log_keys: dict[str, SecretKeyRef]
    # application → where the pod reads its key (the reference's key is the env var name)
    application_keys: dict[str, SecretKeyRef]
    # application → its key, as a secret Output (for the ESC environment each application reads)
    application_key_values: dict[str, pulumi.Output[str]]

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
        self.application_key_values = {}
        self.application_keys = {}
        for application, key_env in sorted(args.applications.items()):
            key = generated_password(f"{name}-app-{application}-key", 48, self, prefix="sk-app-")
            self.application_key_values[application] = key
            self.application_keys[application] = opaque_secret(
                f"{name}-app-{application}-secret", args.namespace, labels, {key_env: key}, self
            )[key_env]
        self.register_outputs(
            {
                "application_key_secret_names": {
                    application: ref.secret_name for application, ref in self.application_keys.items()
                },
                "provider_keys_secret_name": next(iter(self.provider_keys.values())).secret_name
                if self.provider_keys
                else None,
                "master_key_secret_name": self.master_key.secret_name,
            }
        )
