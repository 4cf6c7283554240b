"""llm-gateway: the generated routing served by a hardened gateway on Kubernetes.

A page of wiring: read the typed stack settings and the generated config for the stack's
environment, hand each component what the one before it exposes, export what clients and reviewers
need. Secrets are never exported.
"""

from __future__ import annotations

import sys
from typing import NoReturn

import pulumi

from components.analytics import Analytics, AnalyticsArgs, CreditMonitor, RequestLogDestination, SnowflakeAccount
from components.app_environment import AppEnvironment, AppEnvironmentArgs
from components.gateway import Gateway, GatewayArgs, MissingProviderKeyError, Monitoring
from components.namespace import GatewayNamespace, GatewayNamespaceArgs
from components.observability import AlertReceiver, GrafanaApi, Observability, ObservabilityArgs
from components.portkey import MissingPortkeyKeyError, PortkeyControlPlane, PortkeyControlPlaneArgs
from components.redis import RedisCache, RedisCacheArgs
from components.secrets import GatewaySecrets, GatewaySecretsArgs
from gateway_config.runtime_env import redis_acl_rules
from program.analytics_sql import budget_rows
from program.cluster import cluster_provider
from program.generated_tree import GeneratedConfigError, load_generated_config, load_hosted_portkey
from program.kube import Resources
from program.observability_tree import load_observability_files
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
    observability_files = load_observability_files(settings.environment)
    # Portkey's hosted control plane, for an environment whose configs target the Model Catalog.
    hosted = load_hosted_portkey(settings.environment) if settings.portkey_control_plane else None
    portkey_workspace = settings.require_portkey_workspace() if hosted is not None else None
except (SettingsError, GeneratedConfigError) as error:
    _refuse(error)

# Every Kubernetes object through the stack's own provider (its kubeconfig from ESC, checked above).
cluster = cluster_provider(f"{NAME}-cluster", loaded.kubeconfig, settings.kube_context, settings.cluster_server)
on_cluster = pulumi.ResourceOptions(providers={"kubernetes": cluster})
namespace = GatewayNamespace(NAME, GatewayNamespaceArgs(name=settings.namespace), opts=on_cluster)
in_namespace = pulumi.ResourceOptions.merge(on_cluster, pulumi.ResourceOptions(depends_on=[namespace]))

secrets = GatewaySecrets(
    NAME,
    GatewaySecretsArgs(
        namespace=namespace.namespace_name,
        provider_keys=loaded.provider_keys.by_env_var,
        # Only an engine that writes the request log gets its S3 credentials.
        request_log_keys=loaded.request_log_keys if settings.engine_spec.writes_request_log else {},
        applications=generated.applications,
    ),
    opts=in_namespace,
)

analytics = Analytics(
    f"{NAME}-analytics",
    AnalyticsArgs(
        environment=settings.environment,
        account=SnowflakeAccount(
            settings.snowflake_organization,
            settings.snowflake_account,
            settings.snowflake_deploy_role,
            settings.snowflake_admin_role,
        ),
        object_prefix=settings.snowflake_object_prefix,
        warehouse_size=settings.snowflake_warehouse_size,
        auto_suspend_seconds=settings.snowflake_auto_suspend_seconds,
        monitor=CreditMonitor(
            settings.snowflake_credit_quota,
            settings.snowflake_monitor_notify_percents,
            settings.snowflake_monitor_suspend_percent,
            settings.snowflake_monitor_suspend_immediate_percent,
        ),
        request_log=RequestLogDestination(
            settings.request_log_bucket,
            settings.request_log_key_prefix,
            settings.request_log_region,
            settings.request_log_endpoint,
        ),
        storage_role_arn=settings.request_log_storage_role_arn,
        service_user_public_key=settings.snowflake_service_user_public_key,
        budgets=budget_rows(generated.manifest),
        uses_cortex=any(task["route"] == "snowflake_cortex" for task in generated.manifest["tasks"].values()),
    ),
)

