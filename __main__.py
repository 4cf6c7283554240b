"""llm-gateway: the generated routing served by a hardened gateway on Kubernetes.

Thin on purpose: read typed settings, read the generated config for the stack's environment,
wire the components together, export what clients and reviewers need. Secrets are never exported.
"""

from __future__ import annotations

import sys

import pulumi

from components.gateway import Gateway, GatewayArgs, RedisEndpoint
from components.generated_config import GeneratedConfigError, load_generated_config
from components.labels import selector_labels
from components.namespace import GatewayNamespace, GatewayNamespaceArgs
from components.redis import RedisCache, RedisCacheArgs
from components.secrets import MASTER_KEY_ENV, GatewaySecrets, GatewaySecretsArgs, secret_data_checksum
from components.settings import SettingsError, load_settings

NAME = "llm-gateway"

try:
    loaded = load_settings()
    settings = loaded.stack
    generated = load_generated_config(settings.environment, settings.engine)
except (SettingsError, GeneratedConfigError) as err:
    # A configuration mistake is the user's to fix: say which key, skip the traceback.
    print(f"error: invalid configuration for stack {pulumi.get_stack()!r}:\n{err}", file=sys.stderr)
    sys.exit(2)

namespace = GatewayNamespace(NAME, GatewayNamespaceArgs(name=settings.namespace))
in_namespace = pulumi.ResourceOptions(depends_on=[namespace])

secrets = GatewaySecrets(
    NAME,
    GatewaySecretsArgs(namespace=namespace.namespace_name, provider_keys=loaded.provider_keys.by_env_var),
    opts=in_namespace,
)

redis = RedisCache(
    f"{NAME}-redis",
    RedisCacheArgs(
        namespace=namespace.namespace_name,
        image=settings.redis_image,
        client_pod_labels=selector_labels("gateway"),
        memory_mi=settings.redis_memory_mi,
        cpu_request=settings.redis_cpu_request,
        cpu_limit=settings.redis_cpu_limit,
        modules=settings.redis_modules,
        persistence=settings.redis_persistence,
        storage_size=settings.redis_storage_size,
        storage_class=settings.redis_storage_class,
    ),
    opts=in_namespace,
)

gateway = Gateway(
    NAME,
    GatewayArgs(
        namespace=namespace.namespace_name,
        engine=settings.engine,
        image=settings.gateway_image,
        generated=generated,
        redis=RedisEndpoint(
            host=redis.host,
            port=redis.port,
            password_secret_name=redis.password_secret_name,
            password_secret_key=redis.password_secret_key,
            pod_labels=selector_labels("redis"),
        ),
        provider_keys_secret_name=secrets.provider_keys_secret_name,
        provider_key_env_vars=sorted(loaded.provider_keys.by_env_var),
        master_key_secret_name=secrets.master_key_secret_name,
        master_key_env_var=MASTER_KEY_ENV,
        # Only a hash of the values leaves the secret Outputs (see components/secrets.py).
        secrets_checksum=secret_data_checksum({**secrets.env_values, redis.password_secret_key: redis.password}),
        replicas=settings.replicas,
        max_replicas=settings.max_replicas,
        target_cpu_utilization=settings.target_cpu_utilization,
        pdb_min_available=settings.pdb_min_available,
        cpu_request=settings.gateway_cpu_request,
        cpu_limit=settings.gateway_cpu_limit,
        memory_request=settings.gateway_memory_request,
        memory_limit=settings.gateway_memory_limit,
        zone_spread=settings.zone_spread,
        allowed_namespaces=settings.allowed_namespaces,
        monitoring_namespace=settings.monitoring_namespace,
        service_monitor=settings.service_monitor,
    ),
    opts=pulumi.ResourceOptions(depends_on=[namespace, redis, secrets]),
)

pulumi.export("environment", settings.environment)
pulumi.export("engine", settings.engine)
pulumi.export("namespace", namespace.namespace_name)
pulumi.export("gatewayUrl", gateway.url)
pulumi.export("gatewayServiceName", gateway.service_name)
pulumi.export("configChecksum", gateway.config_checksum)
pulumi.export("redisServiceName", redis.service_name)
