"""Offline plan: what `pulumi up -s <stack>` would register, without cloud access or credentials.

    python -m tools.plan --stack prod [--out DIR] [--generated-dir DIR] [--kubeconfig FILE [--context NAME]]

Runs the real program under Pulumi's mocks with the stack's config (Pulumi.yaml defaults, then the
stack's ESC environment as esc/*.yaml define it, then Pulumi.<stack>.yaml), refusing what the Pulumi
CLI would refuse. ESC's real values are unreachable offline, so stand-ins take their place (secret
ones print as ``[secret]``; the image digest only ESC holds is an all-zero digest the program
accepts only under mocks). ``--kubeconfig`` checks a real kubeconfig offline: the plan refuses one
that does not point at the stack's cluster, as ``pulumi up`` would. Prints the resource tree with
each object's key fields; with ``--out`` also writes the rendered Kubernetes manifests, one YAML
file per object, in a stable order (identical runs write identical files). Exit 2: the stack's
configuration is refused, and nothing is written.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import yaml

from program.generated_tree import GENERATED_DIR_ENV
from program.stack_settings import KUBECONFIG_SETTING, OFFLINE_IMAGE_DIGEST
from tools.offline import (
    PROJECT,
    REDACTED,
    ROOT,
    Graph,
    StackConfigError,
    render_manifests,
    run_program,
    stack_config,
    unwrap_secrets,
)
from tools.pulumi_mocks import ASSET_MARKER

PLAN_MARKER = ".llm-gateway-plan"


def _kind(resource_type: str) -> str:
    return resource_type.rsplit(":", 1)[-1]


def _container_summary(pod_spec: dict[str, Any]) -> list[str]:
    lines = []
    for container in pod_spec.get("containers", []):
        res = container.get("resources", {})
        req, lim = res.get("requests", {}), res.get("limits", {})
        image = str(container.get("image"))
        placeholder = " (offline placeholder: ESC holds the verified digest)" if OFFLINE_IMAGE_DIGEST in image else ""
        lines.append(f"image={image}{placeholder}")
        lines.append(
            f"cpu={req.get('cpu')}/{lim.get('cpu')} memory={req.get('memory')}/{lim.get('memory')} (request/limit)"
        )
        probes = []
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            spec = container.get(probe)
            if spec:
                target = spec.get("httpGet", {}).get("path") or ("tcp" if "tcpSocket" in spec else "exec")
                probes.append(f"{probe.removesuffix('Probe')}={target}")
        if probes:
            lines.append("probes: " + " ".join(probes))
        secret_env = [e["name"] for e in container.get("env", []) if "valueFrom" in e]
        if secret_env:
            lines.append("env from Secrets: " + ", ".join(secret_env))
    return lines


def _mounted_objects(pod_spec: dict[str, Any]) -> list[str]:
    # The (generated) names of the ConfigMaps and Secrets the pods read: a reviewer sees a routing
    # change or a rotated key roll the pods as a new name here.
    names = set()
    for volume in pod_spec.get("volumes") or []:
        if "configMap" in volume:
            names.add(f"ConfigMap {volume['configMap']['name']}")
        if "secret" in volume:
            names.add(f"Secret {volume['secret']['secretName']}")
    for container in pod_spec.get("containers", []):
        for entry in container.get("env", []):
            ref = entry.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                names.add(f"Secret {ref['name']}")
    return ["reads " + ", ".join(sorted(names))] if names else []


def _catalog_models(config: dict[str, Any]) -> list[str]:
    """The `@slug/model` targets of a Portkey config, in order, each once."""
    found: list[str] = []
    for target in config.get("targets") or []:
        model = (target.get("override_params") or {}).get("model")
        for name in [model] if model else _catalog_models(target):
            if name not in found:
                found.append(name)
    return found


def _portkey_fields(kind: str, inputs: dict[str, Any]) -> list[str]:
    """Key fields of the Portkey control plane (program/portkey) and the ESC environments."""
    if kind == "Integration":
        return [f"slug={inputs.get('slug')} ai_provider={inputs.get('ai_provider_id')} key={inputs.get('key')}"]
    if kind == "IntegrationWorkspaceAccess":
        return [f"integration {inputs.get('integration_slug')} enabled in workspace {inputs.get('workspace_id')}"]
    if kind == "Provider":
        lines = [f"@{inputs.get('slug')} on integration {inputs.get('integration_id')} in {inputs.get('workspace_id')}"]
        limits = inputs.get("usage_limits") or {}
        if limits:
            alert = f", alert at {limits['alert_threshold']}" if limits.get("alert_threshold") else ""
            lines.append(f"budget: {limits.get('credit_limit')} USD/{limits.get('periodic_reset')}{alert}")
        rate = inputs.get("rate_limits")
        if rate:
            lines.append(f"rate limit: {rate.get('value')} {rate.get('type')} {rate.get('unit')}")
        return lines
    if kind == "Config":
        config = inputs.get("config") or {}
        breaker = (config.get("strategy") or {}).get("cb_config") or {}
        lines = [
            f"name={inputs.get('name')} slug={inputs.get('slug')}",
            "targets: " + ", ".join(_catalog_models(config)),
        ]
        if breaker:
            lines.append(
                f"circuit breaker: {breaker.get('failure_threshold')} failure(s) → out for "
                f"{breaker.get('cooldown_interval', 0) / 1000:g} s"
            )
        return lines
    if kind == "UsageLimitsPolicy":
        conditions = ", ".join(f"{c.get('key')}={c.get('value')}" for c in inputs.get("conditions") or [])
        alert = f", alert at {inputs['alert_threshold']}" if inputs.get("alert_threshold") else ""
        return [
            f"name={inputs.get('name')} where {conditions}",
            f"budget: {inputs.get('credit_limit')} USD/{inputs.get('periodic_reset')}{alert}",
        ]
    if kind == "CredentialEnvironment":
        where = f"{inputs.get('organization')}/{inputs.get('project')}/{inputs.get('name')}"
        return [f"ESC {where}: values.{'.'.join(inputs.get('path') or [])} = {inputs.get('value')}"]
    if kind == "Environment":
        where = f"{inputs.get('organization')}/{inputs.get('project')}/{inputs.get('name')}"
        text = (inputs.get("yaml") or {}).get(ASSET_MARKER, "") if isinstance(inputs.get("yaml"), dict) else ""
        document = yaml.safe_load(text) if text else {}
        variables = sorted(((document or {}).get("values") or {}).get("environmentVariables") or {})
        imports = (document or {}).get("imports") or []
        return [
            f"ESC {where}" + (f", imports {', '.join(imports)}" if imports else ", imports nothing"),
            "environmentVariables: " + ", ".join(variables),
        ]
    return []


def key_fields(resource: dict[str, Any]) -> list[str]:
    """The few fields a reviewer needs per object, secrets redacted."""
    inputs = unwrap_secrets(resource["state"], redact=True)
    kind = _kind(resource["type"])
    if resource["type"].startswith(("pulumi-python:dynamic/", "pulumiservice:")):
        return _portkey_fields(kind, inputs)
    spec = inputs.get("spec") or {}
    meta = inputs.get("metadata") or {}
    where = f"{meta.get('namespace')}/{meta.get('name')}" if meta.get("namespace") else meta.get("name")
    lines = [f"k8s name: {where}"] if meta.get("name") else []
    if kind == "Namespace":
        lines.append(f"pod-security={meta.get('labels', {}).get('pod-security.kubernetes.io/enforce')}")
    elif kind == "Deployment":
        template = spec.get("template", {})
        lines += _container_summary(template.get("spec", {}))
        lines += _mounted_objects(template.get("spec", {}))
        spread = template.get("spec", {}).get("topologySpreadConstraints", [])
        lines.append("spread: " + ", ".join(f"{c['topologyKey']}:{c['whenUnsatisfiable']}" for c in spread))
    elif kind == "StatefulSet":
        template = spec.get("template", {})
        claims = spec.get("volumeClaimTemplates") or []
        args = template.get("spec", {}).get("containers", [{}])[0].get("args", [])
        maxmemory = args[args.index("--maxmemory") + 1] if "--maxmemory" in args else "?"
        lines.append(f"replicas={spec.get('replicas')} maxmemory={maxmemory}")
        lines += _container_summary(template.get("spec", {}))
        lines += _mounted_objects(template.get("spec", {}))
        if claims:
            for claim in claims:
                size = claim["spec"]["resources"]["requests"]["storage"]
                lines.append(f"PVC template {claim['metadata']['name']}: {size}")
        else:
            lines.append("storage: emptyDir (no persistence)")
    elif kind == "HorizontalPodAutoscaler":
        target = spec.get("metrics", [{}])[0].get("resource", {}).get("target", {})
        lines.append(
            f"replicas {spec.get('minReplicas')}..{spec.get('maxReplicas')}, cpu {target.get('averageUtilization')}%"
        )
    elif kind == "PodDisruptionBudget":
        budget = {k: spec[k] for k in ("minAvailable", "maxUnavailable") if k in spec}
        lines.append(", ".join(f"{k}={v}" for k, v in budget.items()))
    elif kind == "Service":
        ports = ", ".join(f"{p.get('port')}->{p.get('targetPort')}" for p in spec.get("ports", []))
        headless = " headless" if spec.get("clusterIP") == "None" else ""
        lines.append(f"type={spec.get('type')}{headless} ports {ports}")
    elif kind in ("Secret", "ConfigMap"):
        data = inputs.get("stringData") or inputs.get("data") or {}
        shown = "values [secret]" if kind == "Secret" else f"{sum(len(v) for v in data.values())} bytes"
        lines.append(f"keys: {', '.join(sorted(data))} ({shown})")
        folder = ((inputs.get("metadata") or {}).get("annotations") or {}).get("k8s-sidecar-target-directory")
        if folder:
            lines.append(f"Grafana sidecar dashboard, folder {folder!r}")
    elif kind == "NetworkPolicy":
        lines.append(f"policyTypes={spec.get('policyTypes')}")
        for rule in spec.get("ingress") or []:
            sources = [
                ",".join(expr["values"])
                for peer in rule.get("from", [])
                for expr in peer.get("namespaceSelector", {}).get("matchExpressions", [])
            ] or [str(peer.get("podSelector", {}).get("matchLabels")) for peer in rule.get("from", [])]
            ports = ", ".join(f"{p['port']}/{p.get('protocol', 'TCP')}" for p in rule.get("ports", []))
            lines.append(f"ingress from {' | '.join(sources)} on {ports}")
        for rule in spec.get("egress") or []:
            ports = ", ".join(f"{p['port']}/{p.get('protocol', 'TCP')}" for p in rule.get("ports", []))
            lines.append(f"egress to {'listed peers' if rule.get('to') else 'any'} on {ports}")
    elif kind == "ServiceMonitor":
        endpoints = (f"{e.get('port')}:{e.get('path', '/metrics')}" for e in spec.get("endpoints", []))
        lines.append("endpoints " + ", ".join(endpoints))
    elif kind == "PrometheusRule":
        rules = [rule for group in spec.get("groups", []) for rule in group.get("rules", [])]
        recorded = sum(1 for rule in rules if "record" in rule)
        lines.append(
            f"{len(spec.get('groups', []))} groups: {recorded} recording rules, {len(rules) - recorded} alerts"
        )
    elif kind == "AlertmanagerConfig":
        kinds = {
            receiver["name"]: next((key.removesuffix("Configs") for key in receiver if key.endswith("Configs")), "?")
            for receiver in spec.get("receivers", [])
        }
        for route in spec.get("route", {}).get("routes", []):
            match = ", ".join(f"{m['name']}{m.get('matchType', '=')}{m['value']}" for m in route.get("matchers", []))
            lines.append(
                f"route {match} -> {route['receiver']} ({kinds.get(route['receiver'], '?')}, "
                f"repeat {route.get('repeatInterval')}; secret by reference)"
            )
    elif resource["type"].startswith("pulumi:providers:"):
        lines.append(f"context={inputs.get('context')} cluster={inputs.get('clusterIdentifier')} (kubeconfig [secret])")
    elif kind == "RandomPassword":
        lines.append(f"length={inputs.get('length')} (value is a secret)")
    elif resource["type"].startswith("snowflake:") or resource["type"] == "pulumi:providers:snowflake":
        lines += snowflake_fields(kind, inputs)
    return lines


def _grant_target(inputs: dict[str, Any]) -> str:
    if inputs.get("onAccountObject"):
        target = inputs["onAccountObject"]
        return f"{target['objectType']} {target['objectName']}"
    if inputs.get("onSchema"):
        return f"SCHEMA {inputs['onSchema'].get('schemaName')}"
    target = inputs.get("onSchemaObject") or {}
    for scope in ("all", "future"):
        if target.get(scope):
            return f"{scope.upper()} {target[scope]['objectTypePlural']} IN SCHEMA {target[scope].get('inSchema')}"
    return f"{target.get('objectType')} {target.get('objectName')}"


def snowflake_fields(kind: str, inputs: dict[str, Any]) -> list[str]:
    """What a reviewer checks on each Snowflake object: names, limits, who gets which privilege."""
    name = inputs.get("name")
    where = ".".join(part for part in (inputs.get("database"), inputs.get("schema"), name) if part)
    if kind == "snowflake":
        return [f"account {inputs.get('organizationName')}-{inputs.get('accountName')} as role {inputs.get('role')}"]
    if kind == "Warehouse":
        return [
            f"{name}: {inputs.get('warehouseSize')}, auto_suspend={inputs.get('autoSuspend')} s, "
            f"auto_resume={inputs.get('autoResume')}, resource_monitor={inputs.get('resourceMonitor')}"
        ]
    if kind == "ResourceMonitor":
        return [
            f"{name}: {inputs.get('creditQuota')} credits {str(inputs.get('frequency')).lower()}, notify at "
            f"{inputs.get('notifyTriggers')}%, suspend at {inputs.get('suspendTrigger')}%, "
            f"at once at {inputs.get('suspendImmediateTrigger')}%"
        ]
    if kind == "GrantPrivilegesToAccountRole":
        return [
            f"{', '.join(inputs.get('privileges') or [])} on {_grant_target(inputs)} to {inputs.get('accountRoleName')}"
        ]
    if kind == "GrantAccountRole":
        grantee = f"user {inputs['userName']}" if inputs.get("userName") else f"role {inputs.get('parentRoleName')}"
        return [f"role {inputs.get('roleName')} to {grantee}"]
    if kind == "GrantDatabaseRole":
        return [f"database role {inputs.get('databaseRoleName')} to role {inputs.get('parentRoleName')}"]
    if kind == "StorageIntegrationAws":
        return [
            f"{name}: {inputs.get('storageAwsRoleArn')} on {', '.join(inputs.get('storageAllowedLocations') or [])}"
        ]
    if kind == "StageExternalS3":
        return [f"{where}: {inputs.get('url')} via {inputs.get('storageIntegration')}"]
    if kind == "Pipe":
        statement = str(inputs.get("copyStatement") or "")
        return [f"{where}: auto_ingest={inputs.get('autoIngest')}", statement.splitlines()[0] if statement else ""]
    if kind == "Table":
        return [f"{where}: {len(inputs.get('columns') or [])} columns"]
    if kind == "ServiceUser":
        key = inputs.get("rsaPublicKey")
        return [f"{name}: default role {inputs.get('defaultRole')}, key pair ({'[secret]' if key else 'no key'})"]
    return [where] if where else []


def print_tree(graph: Graph) -> None:
    resources = graph["resources"]
    children: dict[str, list[dict[str, Any]]] = {}
    urns = {r["urn"] for r in resources}
    for resource in resources:
        parent = resource["parent"] if resource["parent"] in urns else ""
        children.setdefault(parent, []).append(resource)

    def walk(parent: str, indent: str) -> None:
        items = sorted(children.get(parent, []), key=lambda r: (r["custom"], r["type"], r["name"]))
        for i, resource in enumerate(items):
            last = i == len(items) - 1
            print(f"{indent}{'└─' if last else '├─'} {resource['type']}  {resource['name']}")
            detail_indent = indent + ("   " if last else "│  ")
            for line in key_fields(resource):
                print(f"{detail_indent}    {line}")
            walk(resource["urn"], detail_indent)

    print(f"stack {graph['stack']}: {len(resources)} resources")
    walk("", "")
    print("outputs:")
    for key, output in graph["outputs"].items():
        print(f"  {key} = {REDACTED if output['secret'] else output['value']}")


def write_manifests(graph: Graph, out: Path) -> int:
    """Write one YAML per Kubernetes object; refuses to touch a folder it did not create."""
    if out.exists() and any(out.iterdir()) and not (out / PLAN_MARKER).exists():
        raise SystemExit(f"error: {out} is not empty and was not written by the plan; choose another OUT")
    out.mkdir(parents=True, exist_ok=True)
    (out / PLAN_MARKER).write_text("written by tools/plan.py; stale YAML here is deleted on the next run\n")
    for stale in out.glob("*.yaml"):
        stale.unlink()
    # Sorted by what identifies an object, not by registration order (the SDK registers from a
    # thread pool): identical runs write identical files.
    manifests = sorted(
        render_manifests(graph, redact=True),
        key=lambda m: (m["kind"], m["metadata"].get("namespace") or "", m["metadata"]["name"]),
    )
    for index, manifest in enumerate(manifests):
        name = f"{index:02d}-{manifest['kind'].lower()}-{manifest['metadata']['name']}.yaml"
        (out / name).write_text(yaml.safe_dump(manifest, sort_keys=False))
    return len(manifests)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    stacks = sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in ROOT.glob("Pulumi.*.yaml"))
    parser.add_argument("--stack", required=True, choices=stacks)
    parser.add_argument("--out", type=Path, help="write rendered Kubernetes manifests here")
    parser.add_argument("--generated-dir", type=Path, help="generated tree to read instead of the committed one")
    parser.add_argument("--kubeconfig", type=Path, help="check this kubeconfig (offline) instead of a stand-in")
    parser.add_argument("--context", help="context of --kubeconfig (default: its current-context)")
    parser.add_argument(
        "--project-dir", type=Path, default=ROOT, help="folder whose Pulumi.yaml, stack files and esc/ are read"
    )
    args = parser.parse_args(argv)
    if args.generated_dir:
        os.environ[GENERATED_DIR_ENV] = str(args.generated_dir.resolve())

    try:
        config, secret_keys = stack_config(args.stack, args.project_dir.resolve())
    except StackConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.kubeconfig:
        config[f"{PROJECT}:{KUBECONFIG_SETTING}"] = args.kubeconfig.read_text()
        config[f"{PROJECT}:kubeContext"] = args.context or ""
    graph = run_program(args.stack, config, secret_keys)
    print_tree(graph)
    if args.out:
        count = write_manifests(graph, args.out)
        print(f"wrote {count} manifests to {args.out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