# Two instances: cached responses may be evicted under memory pressure, the router's cooldowns and
# usage counters never (a burst of cache writes must not make the fleet forget a dead provider).
cache_redis = RedisCache(
    f"{NAME}-redis-cache",
    RedisCacheArgs(
        namespace=namespace.namespace_name,
        image=settings.redis_image,
        role="cache",
        eviction_policy="allkeys-lru",
        acl_rules=redis_acl_rules(semantic_cache=generated.semantic_cache),
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
state_memory = f"{settings.router_state_memory_mi}Mi"
state_redis = RedisCache(
    f"{NAME}-redis-state",
    RedisCacheArgs(
        namespace=namespace.namespace_name,
        image=settings.redis_image,
        role="state",
        eviction_policy="noeviction",
        acl_rules=redis_acl_rules(semantic_cache=False),
        client_pod_labels=Gateway.POD_LABELS,
        # Keys of a few bytes that expire within a minute: small, no modules, nothing to persist.
        resources=Resources("50m", "250m", state_memory, state_memory),
        memory_mi=settings.router_state_memory_mi,
        modules=[],
        persistence=False,
        storage_size=settings.redis_storage_size,
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
            cache_redis=cache_redis.endpoint,
            state_redis=state_redis.endpoint,
            secrets=secrets,
            resources=settings.gateway_resources,
            autoscaling=settings.autoscaling,
            disruption=settings.disruption,
            zone_spread=settings.zone_spread,
            allowed_namespaces=settings.allowed_namespaces,
            monitoring=Monitoring(
                settings.monitoring_namespace, settings.service_monitor, settings.prometheus_selector
            ),
            cors_origins=settings.cors_origins,
            egress_proxy=settings.egress_proxy_target,
            request_log=analytics.request_log,
        ),
        opts=pulumi.ResourceOptions.merge(
            on_cluster, pulumi.ResourceOptions(depends_on=[namespace, cache_redis, state_redis, secrets])
        ),
    )
except MissingProviderKeyError as error:
    _refuse(error)

# Dashboards, rules and alert routes, all generated from the spec (docs/metrics.md).
observability = Observability(
    f"{NAME}-observability",
    ObservabilityArgs(
        files=observability_files,
        namespace=namespace.namespace_name,
        namespace_name=settings.namespace,
        dashboards_namespace=settings.dashboards_namespace or settings.monitoring_namespace,
        folder=settings.dashboard_folder,
        rule_labels=settings.prometheus_selector,
        grafana_api=GrafanaApi(settings.grafana_url, loaded.grafana_token)
        if settings.grafana_url and loaded.grafana_token is not None
        else None,
        receivers={
            "page": AlertReceiver(settings.alert_page_receiver, loaded.alert_receiver_secrets["page"]),
            "ticket": AlertReceiver(settings.alert_ticket_receiver, loaded.alert_receiver_secrets["ticket"]),
        }
        if settings.alerting
        else {},
    ),
    opts=in_namespace,
)

pulumi.export("environment", settings.environment)
pulumi.export("engine", settings.engine)
pulumi.export("namespace", namespace.namespace_name)
pulumi.export("gatewayUrl", gateway.url)
pulumi.export("gatewayServiceName", gateway.service_name)
pulumi.export("configChecksum", gateway.config_checksum)
pulumi.export("dashboards", observability.dashboard_uids)
pulumi.export("dashboardsLocation", observability.dashboards_location)
pulumi.export("prometheusRule", observability.prometheus_rule_name)
pulumi.export("alertmanagerConfig", observability.alertmanager_config_name)
pulumi.export("redisCacheServiceName", cache_redis.service_name)
pulumi.export("redisStateServiceName", state_redis.service_name)
pulumi.export("analyticsDatabase", analytics.database_name)
pulumi.export("requestLogUrl", analytics.request_log.url)
# For the AWS side of the request log: the bucket's object-created notifications go to this queue,
# and the storage role trusts this IAM user with this external id.
pulumi.export("requestLogPipeQueueArn", analytics.pipe_notification_channel)
pulumi.export("requestLogIntegrationIamUserArn", analytics.integration_iam_user_arn)
pulumi.export("requestLogIntegrationExternalId", analytics.integration_external_id)
# Where each application's key lives (a Secret per application); the keys themselves are never exported.
pulumi.export("applicationKeySecrets", {name: ref.secret_name for name, ref in secrets.application_keys.items()})

portkey: PortkeyControlPlane | None = None
if hosted is not None and portkey_workspace is not None:
    try:
        portkey = PortkeyControlPlane(
            f"{NAME}-portkey",
            PortkeyControlPlaneArgs(
                hosted=hosted,
                base_url=settings.portkey_base_url,
                workspace_id=portkey_workspace,
                usage_policies=settings.portkey_usage_policies,
                provider_keys=loaded.provider_keys.by_env_var,
                managed_by=loaded.managed_by,
            ),
        )
    except MissingPortkeyKeyError as error:
        _refuse(error)
    pulumi.export("portkeyProviders", portkey.provider_slugs)
    pulumi.export("portkeyConfigSlugs", portkey.config_slugs)

if settings.esc_app_environment:
    app_environment = AppEnvironment(
        f"{NAME}-app-environment",
        AppEnvironmentArgs(
            organization=pulumi.get_organization(),
            environment=settings.environment,
            managed_by=loaded.managed_by,
            gateway_url=gateway.url,
            application_keys=secrets.application_key_values,
            portkey_url=settings.portkey_base_url if portkey is not None else None,
            config_slugs=portkey.config_slugs if portkey is not None else {},
            routing_manifest=generated.manifest,
        ),
    )
    pulumi.export("escAppEnvironment", app_environment.name)
    # What each application's service opens (`esc run <environment> -- …`).
    pulumi.export("escApplicationEnvironments", app_environment.application_environments)
