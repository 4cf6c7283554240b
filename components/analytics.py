"""Snowflake analytics for one environment: every gateway request lands in a table, KPIs in views.

The gateway's LiteLLM proxy writes each request's payload to S3 (the ``s3_v2`` callback, configured
by the generator); an external stage on that prefix and an auto-ingest pipe load every new file
through a COPY transformation into ``REQUEST_LOG`` (``program/analytics_sql.py`` holds the SQL, the
tests run the same text on fakesnow). Views read it; the spec's budgets are a view over VALUES.

Two Snowflake providers, so that nothing needs a grant of ACCOUNTADMIN or SECURITYADMIN:

- the *deploy* role (SYSADMIN by default) owns the database and everything in it;
- the *admin* role (ACCOUNTADMIN by default) does only what Snowflake reserves for account
  administrators: the resource monitor and the warehouse it is assigned to, the storage integration,
  the roles and the service user, and the grants on those.

Roles, least privilege:

- ``<P>_<ENV>_LOADER``: ingest only (USAGE on the database, schema, stage and file format, INSERT on
  the table, OPERATE and MONITOR on the pipe), for operators replaying files;
- ``<P>_<ENV>_ANALYST``: SELECT on the views (present and future), USAGE on the warehouse; not on the
  table, whose raw payloads carry request headers;
- ``<P>_<ENV>_EMBEDDER``: the role that calls Cortex for the spec's embeddings route
  (``SNOWFLAKE.CORTEX_USER`` and the warehouse), granted to the service user, who signs in with a
  key pair: its public key is a stack setting, its private key lives in ESC only.

All three roles roll up to the deploy role, as Snowflake recommends for custom roles.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_snowflake as snowflake

from program import analytics_sql as sql

SCHEMA = "GATEWAY"
# The resources the program uses that pulumi-snowflake 2.x still ships as preview features.
PREVIEW_FEATURES = ["snowflake_table_resource", "snowflake_pipe_resource"]
CORTEX_USER_ROLE = '"SNOWFLAKE"."CORTEX_USER"'


@dataclass(frozen=True)
class SnowflakeAccount:
    """Where the objects go and which roles create them (credentials come from the environment)."""

    organization: str
    account: str
    deploy_role: str
    admin_role: str


@dataclass(frozen=True)
class CreditMonitor:
    """The warehouse's monthly credit quota and what happens as it is used up (percent of the quota)."""

    credit_quota: int
    notify_percents: Sequence[int]
    suspend_percent: int
    suspend_immediate_percent: int


@dataclass(frozen=True)
class RequestLogDestination:
    """Where the gateway writes its request log: what the Gateway's pods are told, what the stage reads."""

    bucket: str
    prefix: str
    region: str
    endpoint: str | None  # None on AWS

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}/"


@dataclass(frozen=True)
class AnalyticsArgs:
    """Arguments of :class:`Analytics`."""

    environment: str
    account: SnowflakeAccount
    object_prefix: str
    warehouse_size: str
    auto_suspend_seconds: int
    monitor: CreditMonitor
    request_log: RequestLogDestination
    storage_role_arn: str
    service_user_public_key: str
    # (environment, task or None, route, monthly USD), from routing.json (analytics_sql.budget_rows)
    budgets: Sequence[tuple[str, str | None, str | None, float]]
    # Whether the environment routes a task to Snowflake Cortex (routing.json `route`).
    uses_cortex: bool


def _qualified(*parts: str) -> str:
    return ".".join(f'"{part}"' for part in parts)


