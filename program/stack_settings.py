"""Typed stack settings for the llm-gateway Pulumi program.

Every setting lives in the ``llm-gateway`` config namespace (``Pulumi.yaml`` declares each one
with its type, default and description; ``tests/pulumi/test_stack_settings.py`` keeps the two in
step). Pulumi hands config to the program as strings, so this module parses them into a pydantic
model that rejects unknown keys and ill-typed values. A mistake surfaces as one
:class:`SettingsError` whose message names the key (``llm-gateway:replicas``) instead of a
traceback from deep inside a component.

Provider API keys are different: they are secrets supplied by Pulumi ESC. They never enter the
pydantic model (whose ``repr`` could end up in a log); the loader only checks that each is set and
marked secret and not the ESC placeholder (:data:`ESC_PLACEHOLDER`), and hands them on as secret
``pulumi.Output`` values. This module reads stack config only, never the generated tree.
"""

from __future__ import annotations

import base64
import binascii
import difflib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, Literal

import pulumi
from pulumi.runtime.mocks import MockMonitor
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel

from program.cluster import kubeconfig_problem
from program.egress import EgressProxy, parse_egress_proxy
from program.kube import Autoscaling, Disruption, Resources
from runtime.engines import DEFAULT_ENGINE, ENGINES, LITELLM, PORTKEY, Engine, UnknownEngineError, engine_named

NAMESPACE = "llm-gateway"

# Stack name → generated-config environment. Any other stack must set `environment` explicitly.
STACK_ENVIRONMENTS: dict[str, str] = {"staging": "staging", "prod": "prod"}

# Provider keys: config key → the environment variable the generated configs read it from (the
# spec's `providers.<name>.api_key_env`, stated in routing.json; a test keeps the two in step).
# They come from ESC (`esc/<env>.yaml`), always as secrets.
PROVIDER_KEY_SETTINGS: dict[str, str] = {
    "openaiApiKey": "OPENAI_API_KEY",
    "anthropicApiKey": "ANTHROPIC_API_KEY",
    "openrouterApiKey": "OPENROUTER_API_KEY",
}
# Where each provider key lives in the ESC environment (`values.providerKeys.*` in esc/<env>.yaml,
# mapped onto the config key by its `pulumiConfig`); tests/pulumi keeps the two in step.
PROVIDER_KEY_ESC_PATHS: dict[str, str] = {
    "openaiApiKey": "providerKeys.openai",
    "anthropicApiKey": "providerKeys.anthropic",
    "openrouterApiKey": "providerKeys.openrouter",
}
# The request log's object-storage credentials (AWS access key of an IAM user that may only PutObject
# under the log prefix), read by LiteLLM's S3 logger through the AWS SDK's standard variables.
REQUEST_LOG_KEY_SETTINGS: dict[str, str] = {
    "requestLogAwsAccessKeyId": "AWS_ACCESS_KEY_ID",
    "requestLogAwsSecretAccessKey": "AWS_SECRET_ACCESS_KEY",
}
REQUEST_LOG_KEY_ESC_PATHS: dict[str, str] = {
    "requestLogAwsAccessKeyId": "requestLog.awsAccessKeyId",
    "requestLogAwsSecretAccessKey": "requestLog.awsSecretAccessKey",
}
# Secret settings besides the provider and request-log keys: the stack's kubeconfig, from its ESC environment.
KUBECONFIG_SETTING = "kubeconfig"
# The Portkey admin API key (a secret from ESC, `values.portkey.adminKey`): the Portkey dynamic
# providers read it from the stack config themselves (program/portkey/api.py), so it never becomes a
# resource property. Required while `portkeyControlPlane` is on.
PORTKEY_ADMIN_KEY_SETTING = "portkeyAdminKey"
# Alert delivery (components/observability.py): per severity, the receiver's secret (a PagerDuty
# routing key, a Slack incoming-webhook URL or a webhook URL, as `alertPageReceiver` /
# `alertTicketReceiver` say), required while `alerting` is on; it goes into a Kubernetes Secret the
# AlertmanagerConfig references, nowhere else.
ALERT_RECEIVER_SECRET_SETTINGS: dict[str, str] = {"page": "alertPageSecret", "ticket": "alertTicketSecret"}
# The Grafana service account token, required while `grafanaUrl` is set (dashboards through Grafana's API).
GRAFANA_TOKEN_SETTING = "grafanaToken"
# The secrets every stack needs, and every secret setting (all come from ESC).
REQUIRED_SECRET_SETTINGS: tuple[str, ...] = (*PROVIDER_KEY_SETTINGS, *REQUEST_LOG_KEY_SETTINGS, KUBECONFIG_SETTING)
SECRET_SETTINGS: tuple[str, ...] = (
    *REQUIRED_SECRET_SETTINGS,
    PORTKEY_ADMIN_KEY_SETTING,
    *ALERT_RECEIVER_SECRET_SETTINGS.values(),
    GRAFANA_TOKEN_SETTING,
)
# Where the ESC environments hold what they supply (esc/<stack>.yaml).
ESC_PATHS: dict[str, str] = {
    **PROVIDER_KEY_ESC_PATHS,
    **REQUEST_LOG_KEY_ESC_PATHS,
    KUBECONFIG_SETTING: "cluster.kubeconfig",
    PORTKEY_ADMIN_KEY_SETTING: "portkey.adminKey",
    "alertPageSecret": "alerting.page",
    "alertTicketSecret": "alerting.ticket",
    GRAFANA_TOKEN_SETTING: "grafana.token",
    "kubeContext": "cluster.context",
    "litellmImage": "images.litellm",
}
# Declared with default "" in Pulumi.yaml (the CLI requires keys without a default): "" means unset.
OPTIONAL_STRING_SETTINGS = (
    "environment",
    "namespace",
    "kubeContext",
    "redisStorageClass",
    "egressProxy",
    "requestLogPrefix",
    "requestLogEndpoint",
    "portkeyWorkspaceId",
    "grafanaUrl",
    "grafanaFolder",
    "dashboardsNamespace",
)
# The `fn::secret` value esc/*.yaml ship in place of each key. An environment created from those
# files and never given its real keys would otherwise deploy this string as an API key.
ESC_PLACEHOLDER = "set-with-esc-env-set"
_ESC_EXAMPLES = {
    "litellmImage": f"{LITELLM.default_image}@sha256:<digest printed by cosign verify; docs/deploy.md>",
    "kubeContext": "<context>",
    KUBECONFIG_SETTING: "<kubeconfig>",
}


