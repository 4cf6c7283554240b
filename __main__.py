"""llm-gateway: the generated routing served by a hardened gateway on Kubernetes.

A page of wiring: read the typed stack settings and the generated config for the stack's
environment, hand each component what the one before it exposes, export what clients and reviewers
need. Secrets are never exported.
"""

from __future__ import annotations

import sys
from typing import NoReturn

import pulumi

from components.gateway import Gateway, GatewayArgs, MissingProviderKeyError, Monitoring
from components.namespace import GatewayNamespace, GatewayNamespaceArgs
from components.redis import RedisCache, RedisCacheArgs
from components.secrets import GatewaySecrets, GatewaySecretsArgs
from program.generated_tree import GeneratedConfigError, load_generated_config
from program.stack_settings import SettingsError, load_settings

NAME = "llm-gateway"


def _refuse(error: Exception) -> NoReturn:
    # A configuration mistake is the user's to fix: say which key, skip the traceback.
    print(f"error: invalid configuration for stack {pulumi.get_stack()!r}:\n{error}", file=sys.stderr)
    sys.exit(2)


try:
    loaded = load_settings()
    settings = loaded.stack
    generated = load_generated_config(settings.environment, settings.engine_spec)
except (SettingsError, GeneratedConfigError) as error:
    _refuse(error)

namespace = GatewayNamespace(NAME, GatewayNamespaceArgs(name=settings.namespace))
in_namespace = pulumi.ResourceOptions(depends_on=[namespace])

secrets = GatewaySecrets(
    NAME,
    GatewaySecretsArgs(
        namespace=namespace.namespace_name,
        provider_keys=loaded.provider_keys.by_env_var,
        applications=generated.applications,
    ),
    opts=in_namespace,
)

redis = RedisCache(
    f"{NAME}-redis",
    RedisCacheArgs(
        namespace=namespace.namespace_name,
        image=settings.redis_image,
        # Only the gateway's pods may connect.
        client_pod_labels=Gateway.POD_LABELS,
        resources=settings.redis_resources,
        memory_mi=settings.redis_memory_mi,
        modules=settings.redis_modules,
        persistence=settings.redis_persistence,
        storage_size=settings.redis_storage_size,
        storage_class=settings.redis_storage_class,
    ),
    opts=in_namespace,
)

try:
    gateway = Gateway(
        NAME,
        GatewayArgs(
            namespace=namespace.namespace_name,
            engine=settings.engine_spec,
            image=settings.gateway_image,
            generated=generated,
            redis=redis.endpoint,
            secrets=secrets,
            resources=settings.gateway_resources,
            autoscaling=settings.autoscaling,
            disruption=settings.disruption,
            zone_spread=settings.zone_spread,
            allowed_namespaces=settings.allowed_namespaces,
            monitoring=Monitoring(settings.monitoring_namespace, settings.service_monitor),
        ),
        opts=pulumi.ResourceOptions(depends_on=[namespace, redis, secrets]),
    )
except MissingProviderKeyError as error:
    _refuse(error)

pulumi.export("environment", settings.environment)
pulumi.export("engine", settings.engine)
pulumi.export("namespace", namespace.namespace_name)
pulumi.export("gatewayUrl", gateway.url)
pulumi.export("gatewayServiceName", gateway.service_name)
pulumi.export("configChecksum", gateway.config_checksum)
pulumi.export("redisServiceName", redis.service_name)
# Where each application's key lives (a Secret per application); the keys themselves are never exported.
pulumi.export("applicationKeySecrets", {name: ref.secret_name for name, ref in secrets.application_keys.items()})
