"""The Snowflake side of each stack, under Pulumi's mocks: compute and its budget, roles and grants,
the ingestion path (integration, stage, pipe with the tested COPY), the views, the Cortex grant, the
service user; and the gateway's side of the request log (where it writes, with which credentials,
and a shutdown that waits for the last flush)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi_graph import auto_named, container, env_by_name, one

from components.analytics import PREVIEW_FEATURES, SCHEMA
from components.gateway import ENDPOINT_DRAIN_SECONDS
from gateway_config.runtime_env import (
    AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY,
    REQUEST_LOG_BUCKET,
    REQUEST_LOG_ENDPOINT,
    REQUEST_LOG_PREFIX,
    REQUEST_LOG_REGION,
    S3_FLUSH_INTERVAL,
)
from program import analytics_sql as sql
from program.generated_tree import load_generated_config
from runtime.engines import LITELLM, PORTKEY
from tools.offline import ROOT, unwrap_secrets
from tools.pulumi_mocks import SECRET_MARKER

GATEWAY = "llm-gateway"
SF = "snowflake:index/"
FORBIDDEN_ROLES = {"ACCOUNTADMIN", "SECURITYADMIN", "ORGADMIN"}


def _stack_config(stack: str) -> dict[str, Any]:
    raw = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    return {key.removeprefix("llm-gateway:"): value for key, value in raw.items()}


def _of_type(graph: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r for r in graph["resources"] if r["type"].startswith(SF) and r["type"].endswith(f":{kind}")]


def _only(graph: dict[str, Any], kind: str) -> dict[str, Any]:
    (resource,) = _of_type(graph, kind)
    return resource


def _inputs(resource: dict[str, Any]) -> dict[str, Any]:
    inputs: dict[str, Any] = unwrap_secrets(resource["inputs"], redact=False)
    return inputs


def _base(stack_graph: dict[str, Any]) -> str:
    return f"LLM_GATEWAY_{stack_graph['stack'].upper()}"


def _providers(graph: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["urn"]: r for r in graph["resources"] if r["type"] == "pulumi:providers:snowflake"}


def test_providers_enable_the_preview_resources_and_sign_in_with_a_key_pair(stack_graph: dict[str, Any]) -> None:
    config = _stack_config(stack_graph["stack"])
    providers = list(_providers(stack_graph).values())
    assert sorted(p["inputs"]["role"] for p in providers) == ["ACCOUNTADMIN", "SYSADMIN"]
    for provider in providers:
        inputs = provider["inputs"]
        assert json.loads(inputs["previewFeaturesEnabled"]) == PREVIEW_FEATURES
        assert inputs["authenticator"] == "SNOWFLAKE_JWT"
        assert (inputs["organizationName"], inputs["accountName"]) == (
            config["snowflakeOrganization"],
            config["snowflakeAccount"],
        )
        # The deploy key comes from the environment (ESC environmentVariables), never from config or state.
        assert "privateKey" not in inputs and "password" not in inputs


def test_warehouse_is_small_suspends_within_a_minute_and_has_its_resource_monitor(
    stack_graph: dict[str, Any],
) -> None:
    config = _stack_config(stack_graph["stack"])
    warehouse, monitor = _inputs(_only(stack_graph, "Warehouse")), _inputs(_only(stack_graph, "ResourceMonitor"))
    assert warehouse["warehouseSize"] == "XSMALL"
    assert warehouse["autoSuspend"] <= 60 and warehouse["autoResume"] == "true"
    assert warehouse["initiallySuspended"] is True
    assert warehouse["resourceMonitor"] == monitor["name"] == f"{_base(stack_graph)}_MONITOR"
    assert monitor["creditQuota"] == config["snowflakeCreditQuota"]
    assert (monitor["frequency"], monitor["startTimestamp"]) == ("MONTHLY", "IMMEDIATELY")
    assert monitor["notifyTriggers"] == [75, 90]
    assert (monitor["suspendTrigger"], monitor["suspendImmediateTrigger"]) == (100, 110)


def _grants(graph: dict[str, Any]) -> dict[str, set[tuple[str, str]]]:
    """Role → {(privilege, target)} of every GrantPrivilegesToAccountRole."""
    granted: dict[str, set[tuple[str, str]]] = {}
    for resource in _of_type(graph, "GrantPrivilegesToAccountRole"):
        inputs = _inputs(resource)
        if "onAccountObject" in inputs:
            target = f"{inputs['onAccountObject']['objectType']} {inputs['onAccountObject']['objectName']}"
        elif "onSchema" in inputs:
            target = f"SCHEMA {inputs['onSchema']['schemaName']}"
        else:
            on = inputs["onSchemaObject"]
            scope = next((key for key in ("all", "future") if key in on), None)
            target = (
                f"{scope.upper()} {on[scope]['objectTypePlural']} IN {on[scope]['inSchema']}"
                if scope
                else f"{on['objectType']} {on['objectName']}"
            )
        for privilege in inputs["privileges"]:
            granted.setdefault(inputs["accountRoleName"], set()).add((privilege, target))
    return granted


def test_roles_get_least_privilege(stack_graph: dict[str, Any]) -> None:
    base = _base(stack_graph)
    schema = f'"{base}"."{SCHEMA}"'
    roles = {_inputs(r)["name"] for r in _of_type(stack_graph, "AccountRole")}
    assert roles == {f"{base}_LOADER", f"{base}_ANALYST", f"{base}_EMBEDDER"}
    grants = _grants(stack_graph)
    assert grants[f"{base}_LOADER"] == {
        ("USAGE", f"DATABASE {base}"),
        ("USAGE", f"SCHEMA {schema}"),
        ("INSERT", f'TABLE {schema}."REQUEST_LOG"'),
        ("USAGE", f'STAGE {schema}."REQUEST_LOG_STAGE"'),
        ("USAGE", f'FILE FORMAT {schema}."REQUEST_LOG_JSON"'),
        ("OPERATE", f'PIPE {schema}."REQUEST_LOG_PIPE"'),
        ("MONITOR", f'PIPE {schema}."REQUEST_LOG_PIPE"'),
    }
    assert grants[f"{base}_ANALYST"] == {
        ("USAGE", f"DATABASE {base}"),
        ("USAGE", f"SCHEMA {schema}"),
        ("USAGE", f"WAREHOUSE {base}_WH"),
        ("SELECT", f"ALL VIEWS IN {schema}"),
        ("SELECT", f"FUTURE VIEWS IN {schema}"),
    }
    assert grants[f"{base}_EMBEDDER"] == {("USAGE", f"WAREHOUSE {base}_WH")}
    # The deploy role gets one thing: the use of the integration its stage reads through.
    assert grants["SYSADMIN"] == {("USAGE", f"INTEGRATION {base}_REQUEST_LOG")}
    assert set(grants) == {f"{base}_LOADER", f"{base}_ANALYST", f"{base}_EMBEDDER", "SYSADMIN"}


def test_no_one_is_granted_an_administrator_role(stack_graph: dict[str, Any]) -> None:
    for resource in _of_type(stack_graph, "GrantAccountRole"):
        assert _inputs(resource)["roleName"] not in FORBIDDEN_ROLES, resource["name"]
    for resource in _of_type(stack_graph, "GrantPrivilegesToAccountRole"):
        assert _inputs(resource)["accountRoleName"] not in FORBIDDEN_ROLES, resource["name"]
        assert not _inputs(resource).get("allPrivileges"), resource["name"]
        assert not _inputs(resource).get("onAccount"), resource["name"]


def test_cortex_user_goes_to_the_role_that_calls_cortex_and_to_the_service_user(stack_graph: dict[str, Any]) -> None:
    base = _base(stack_graph)
    (cortex,) = [_inputs(r) for r in _of_type(stack_graph, "GrantDatabaseRole")]
    assert cortex == {"databaseRoleName": '"SNOWFLAKE"."CORTEX_USER"', "parentRoleName": f"{base}_EMBEDDER"}
    # The route the spec names for embeddings is what this role can now call.
    manifest = json.loads((ROOT / "gateway_config" / "generated" / stack_graph["stack"] / "routing.json").read_text())
    assert manifest["tasks"]["embeddings"]["route"] == "snowflake_cortex"
    role_grants = {
        (_inputs(r)["roleName"], _inputs(r).get("userName")) for r in _of_type(stack_graph, "GrantAccountRole")
    }
    assert (f"{base}_EMBEDDER", f"{base}_SVC") in role_grants


def test_service_user_signs_in_with_a_key_pair_whose_key_is_secret_in_state(stack_graph: dict[str, Any]) -> None:
    config = _stack_config(stack_graph["stack"])
    user = _only(stack_graph, "ServiceUser")
    for recorded in (user["inputs"], user["state"]):
        assert recorded["rsaPublicKey"] == {SECRET_MARKER: config["snowflakeServiceUserPublicKey"]}
    assert "password" not in user["inputs"]
    assert _inputs(user)["defaultRole"] == f"{_base(stack_graph)}_EMBEDDER"
    # Nothing else in the graph, and no output, carries the key in plain text.
    key = config["snowflakeServiceUserPublicKey"]
    for resource in stack_graph["resources"]:
        if resource is not user:
            assert key not in json.dumps(resource["state"]), resource["name"]
    assert key not in json.dumps(stack_graph["outputs"])
    # The private key is not a setting the program could read: it lives in ESC only.
    declared = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    assert not [name for name in declared if "private" in name.lower()]


def test_stage_and_pipe_load_the_request_log_with_the_tested_copy(stack_graph: dict[str, Any]) -> None:
    config, base, env = _stack_config(stack_graph["stack"]), _base(stack_graph), stack_graph["stack"]
    url = f"s3://{config['requestLogBucket']}/llm-gateway/{env}/"
    integration = _inputs(_only(stack_graph, "StorageIntegrationAws"))
    assert integration["storageAllowedLocations"] == [url]
    assert integration["storageAwsRoleArn"] == config["requestLogStorageRoleArn"]
    stage = _inputs(_only(stack_graph, "StageExternalS3"))
    assert (stage["url"], stage["storageIntegration"]) == (url, integration["name"])
    assert stage["fileFormat"] == {"formatName": f'"{base}"."{SCHEMA}"."REQUEST_LOG_JSON"'}
    pipe = _inputs(_only(stack_graph, "Pipe"))
    assert pipe["autoIngest"] is True
    # Exactly the statement whose SELECT tests/analytics runs on the captured LiteLLM payloads.
    qualified = f"{base}.{SCHEMA}"
    assert pipe["copyStatement"] == sql.copy_statement(
        f"{qualified}.REQUEST_LOG", f"{qualified}.REQUEST_LOG_STAGE", f"{qualified}.REQUEST_LOG_JSON", env
    )
    assert stack_graph["outputs"]["requestLogUrl"]["value"] == url


def test_table_and_views_are_the_tested_sql(stack_graph: dict[str, Any]) -> None:
    base = _base(stack_graph)
    table = _inputs(_only(stack_graph, "Table"))
    assert [(c["name"], c["type"]) for c in table["columns"]] == [(c.name, c.type) for c in sql.COLUMNS]
    views = {_inputs(r)["name"]: _inputs(r)["statement"] for r in _of_type(stack_graph, "View")}
    qualify = {name: f"{base}.{SCHEMA}.{name}" for name in (sql.TABLE, sql.REQUESTS_VIEW, sql.BUDGETS_VIEW)}
    assert set(views) == {sql.BUDGETS_VIEW} | {view.name for view in sql.VIEWS}
    for view in sql.VIEWS:
        assert views[view.name] == sql.view_statement(view, qualify), view.name
    manifest = load_generated_config(stack_graph["stack"], LITELLM).manifest
    assert views[sql.BUDGETS_VIEW] == sql.budgets_sql(sql.budget_rows(manifest)).strip()


def test_gateway_writes_the_request_log_where_the_stage_reads_it(stack_graph: dict[str, Any]) -> None:
    config, env = _stack_config(stack_graph["stack"]), stack_graph["stack"]
    variables = env_by_name(container(stack_graph, "Deployment", GATEWAY))
    assert {
        name: variables[name]["value"] for name in (REQUEST_LOG_BUCKET, REQUEST_LOG_PREFIX, REQUEST_LOG_REGION)
    } == {
        REQUEST_LOG_BUCKET: config["requestLogBucket"],
        REQUEST_LOG_PREFIX: f"llm-gateway/{env}",
        REQUEST_LOG_REGION: "us-east-1",
    }
    assert variables[REQUEST_LOG_ENDPOINT]["value"] == ""  # AWS: the bucket's own URL
    secret = auto_named(stack_graph, "Secret", "llm-gateway-request-log-keys")
    for name in (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY):
        assert variables[name]["valueFrom"]["secretKeyRef"] == {"name": secret["metadata"]["name"], "key": name}


def test_a_stopping_gateway_waits_for_the_last_request_log_flush(stack_graph: dict[str, Any]) -> None:
    deployment = one(stack_graph, "Deployment", GATEWAY)
    flush = int(
        json.loads(auto_named(stack_graph, "ConfigMap", "llm-gateway-config")["data"]["litellm.env.json"])[
            S3_FLUSH_INTERVAL
        ]
    )
    sleep = container(stack_graph, "Deployment", GATEWAY)["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert flush < sleep < deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]


@pytest.mark.parametrize("run", ["staging-portkey"])
def test_portkey_engine_writes_no_request_log(offline_runs: Any, run: str, custom_host_staging_root: Path) -> None:
    # The OSS Portkey gateway has no S3 logger: no bucket settings, no credentials, no flush drain
    # (its preStop pause is the endpoints' and its in-flight requests' alone).
    graph = offline_runs.graph(run)
    spec = container(graph, "Deployment", GATEWAY)
    assert not {REQUEST_LOG_BUCKET, AWS_ACCESS_KEY_ID} & set(env_by_name(spec))
    longest = load_generated_config("staging", PORTKEY, custom_host_staging_root).longest_request_seconds(PORTKEY)
    assert spec["lifecycle"]["preStop"]["sleep"]["seconds"] == ENDPOINT_DRAIN_SECONDS + math.ceil(longest)
    assert not [r for r in graph["resources"] if r["name"] == "llm-gateway-request-log-keys"]