def esc_set_hint(key: str, stack_name: str) -> str:
    """How to set a value the stack's ESC environment supplies (secrets from a file, never argv)."""
    path = ESC_PATHS.get(key)
    if path is None:
        return f"set {NAMESPACE}:{key} in Pulumi.{stack_name}.yaml"
    if key in SECRET_SETTINGS:
        # From standard input: a value on the command line would stay in shell history and `ps`.
        return (
            f"set the real value with esc env set {NAMESPACE}/{stack_name} {path} --secret --string --file - < <file>"
        )
    return f"set it with esc env set {NAMESPACE}/{stack_name} {path} '{_ESC_EXAMPLES.get(key, '<value>')}'"


# Where the official Redis 8 image installs its bundled modules.
REDISEARCH_MODULE = "/usr/local/lib/redis/modules/redisearch.so"
# The Redis every stack runs unless it pins its own; prod pins this tag by digest (Pulumi.prod.yaml).
DEFAULT_REDIS_IMAGE = "redis:8.4.4"

# A Docker image reference (distribution/reference): [registry[:port]/]path[:tag][@sha256:digest].
# No whitespace, no empty tag; the tag `latest` is refused separately (it moves under a running stack).
_IMAGE = re.compile(
    r"^(?P<name>[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(?:@(?P<digest>sha256:[0-9a-f]{64}))?$"
)
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
# A DNS subdomain (RFC 1123): what Kubernetes requires of most object names, StorageClasses included.
_DNS_SUBDOMAIN = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
# A browser origin as CORS compares it: scheme, host and optional port, nothing after.
_ORIGIN = re.compile(r"^https?://[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:[0-9]{1,5})?$")
_HTTPS_URL = re.compile(r"^https://[^\s/@]+(:[0-9]{1,5})?/?$")

# What `make plan` feeds the program for an image whose digest only the stack's ESC environment
# holds (prod): the tested tag with this all-zero digest, which no registry serves. The program
# accepts it only under Pulumi's mocks, so it can never reach a real deploy.
OFFLINE_IMAGE_DIGEST = "sha256:" + "0" * 64

# Sizes a gateway or Redis container is never meant to have: a typo (1Ti for 1Gi, 100 for 100m)
# fails here rather than as an unschedulable pod.
_CPU_RANGE = (Decimal("0.01"), Decimal("64"))
_MEMORY_RANGE = (Decimal(64 * 2**20), Decimal(256 * 2**30))
_STORAGE_RANGE = (Decimal(2**30), Decimal(16 * 2**40))
_QUANTITY = re.compile(r"^(?P<number>[0-9]+(\.[0-9]+)?)(?P<suffix>m|k|Ki|Mi|Gi|Ti|M|G|T)?$")
_SUFFIX = {
    None: Decimal(1),
    "m": Decimal("0.001"),
    "k": Decimal(10**3),
    "M": Decimal(10**6),
    "G": Decimal(10**9),
    "T": Decimal(10**12),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
}
_SNOWFLAKE_IDENTIFIER = re.compile(r"^[A-Z][A-Z0-9_]{0,99}$")
_SNOWFLAKE_ACCOUNT_PART = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,254}$")
_S3_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_S3_PREFIX = re.compile(r"^[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*$")
_AWS_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]$")
_IAM_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$")
# DER of an RSA SubjectPublicKeyInfo starts with a SEQUENCE and names rsaEncryption (1.2.840.113549.1.1.1).
_RSA_ENCRYPTION_OID = bytes.fromhex("06092a864886f70d010101")
_PORTKEY_WORKSPACE = re.compile(r"^[A-Za-z0-9_-]{1,100}$")
# A Kubernetes label: optional DNS-subdomain prefix and a name of up to 63 characters; a value likewise.
_LABEL_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_LABEL = re.compile(rf"^(?P<key>([a-z0-9]([-a-z0-9.]{{0,251}}[a-z0-9])?/)?{_LABEL_NAME})=(?P<value>({_LABEL_NAME})?)$")
_GRAFANA_URL = re.compile(r"^https://[^\s/@?#]+(:[0-9]{1,5})?(/[^\s?#@]*)?$")
_LOOPBACK_HTTP = re.compile(r"^http://(127\.0\.0\.1|localhost|\[::1\])(:[0-9]+)?/")