class Analytics(pulumi.ComponentResource):
    """Database, schema, warehouse and monitor, roles and grants, integration, stage, pipe, table, views."""

    database_name: str
    request_log: RequestLogDestination
    # The SQS queue the bucket's object-created notifications must target (auto-ingest).
    pipe_notification_channel: pulumi.Output[str | None]
    # What the IAM role named by requestLogStorageRoleArn must trust.
    integration_iam_user_arn: pulumi.Output[str | None]
    integration_external_id: pulumi.Output[str | None]

    def __init__(self, name: str, args: AnalyticsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llm-gateway:index:Analytics", name, None, opts)
        self._name = name
        self._args = args
        base = f"{args.object_prefix}_{args.environment.upper()}"
        self._base = base
        self.database_name = base
        self.request_log = args.request_log
        deploy = self._snowflake_provider("deploy", args.account.deploy_role)
        admin = self._snowflake_provider("admin", args.account.admin_role)
        self._objects = pulumi.ResourceOptions(parent=self, provider=deploy)
        self._account = pulumi.ResourceOptions(parent=self, provider=admin)

        warehouse = self._warehouse()
        roles = self._roles()
        database = snowflake.Database(
            f"{name}-database",
            name=base,
            comment=f"llm-gateway {args.environment}: the gateway's request log and its KPIs",
            opts=self._objects,
        )
        schema = snowflake.Schema(
            f"{name}-schema",
            database=database.name,
            name=SCHEMA,
            # Only the schema's owner grants on its objects: no object owner can widen access.
            with_managed_access="true",
            opts=self._objects,
        )
        self._fqn = {
            sql.TABLE: f"{base}.{SCHEMA}.{sql.TABLE}",
            sql.REQUESTS_VIEW: f"{base}.{SCHEMA}.{sql.REQUESTS_VIEW}",
            sql.BUDGETS_VIEW: f"{base}.{SCHEMA}.{sql.BUDGETS_VIEW}",
        }
        table, stage, file_format, pipe, integration = self._ingest(database, schema)
        views = self._views(database, schema, table)
        self._grants(roles, warehouse, database, schema, table, stage, file_format, pipe, views)
        self._service_user(roles["EMBEDDER"], warehouse)

        self.pipe_notification_channel = pipe.notification_channel
        described = integration.describe_outputs.apply(lambda outputs: outputs[0] if outputs else None)
        self.integration_iam_user_arn = described.apply(lambda d: d.iam_user_arn if d else None)
        self.integration_external_id = described.apply(lambda d: d.external_id if d else None)
        self.register_outputs(
            {
                "database_name": self.database_name,
                "request_log_url": args.request_log.url,
                "pipe_notification_channel": self.pipe_notification_channel,
                "integration_iam_user_arn": self.integration_iam_user_arn,
                "integration_external_id": self.integration_external_id,
            }
        )

    def _snowflake_provider(self, label: str, role: str) -> snowflake.Provider:
        # User and private key come from the environment (SNOWFLAKE_USER, SNOWFLAKE_PRIVATE_KEY, which
        # the stack's ESC environment exports): never in config, the program or state.
        account = self._args.account
        return snowflake.Provider(
            f"{self._name}-{label}",
            organization_name=account.organization,
            account_name=account.account,
            role=role,
            authenticator="SNOWFLAKE_JWT",
            preview_features_enabled=PREVIEW_FEATURES,
            opts=pulumi.ResourceOptions(parent=self),
        )

    # --- compute and its budget -----------------------------------------------------------------------

    def _warehouse(self) -> snowflake.Warehouse:
        args = self._args
        monitor = snowflake.ResourceMonitor(
            f"{self._name}-monitor",
            name=f"{self._base}_MONITOR",
            credit_quota=args.monitor.credit_quota,
            frequency="MONTHLY",
            start_timestamp="IMMEDIATELY",
            notify_triggers=list(args.monitor.notify_percents),
            suspend_trigger=args.monitor.suspend_percent,
            suspend_immediate_trigger=args.monitor.suspend_immediate_percent,
            opts=self._account,
        )
        # Assigning a resource monitor is an account administrator's act: the admin role owns it.
        return snowflake.Warehouse(
            f"{self._name}-warehouse",
            name=f"{self._base}_WH",
            warehouse_size=args.warehouse_size,
            auto_suspend=args.auto_suspend_seconds,
            auto_resume="true",
            initially_suspended=True,
            resource_monitor=monitor.name,
            # A runaway analyst query must not burn the month's credits in one go.
            statement_timeout_in_seconds=3600,
            comment=f"llm-gateway {args.environment}: KPI queries and Cortex calls",
            opts=self._account,
        )

    def _roles(self) -> dict[str, snowflake.AccountRole]:
        purposes = {
            "LOADER": "ingests the gateway request log (stage, pipe, table INSERT)",
            "ANALYST": "reads the gateway KPI views",
            "EMBEDDER": "calls Snowflake Cortex for the embeddings route",
        }
        roles = {}
        for kind, purpose in purposes.items():
            role = snowflake.AccountRole(
                f"{self._name}-role-{kind.lower()}",
                name=f"{self._base}_{kind}",
                comment=f"llm-gateway {self._args.environment}: {purpose}",
                opts=self._account,
            )
            snowflake.GrantAccountRole(
                f"{self._name}-role-{kind.lower()}-to-deployer",
                role_name=role.name,
                parent_role_name=self._args.account.deploy_role,
                opts=self._account,
            )
            roles[kind] = role
        return roles

    # --- ingestion ------------------------------------------------------------------------------------

    def _ingest(
        self, database: snowflake.Database, schema: snowflake.Schema
    ) -> tuple[
        snowflake.Table,
        snowflake.StageExternalS3,
        snowflake.FileFormatJson,
        snowflake.Pipe,
        snowflake.StorageIntegrationAws,
    ]:
        args, name = self._args, self._name
        integration = snowflake.StorageIntegrationAws(
            f"{name}-storage-integration",
            name=f"{self._base}_REQUEST_LOG",
            enabled=True,
            storage_provider="S3",
            storage_aws_role_arn=args.storage_role_arn,
            storage_allowed_locations=[args.request_log.url],
            comment=f"llm-gateway {args.environment}: read the gateway request log",
            opts=self._account,
        )
        # The deploy role creates the stage on the integration the admin role owns.
        integration_usage = snowflake.GrantPrivilegesToAccountRole(
            f"{name}-integration-usage",
            account_role_name=args.account.deploy_role,
            privileges=["USAGE"],
            on_account_object=snowflake.GrantPrivilegesToAccountRoleOnAccountObjectArgs(
                object_type="INTEGRATION", object_name=integration.name
            ),
            opts=self._account,
        )
        file_format = snowflake.FileFormatJson(
            f"{name}-file-format",
            name=sql.FILE_FORMAT,
            compression="AUTO",
            comment="LiteLLM s3_v2 payloads: one JSON object per line",
            database=database.name,
            schema=schema.name,
            opts=self._objects,
        )
        format_name = _qualified(self._base, SCHEMA, sql.FILE_FORMAT)
        stage = snowflake.StageExternalS3(
            f"{name}-stage",
            name=sql.STAGE,
            url=args.request_log.url,
            storage_integration=integration.name,
            file_format=snowflake.StageExternalS3FileFormatArgs(format_name=format_name),
            comment="the gateway request log, as the LiteLLM callback writes it",
            database=database.name,
            schema=schema.name,
            opts=pulumi.ResourceOptions.merge(self._objects, pulumi.ResourceOptions(depends_on=[integration_usage])),
        )
        table = snowflake.Table(
            f"{name}-request-log",
            name=sql.TABLE,
            columns=[
                snowflake.TableColumnArgs(
                    name=column.name,
                    type=column.type,
                    comment=column.comment,
                    default=snowflake.TableColumnDefaultArgs(expression=column.default) if column.default else None,
                )
                for column in sql.COLUMNS
            ],
            comment="one row per LiteLLM payload: a request, or a failed attempt before a fallback",
            database=database.name,
            schema=schema.name,
            opts=self._objects,
        )
        pipe = snowflake.Pipe(
            f"{name}-pipe",
            name=sql.PIPE,
            auto_ingest=True,
            copy_statement=sql.copy_statement(
                self._fqn[sql.TABLE],
                f"{self._base}.{SCHEMA}.{sql.STAGE}",
                f"{self._base}.{SCHEMA}.{sql.FILE_FORMAT}",
                args.environment,
            ),
            comment="loads each new request-log file through the COPY transformation",
            database=database.name,
            schema=schema.name,
            opts=pulumi.ResourceOptions.merge(
                self._objects, pulumi.ResourceOptions(depends_on=[table, stage, file_format])
            ),
        )
        return table, stage, file_format, pipe, integration

    def _views(
        self, database: snowflake.Database, schema: snowflake.Schema, table: snowflake.Table
    ) -> list[snowflake.View]:
        budgets = snowflake.View(
            f"{self._name}-view-budgets",
            name=sql.BUDGETS_VIEW,
            statement=sql.budgets_sql(self._args.budgets).strip(),
            comment="the spec's monthly budgets (routing.yaml environments.<env>.budgets), written by the program",
            database=database.name,
            schema=schema.name,
            opts=self._objects,
        )
        created: dict[str, pulumi.Resource] = {sql.TABLE: table, sql.BUDGETS_VIEW: budgets}
        views = [budgets]
        for view in sql.VIEWS:
            resource = snowflake.View(
                f"{self._name}-view-{view.name.lower().replace('_', '-')}",
                name=view.name,
                statement=sql.view_statement(view, self._fqn),
                comment=view.comment,
                database=database.name,
                schema=schema.name,
                opts=pulumi.ResourceOptions.merge(
                    self._objects,
                    pulumi.ResourceOptions(depends_on=[created[dep] for dep in sql.view_dependencies(view)]),
                ),
            )
            created[view.name] = resource
            views.append(resource)
        return views

    # --- access ---------------------------------------------------------------------------------------

    def _grant(
        self,
        label: str,
        role: snowflake.AccountRole,
        privileges: list[str],
        opts: pulumi.ResourceOptions,
        depends_on: Sequence[pulumi.Resource] = (),
        on_account_object: snowflake.GrantPrivilegesToAccountRoleOnAccountObjectArgs | None = None,
        on_schema: snowflake.GrantPrivilegesToAccountRoleOnSchemaArgs | None = None,
        on_schema_object: snowflake.GrantPrivilegesToAccountRoleOnSchemaObjectArgs | None = None,
    ) -> None:
        """``privileges`` to ``role`` on exactly one of an account object, a schema or schema objects."""
        snowflake.GrantPrivilegesToAccountRole(
            f"{self._name}-grant-{label}",
            account_role_name=role.name,
            privileges=privileges,
            on_account_object=on_account_object,
            on_schema=on_schema,
            on_schema_object=on_schema_object,
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=list(depends_on))),
        )

    def _grants(
        self,
        roles: dict[str, snowflake.AccountRole],
        warehouse: snowflake.Warehouse,
        database: snowflake.Database,
        schema: snowflake.Schema,
        table: snowflake.Table,
        stage: snowflake.StageExternalS3,
        file_format: snowflake.FileFormatJson,
        pipe: snowflake.Pipe,
        views: list[snowflake.View],
    ) -> None:
        on_database = snowflake.GrantPrivilegesToAccountRoleOnAccountObjectArgs(
            object_type="DATABASE", object_name=database.name
        )
        schema_name = _qualified(self._base, SCHEMA)
        on_schema = snowflake.GrantPrivilegesToAccountRoleOnSchemaArgs(schema_name=schema_name)
        on_warehouse = snowflake.GrantPrivilegesToAccountRoleOnAccountObjectArgs(
            object_type="WAREHOUSE", object_name=warehouse.name
        )

        def on_object(kind: str, object_name: str) -> snowflake.GrantPrivilegesToAccountRoleOnSchemaObjectArgs:
            return snowflake.GrantPrivilegesToAccountRoleOnSchemaObjectArgs(
                object_type=kind, object_name=_qualified(self._base, SCHEMA, object_name)
            )

        for kind in ("LOADER", "ANALYST"):
            role, label = roles[kind], kind.lower()
            self._grant(f"{label}-database", role, ["USAGE"], self._objects, on_account_object=on_database)
            self._grant(f"{label}-schema", role, ["USAGE"], self._objects, [schema], on_schema=on_schema)
        loader = roles["LOADER"]
        self._grant(
            "loader-table", loader, ["INSERT"], self._objects, [table], on_schema_object=on_object("TABLE", sql.TABLE)
        )
        self._grant(
            "loader-stage", loader, ["USAGE"], self._objects, [stage], on_schema_object=on_object("STAGE", sql.STAGE)
        )
        self._grant(
            "loader-file-format",
            loader,
            ["USAGE"],
            self._objects,
            [file_format],
            on_schema_object=on_object("FILE FORMAT", sql.FILE_FORMAT),
        )
        self._grant(
            "loader-pipe",
            loader,
            ["OPERATE", "MONITOR"],
            self._objects,
            [pipe],
            on_schema_object=on_object("PIPE", sql.PIPE),
        )

        analyst = roles["ANALYST"]
        views_in_schema = {"object_type_plural": "VIEWS", "in_schema": schema_name}
        self._grant(
            "analyst-views",
            analyst,
            ["SELECT"],
            self._objects,
            views,
            on_schema_object=snowflake.GrantPrivilegesToAccountRoleOnSchemaObjectArgs(
                all=snowflake.GrantPrivilegesToAccountRoleOnSchemaObjectAllArgs(**views_in_schema)
            ),
        )
        self._grant(
            "analyst-future-views",
            analyst,
            ["SELECT"],
            self._objects,
            [schema],
            on_schema_object=snowflake.GrantPrivilegesToAccountRoleOnSchemaObjectArgs(
                future=snowflake.GrantPrivilegesToAccountRoleOnSchemaObjectFutureArgs(**views_in_schema)
            ),
        )
        for kind in ("ANALYST", "EMBEDDER"):
            self._grant(
                f"{kind.lower()}-warehouse", roles[kind], ["USAGE"], self._account, on_account_object=on_warehouse
            )
        if self._args.uses_cortex:
            # Cortex functions need this database role; accounts that revoked it from PUBLIC rely on it here.
            snowflake.GrantDatabaseRole(
                f"{self._name}-cortex-user",
                database_role_name=CORTEX_USER_ROLE,
                parent_role_name=roles["EMBEDDER"].name,
                opts=self._account,
            )

    def _service_user(self, role: snowflake.AccountRole, warehouse: snowflake.Warehouse) -> None:
        user = snowflake.ServiceUser(
            f"{self._name}-service-user",
            name=f"{self._base}_SVC",
            login_name=f"{self._base}_SVC",
            # The private half lives in ESC only; the public key is kept out of plans and diffs too.
            rsa_public_key=pulumi.Output.secret(self._args.service_user_public_key),
            default_role=role.name,
            default_warehouse=warehouse.name,
            default_secondary_roles_option="NONE",
            comment=f"llm-gateway {self._args.environment}: calls Cortex for the embeddings route (key pair only)",
            opts=pulumi.ResourceOptions.merge(
                self._account, pulumi.ResourceOptions(additional_secret_outputs=["rsaPublicKey"])
            ),
        )
        snowflake.GrantAccountRole(
            f"{self._name}-service-user-role", role_name=role.name, user_name=user.name, opts=self._account
        )