class SettingsError(Exception):
    """A stack setting is missing, unknown or ill-typed; the message names every bad key."""


def quantity_value(value: str) -> Decimal:
    """A Kubernetes quantity (``500m``, ``1``, ``512Mi``) as a number (cores or bytes)."""
    match = _QUANTITY.match(value)
    if not match:
        raise ValueError(f"not a Kubernetes quantity (e.g. 500m, 1, 512Mi, 2Gi): {value!r}")
    return Decimal(match["number"]) * _SUFFIX[match["suffix"]]


def _bounded_quantity(low: Decimal, high: Decimal, low_text: str, high_text: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if not low <= quantity_value(value) <= high:
            raise ValueError(f"{value!r} is outside {low_text}..{high_text}")
        return value

    return check


def _dns_label(value: str) -> str:
    if not _DNS_LABEL.match(value):
        raise ValueError(f"not a valid Kubernetes namespace name (RFC 1123 label): {value!r}")
    return value


def _dns_subdomain(value: str) -> str:
    if not _DNS_SUBDOMAIN.match(value):
        raise ValueError(f"not a Kubernetes object name (RFC 1123 subdomain: a-z, 0-9, '-', '.'): {value!r}")
    return value


def image_tag(image: str) -> str | None:
    """The tag of an image reference (``v1.106.12`` of ``ghcr.io/berriai/litellm:v1.106.12@sha256:…``)."""
    match = _IMAGE.match(image)
    return match["tag"] if match else None


def image_digest(image: str) -> str | None:
    """The digest of an image reference (``sha256:…``), or None when it is pinned by tag only."""
    match = _IMAGE.match(image)
    return match["digest"] if match else None


def _image(value: str) -> str:
    # A tag or a digest must be given: an unpinned image silently changes under a running stack.
    match = _IMAGE.match(value)
    if match is None:
        raise ValueError(f"not an image reference (name[:tag][@sha256:<64 hex>], no spaces, no empty tag): {value!r}")
    if match["tag"] is None and match["digest"] is None:
        raise ValueError(f"image must be pinned by tag or digest: {value!r}")
    if match["tag"] == "latest":
        raise ValueError(f"the tag 'latest' moves under a running stack; pin a version: {value!r}")
    return value


def _origin(value: str) -> str:
    if not _ORIGIN.match(value):
        raise ValueError(f"not a browser origin (https://host[:port], nothing after it): {value!r}")
    return value


def _egress_proxy(value: str) -> str:
    if parse_egress_proxy(value) is None:
        raise ValueError(
            f"not an in-cluster proxy Service URL (http://<service>.<namespace>[.svc.cluster.local]:<port>): {value!r}"
        )
    return value


def _https_url(value: str) -> str:
    if not _HTTPS_URL.match(value):
        raise ValueError(f"not a Kubernetes API server URL (https://host[:port]): {value!r}")
    return value.rstrip("/")


def _engine_name(value: str) -> str:
    try:
        return engine_named(value).name
    except UnknownEngineError as error:
        raise ValueError(str(error)) from None


def _module_path(value: str) -> str:
    if not value.startswith("/") or not value.endswith(".so"):
        raise ValueError(f"not an absolute path to a Redis module (.so): {value!r}")
    return value


CpuQuantity = Annotated[str, AfterValidator(_bounded_quantity(*_CPU_RANGE, "10m", "64"))]
MemoryQuantity = Annotated[str, AfterValidator(_bounded_quantity(*_MEMORY_RANGE, "64Mi", "256Gi"))]
StorageQuantity = Annotated[str, AfterValidator(_bounded_quantity(*_STORAGE_RANGE, "1Gi", "16Ti"))]


def _snowflake_identifier(value: str) -> str:
    if not _SNOWFLAKE_IDENTIFIER.match(value):
        raise ValueError(f"not an upper-case Snowflake identifier (A-Z, 0-9, _; starts with a letter): {value!r}")
    return value


def _snowflake_account_part(value: str) -> str:
    if not _SNOWFLAKE_ACCOUNT_PART.match(value):
        raise ValueError(f"not a Snowflake organization or account name (letters, digits, _): {value!r}")
    return value


def _matching(pattern: re.Pattern[str], what: str) -> Any:
    def check(value: str) -> str:
        if not pattern.match(value):
            raise ValueError(f"not {what}: {value!r}")
        return value

    return AfterValidator(check)


def _rsa_public_key(value: str) -> str:
    """Snowflake's RSA_PUBLIC_KEY: the base64 DER body of the PEM, one line, no header or trailer."""
    if "BEGIN" in value or "PRIVATE" in value.upper():
        raise ValueError(
            "give the public key's base64 body on one line, without -----BEGIN/END----- lines "
            "(and never the private key: it stays in ESC)"
        )
    try:
        der = base64.b64decode(value, validate=True)
    except binascii.Error:
        raise ValueError("not base64 (the public key's PEM body joined on one line)") from None
    if not der.startswith(b"\x30") or _RSA_ENCRYPTION_OID not in der[:32] or len(der) < 270:
        raise ValueError("not an RSA public key of at least 2048 bits (SubjectPublicKeyInfo DER, base64)")
    return value


def _portkey_url(value: str) -> str:
    # The admin API key travels with every call: https, or http to loopback only (a local fake).
    if not (value.startswith("https://") or _LOOPBACK_HTTP.match(value)) or not value.rstrip("/").endswith("/v1"):
        raise ValueError(f"not a Portkey API URL (https://…/v1; http only to loopback): {value!r}")
    return value.rstrip("/")


def _portkey_workspace(value: str) -> str:
    if not _PORTKEY_WORKSPACE.match(value):
        raise ValueError(f"not a Portkey workspace id or slug (letters, digits, '_', '-'): {value!r}")
    return value


def _label(value: str) -> str:
    if not _LABEL.match(value):
        raise ValueError(f"not a Kubernetes label as key=value (e.g. release=kube-prometheus-stack): {value!r}")
    return value


def _grafana_url(value: str) -> str:
    # The service account token travels with every call: https only, no credentials in the URL.
    if not (_GRAFANA_URL.match(value) or _LOOPBACK_HTTP.match(value.rstrip("/") + "/")):
        raise ValueError(f"not a Grafana URL (https://host[:port][/path]; http only to loopback): {value!r}")
    return value.rstrip("/")


def _folder_title(value: str) -> str:
    if not value.strip() or len(value) > 100 or "/" in value or value != value.strip():
        raise ValueError(f"not a Grafana folder title (1-100 characters, no '/', no surrounding spaces): {value!r}")
    return value


ModulePath = Annotated[str, AfterValidator(_module_path)]
Label = Annotated[str, AfterValidator(_label)]
GrafanaUrl = Annotated[str, AfterValidator(_grafana_url)]
FolderTitle = Annotated[str, AfterValidator(_folder_title)]
NamespaceName = Annotated[str, AfterValidator(_dns_label)]
ObjectName = Annotated[str, AfterValidator(_dns_subdomain)]
Image = Annotated[str, AfterValidator(_image)]
EngineName = Annotated[str, AfterValidator(_engine_name)]
Origin = Annotated[str, AfterValidator(_origin)]
EgressProxyUrl = Annotated[str, AfterValidator(_egress_proxy)]
ApiServerUrl = Annotated[str, AfterValidator(_https_url)]
SnowflakeIdentifier = Annotated[str, AfterValidator(_snowflake_identifier)]
SnowflakeAccountPart = Annotated[str, AfterValidator(_snowflake_account_part)]
S3Bucket = Annotated[str, _matching(_S3_BUCKET, "an S3 bucket name (3-63 of a-z, 0-9, '.', '-')")]
S3Prefix = Annotated[str, _matching(_S3_PREFIX, "an S3 key prefix without leading or trailing '/'")]
AwsRegion = Annotated[str, _matching(_AWS_REGION, "an AWS region (e.g. us-east-1)")]
IamRoleArn = Annotated[str, _matching(_IAM_ROLE_ARN, "an IAM role ARN (arn:aws:iam::<12 digits>:role/<name>)")]
# An S3-compatible store's endpoint: http(s), no path or credentials.
S3EndpointOrigin = Annotated[
    str, _matching(re.compile(r"^https?://[^\s/?#@]+$"), "an http(s) origin without path or credentials")
]
RsaPublicKey = Annotated[str, AfterValidator(_rsa_public_key)]
PortkeyUrl = Annotated[str, AfterValidator(_portkey_url)]
PortkeyWorkspace = Annotated[str, AfterValidator(_portkey_workspace)]


class StackSettings(BaseModel):
    """Non-secret stack settings. Field names are snake_case; config keys are their camelCase."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)

    environment: Literal["staging", "prod"]
    # Derived from the stack (`llm-gateway-<stack>`) when unset; an explicit one must end in
    # `-<stack>` too, so two stacks sharing a cluster never share a namespace (parse_stack_settings).
    namespace: NamespaceName
    engine: EngineName = DEFAULT_ENGINE

    # Which cluster the stack deploys to: the API server its kubeconfig must point at (the stack file
    # says it, in review; the kubeconfig comes from ESC), and the kubeconfig context to use (empty:
    # the kubeconfig's current-context).
    cluster_server: ApiServerUrl
    kube_context: str | None = None

    # One image setting per engine (runtime/engines.py names it). The defaults are the versions the
    # tests run (runtime/litellm/requirements.txt, runtime/portkey/package.json; tests/test_image_pins.py
    # keeps them equal). A stack that requires digests (prod) takes the gateway image from its ESC
    # environment, verified by the operator (docs/deploy.md), and must keep the tested tag.
    litellm_image: Image = LITELLM.default_image
    portkey_image: Image = PORTKEY.default_image
    # Redis 8 ships the query engine (RediSearch) that LiteLLM's `redis-semantic` cache needs.
    redis_image: Image = DEFAULT_REDIS_IMAGE
    require_image_digests: bool = False

    replicas: int = Field(default=1, ge=1, le=100)
    max_replicas: int = Field(default=2, ge=1, le=100)
    target_cpu_utilization: int = Field(default=70, ge=10, le=95)
    pdb_max_unavailable: int = Field(default=1, ge=1, le=100)
    gateway_cpu_request: CpuQuantity = "250m"
    gateway_cpu_limit: CpuQuantity = "1"
    gateway_memory_request: MemoryQuantity = "768Mi"
    gateway_memory_limit: MemoryQuantity = "1Gi"
    zone_spread: Literal["DoNotSchedule", "ScheduleAnyway"] = "ScheduleAnyway"

    allowed_namespaces: list[NamespaceName] = Field(default_factory=list)
    monitoring_namespace: NamespaceName = "monitoring"
    service_monitor: bool = True
    # Browser origins allowed to call the gateway (CORS); none by default.
    cors_origins: list[Origin] = Field(default_factory=list)
    # An in-cluster HTTP(S) proxy all provider traffic goes through; unset: HTTPS to public addresses.
    egress_proxy: EgressProxyUrl | None = None

    redis_cpu_request: CpuQuantity = "100m"
    redis_cpu_limit: CpuQuantity = "500m"
    redis_memory_mi: int = Field(default=256, ge=64, le=256 * 1024)
    redis_modules: list[ModulePath] = Field(default_factory=lambda: [REDISEARCH_MODULE])
    redis_persistence: bool = False
    redis_storage_size: StorageQuantity = "8Gi"
    redis_storage_class: ObjectName | None = None
    # The router's state (cooldowns, usage counters) in a Redis of its own that never evicts.
    router_state_memory_mi: int = Field(default=64, ge=32, le=4096)

    # Analytics (components/analytics.py): the request log's bucket and the Snowflake objects that load it.
    request_log_bucket: S3Bucket
    request_log_prefix: S3Prefix | None = None  # unset: llm-gateway/<environment>
    request_log_region: AwsRegion = "us-east-1"
    request_log_endpoint: S3EndpointOrigin | None = None  # unset on AWS: LiteLLM writes to the bucket's AWS URL
    request_log_storage_role_arn: IamRoleArn
    snowflake_organization: SnowflakeAccountPart
    snowflake_account: SnowflakeAccountPart
    snowflake_deploy_role: SnowflakeIdentifier = "SYSADMIN"
    snowflake_admin_role: SnowflakeIdentifier = "ACCOUNTADMIN"
    snowflake_object_prefix: SnowflakeIdentifier = "LLM_GATEWAY"
    snowflake_warehouse_size: Literal["XSMALL", "SMALL", "MEDIUM"] = "XSMALL"
    snowflake_auto_suspend_seconds: int = Field(default=60, ge=30, le=60)
    snowflake_credit_quota: int = Field(default=10, ge=1)
    snowflake_monitor_notify_percents: list[Annotated[int, Field(ge=1, le=200)]] = Field(
        default_factory=lambda: [75, 90]
    )
    snowflake_monitor_suspend_percent: int = Field(default=100, ge=1, le=200)
    snowflake_monitor_suspend_immediate_percent: int = Field(default=110, ge=1, le=200)
    snowflake_service_user_public_key: RsaPublicKey

    # Portkey's hosted control plane (components/portkey.py) and the ESC app environment
    # (components/app_environment.py), for environments whose configs target the Model Catalog.
    portkey_control_plane: bool = True
    portkey_base_url: PortkeyUrl = "https://api.portkey.ai/v1"
    portkey_workspace_id: PortkeyWorkspace | None = None
    portkey_usage_policies: bool = True
    esc_app_environment: bool = True

    # Observability (components/observability.py): dashboards, rules, alert routes.
    # The labels the stack's kube-prometheus-stack selects ServiceMonitors and PrometheusRules by.
    prometheus_selector_labels: list[Label] = Field(default_factory=lambda: ["release=kube-prometheus-stack"])
    # Unset: dashboards as ConfigMaps for the Grafana sidecar, in `dashboardsNamespace` (unset: the
    # monitoring namespace, where the sidecar looks by default). Set: through Grafana's API instead.
    grafana_url: GrafanaUrl | None = None
    grafana_folder: FolderTitle | None = None  # unset: "LLM gateway (<environment>)"
    dashboards_namespace: NamespaceName | None = None
    alerting: bool = True
    alert_page_receiver: Literal["pagerduty", "slack", "webhook"] = "pagerduty"
    alert_ticket_receiver: Literal["pagerduty", "slack", "webhook"] = "slack"

    @model_validator(mode="after")
    def _consistent(self) -> StackSettings:
        if self.max_replicas < self.replicas:
            raise _KeyedError("maxReplicas", f"must be >= replicas ({self.replicas})")
        if self.replicas > 1 and self.pdb_max_unavailable >= self.replicas:
            # A budget that lets every replica go at once protects nothing.
            raise _KeyedError("pdbMaxUnavailable", f"must be < replicas ({self.replicas})")
        if self.snowflake_monitor_suspend_immediate_percent < self.snowflake_monitor_suspend_percent:
            raise _KeyedError(
                "snowflakeMonitorSuspendImmediatePercent",
                f"must be >= snowflakeMonitorSuspendPercent ({self.snowflake_monitor_suspend_percent})",
            )
        for request, limit in (
            ("gatewayCpuRequest", "gatewayCpuLimit"),
            ("gatewayMemoryRequest", "gatewayMemoryLimit"),
            ("redisCpuRequest", "redisCpuLimit"),
        ):
            asked, allowed = getattr(self, _field_of_alias(request)), getattr(self, _field_of_alias(limit))
            if quantity_value(asked) > quantity_value(allowed):
                raise _KeyedError(request, f"{asked} is above its limit llm-gateway:{limit} ({allowed})")
        engine = self.engine_spec
        if self.cors_origins and engine.cors_origins_env is None:
            raise _KeyedError("corsOrigins", f"{engine.name} answers no CORS; no browser origin can be allowed")
        if self.egress_proxy and not engine.honours_https_proxy:
            raise _KeyedError("egressProxy", f"{engine.name} does not send its provider calls through HTTPS_PROXY")
        if self.require_image_digests:
            for key, image, tested in (
                ("redisImage", self.redis_image, DEFAULT_REDIS_IMAGE),
                (engine.image_setting, self.gateway_image, engine.default_image),
            ):
                if "@sha256:" not in image:
                    raise _KeyedError(key, f"this stack requires an image pinned @sha256:<digest>: {image!r}")
                if image_tag(image) != image_tag(tested):
                    raise _KeyedError(
                        key,
                        f"this stack runs the tested version {image_tag(tested)} (the default {tested}); got {image!r}",
                    )
        return self

    def require_portkey_workspace(self) -> str:
        """The workspace of the Portkey control plane; required once there is one to manage."""
        if self.portkey_workspace_id is None:
            raise SettingsError(
                f"{NAMESPACE}:portkeyWorkspaceId: required while {NAMESPACE}:portkeyControlPlane is true for an "
                "environment served by Portkey's hosted gateway: the id or slug of the environment's own workspace"
            )
        return self.portkey_workspace_id

    @property
    def engine_spec(self) -> Engine:
        """The registry entry of the engine this stack runs."""
        return ENGINES[self.engine]

    @property
    def gateway_image(self) -> str:
        """The image of the engine this stack runs (the setting the registry names for it)."""
        image: str = getattr(self, _field_of_alias(self.engine_spec.image_setting))
        return image

    @property
    def prometheus_selector(self) -> dict[str, str]:
        """``prometheusSelectorLabels`` as a label map."""
        return dict(label.split("=", 1) for label in self.prometheus_selector_labels)

    @property
    def dashboard_folder(self) -> str:
        return self.grafana_folder or f"LLM gateway ({self.environment})"

    @property
    def egress_proxy_target(self) -> EgressProxy | None:
        """The egress proxy, parsed (the setting is validated, so it parses)."""
        return parse_egress_proxy(self.egress_proxy) if self.egress_proxy else None

    @property
    def gateway_resources(self) -> Resources:
        return Resources(
            self.gateway_cpu_request, self.gateway_cpu_limit, self.gateway_memory_request, self.gateway_memory_limit
        )

    @property
    def autoscaling(self) -> Autoscaling:
        return Autoscaling(self.replicas, self.max_replicas, self.target_cpu_utilization)

    @property
    def disruption(self) -> Disruption:
        return Disruption(self.pdb_max_unavailable)

    @property
    def request_log_key_prefix(self) -> str:
        return self.request_log_prefix or f"llm-gateway/{self.environment}"

    @property
    def redis_resources(self) -> Resources:
        # Requests equal limits for memory: maxmemory is sized from it, and Redis must not be evicted.
        memory = f"{self.redis_memory_mi}Mi"
        return Resources(self.redis_cpu_request, self.redis_cpu_limit, memory, memory)


def _field_of_alias(alias: str) -> str:
    for name, field in StackSettings.model_fields.items():
        if field.alias == alias:
            return name
    raise KeyError(alias)


class _KeyedError(ValueError):
    """A cross-field rule broken by one specific key (so the message can name it)."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


@dataclass(frozen=True)
class ProviderKeys:
    """Provider API keys as secret Outputs, keyed by the env var the gateway reads them from."""

    by_env_var: dict[str, pulumi.Output[str]]


@dataclass(frozen=True)
class LoadedSettings:
    """Everything the program needs from stack config."""

    stack: StackSettings
    provider_keys: ProviderKeys
    kubeconfig: pulumi.Output[str]
    # env var (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) → secret Output: the request log's S3 credentials
    request_log_keys: dict[str, pulumi.Output[str]]
    # severity (page, ticket) → its receiver's secret (while `alerting` is on; else empty)
    alert_receiver_secrets: dict[str, pulumi.Output[str]]
    # The Grafana token while `grafanaUrl` is set, else None.
    grafana_token: pulumi.Output[str] | None

    @property
    def managed_by(self) -> str:
        """The marker objects this stack owns outside Kubernetes carry (Portkey descriptions, ESC comments)."""
        return f"pulumi {pulumi.get_project()}/{pulumi.get_stack()}"


def _raw_namespace_config() -> dict[str, str]:
    """All config values in our namespace, by short key.

    ``pulumi.Config`` can only answer for keys it is asked about, so a misspelled key would go
    unnoticed; the language host passes the whole config map to the program (``PULUMI_CONFIG``,
    which the offline runner sets the same way), and that lists every key that was set.
    """
    prefix = f"{NAMESPACE}:"
    config: dict[str, Any] = pulumi.runtime.get_config_env()
    return {key[len(prefix) :]: value for key, value in config.items() if key.startswith(prefix)}


def _is_secret(full_key: str) -> bool:
    # The CLI names secret keys in PULUMI_CONFIG_SECRET_KEYS; an embedding program may set them instead.
    return pulumi.runtime.is_config_secret(full_key) or full_key in pulumi.runtime.get_config_secret_keys_env()


def _decode(value: Any) -> Any:
    # Pulumi passes lists/objects as JSON text and scalars as plain strings; scalars are left for
    # pydantic's lax parsing ("3" -> 3, "true" -> True) so "three" fails with a clear message.
    if isinstance(value, str) and value.strip()[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _format_validation_error(err: ValidationError) -> list[str]:
    lines = []
    for problem in err.errors():
        location = [str(part) for part in problem["loc"]] or ["<settings>"]
        ctx_error = (problem.get("ctx") or {}).get("error")
        if isinstance(ctx_error, _KeyedError):
            location = [ctx_error.key]
            message = str(ctx_error)
        else:
            message = problem["msg"].removeprefix("Value error, ")
            got = repr(problem.get("input"))
            if problem["type"] not in ("missing", "extra_forbidden") and "input" in problem and got not in message:
                message += f" (got {got})"
        key = f"{NAMESPACE}:{location[0]}" + "".join(f"[{part}]" for part in location[1:])
        lines.append(f"{key}: {message}")
    return lines


def _known_keys() -> set[str]:
    fields = StackSettings.model_fields
    return {field.alias or name for name, field in fields.items()} | set(SECRET_SETTINGS)


def parse_stack_settings(raw: dict[str, Any], stack_name: str, allow_offline_images: bool = False) -> StackSettings:
    """Validate raw config values (short keys → strings) into :class:`StackSettings`.

    Pure function: the offline tests and the program share it. Raises :class:`SettingsError`.
    ``allow_offline_images``: accept the offline plan's placeholder digest (only under Pulumi's mocks).
    """
    problems: list[str] = []
    known = _known_keys()
    for key in sorted(set(raw) - known):
        close = difflib.get_close_matches(key, sorted(known), n=1)
        hint = f" (did you mean {NAMESPACE}:{close[0]}?)" if close else ""
        problems.append(f"{NAMESPACE}:{key}: unknown setting{hint}")

    values = {key: _decode(value) for key, value in raw.items() if key in known}
    # Pulumi.yaml declares optional strings with default "" (a declared key without a default
    # would be required by the CLI); "" means unset.
    for key in OPTIONAL_STRING_SETTINGS:
        if values.get(key) == "":
            del values[key]
    for key in SECRET_SETTINGS:
        values.pop(key, None)
    for key, value in sorted(values.items()):
        if isinstance(value, str) and value.strip() == ESC_PLACEHOLDER:
            problems.append(f"{NAMESPACE}:{key}: still the ESC placeholder; {esc_set_hint(key, stack_name)}")
            del values[key]
    default_environment = STACK_ENVIRONMENTS.get(stack_name)
    if "environment" not in values:
        if default_environment is None:
            raise SettingsError(
                f"{NAMESPACE}:environment: required for stack {stack_name!r} "
                f"(only {', '.join(STACK_ENVIRONMENTS)} map to an environment by name)"
            )
        values["environment"] = default_environment
    elif default_environment is not None and values["environment"] != default_environment:
        # The stack's keys, cluster and sizing are its own: another environment's routing must not run on them.
        problems.append(
            f"{NAMESPACE}:environment: stack {stack_name!r} serves environment {default_environment!r} "
            f"(its keys and cluster are {default_environment}'s); got {values['environment']!r}"
        )
    suffix = f"-{stack_name}"
    namespace = values.setdefault("namespace", f"{NAMESPACE}{suffix}")
    if isinstance(namespace, str) and not namespace.endswith(suffix):
        problems.append(
            f"{NAMESPACE}:namespace: must end in {suffix!r} so stacks sharing a cluster never share a "
            f"namespace (default {NAMESPACE}{suffix}); got {namespace!r}"
        )
    try:
        settings = StackSettings.model_validate(values)
    except ValidationError as err:
        # Report the unknown keys and the ill-typed ones together: one round trip to fix them all.
        raise SettingsError("\n".join([*problems, *_format_validation_error(err)])) from None
    if problems:
        raise SettingsError("\n".join(problems))
    if settings.require_image_digests and not allow_offline_images:
        for key, image in (
            ("redisImage", settings.redis_image),
            (settings.engine_spec.image_setting, settings.gateway_image),
        ):
            if image.endswith(OFFLINE_IMAGE_DIGEST):
                raise SettingsError(
                    f"{NAMESPACE}:{key}: the offline plan's placeholder digest, never deployable; "
                    f"{esc_set_hint(key, stack_name)}"
                )
    return settings


def provider_key_problems(
    raw: dict[str, Any],
    is_secret: Callable[[str], bool],
    stack_name: str,
    keys: tuple[str, ...] = REQUIRED_SECRET_SETTINGS,
) -> list[str]:
    """One message per secret setting in ``keys`` (by default those every stack needs: provider and
    request-log keys, kubeconfig) that is unset, the ESC placeholder, or not marked secret.

    The messages name the key, never its value.
    """
    problems = []
    for key in keys:
        full_key = f"{NAMESPACE}:{key}"
        value = raw.get(key)
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{full_key}: required secret is not set (it comes from the ESC environment)")
        elif value.strip() == ESC_PLACEHOLDER:
            problems.append(f"{full_key}: still the ESC placeholder; {esc_set_hint(key, stack_name)}")
        elif not is_secret(full_key):
            problems.append(f"{full_key}: must be a secret (ESC `fn::secret`, or `pulumi config set --secret`)")
    return problems


def _under_mocks() -> bool:
    """True when Pulumi's mocks run the program (tests, `make plan`), never under `pulumi up`."""
    return isinstance(pulumi.runtime.settings.get_monitor(), MockMonitor)


def load_settings() -> LoadedSettings:
    """Read and validate this stack's config. Raises :class:`SettingsError` naming the bad keys.

    Also checks, before anything is registered, that the kubeconfig points at the stack's cluster.
    """
    raw = _raw_namespace_config()
    stack_name = pulumi.get_stack()
    stack = parse_stack_settings(raw, stack_name, allow_offline_images=_under_mocks())

    required = (
        *REQUIRED_SECRET_SETTINGS,
        *([PORTKEY_ADMIN_KEY_SETTING] if stack.portkey_control_plane else []),
        *(ALERT_RECEIVER_SECRET_SETTINGS.values() if stack.alerting else ()),
        *([GRAFANA_TOKEN_SETTING] if stack.grafana_url else []),
    )
    problems = provider_key_problems(raw, _is_secret, stack_name, required)
    if problems:
        raise SettingsError("\n".join(problems))
    cluster_problem = kubeconfig_problem(raw[KUBECONFIG_SETTING], stack.kube_context, stack.cluster_server)
    if cluster_problem:
        raise SettingsError(f"{NAMESPACE}:{KUBECONFIG_SETTING}: {cluster_problem} (stack {stack_name!r})")

    config = pulumi.Config(NAMESPACE)
    keys = {env_var: config.require_secret(key) for key, env_var in PROVIDER_KEY_SETTINGS.items()}
    log_keys = {env_var: config.require_secret(key) for key, env_var in REQUEST_LOG_KEY_SETTINGS.items()}
    receivers = (
        {severity: config.require_secret(key) for severity, key in ALERT_RECEIVER_SECRET_SETTINGS.items()}
        if stack.alerting
        else {}
    )
    return LoadedSettings(
        stack=stack,
        provider_keys=ProviderKeys(by_env_var=keys),
        kubeconfig=config.require_secret(KUBECONFIG_SETTING),
        request_log_keys=log_keys,
        alert_receiver_secrets=receivers,
        grafana_token=config.require_secret(GRAFANA_TOKEN_SETTING) if stack.grafana_url else None,
    )
