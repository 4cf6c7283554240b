"""The real pack, run as the Pulumi engine runs it: ``policies/__main__.py`` started from the pack's
directory builds the ``PolicyPack``, which serves Pulumi's Analyzer gRPC API on 127.0.0.1 and prints
its port; the test then speaks that API the way ``pulumi preview --policy-pack`` does
(GetAnalyzerInfo, Configure with the stack's pack config, Analyze and AnalyzeStack with the mocked
graph's resources on the wire), and stops the process group it started.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from policies.evaluate import CONFIG_DIR, evaluate, policy_config
from policies.registry import PACK_NAME, policy_specs
from tests.policies.graph_edits import container
from tools.pulumi_mocks import ASSET_MARKER, SECRET_MARKER, SECRET_SIG, SECRET_SIG_KEY

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_SECONDS = 60
# The property-value wire format's asset signature (pulumi/sdk/go/common/resource/properties.go).
ASSET_SIG = "c44067f5952c0a294b673a41bacd8c17"
LEVELS = {
    "advisory": analyzer_pb2.ADVISORY,
    "mandatory": analyzer_pb2.MANDATORY,
    "disabled": analyzer_pb2.DISABLED,
    "remediate": analyzer_pb2.REMEDIATE,
}


@pytest.fixture(scope="module")
def analyzer() -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    process = subprocess.Popen(
        [sys.executable, "-u", "__main__.py"],
        cwd=ROOT / "policies",
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            ready = selector.select(timeout=START_TIMEOUT_SECONDS)
        line = process.stdout.readline().decode().strip() if ready else ""
        assert line.isdigit(), f"the pack printed no port within {START_TIMEOUT_SECONDS} s: {line!r}; " + (
            process.stderr.read().decode() if process.poll() is not None and process.stderr else "still running"
        )
        channel = grpc.insecure_channel(f"127.0.0.1:{line}")
        grpc.channel_ready_future(channel).result(timeout=START_TIMEOUT_SECONDS)
        yield analyzer_pb2_grpc.AnalyzerStub(channel)
        channel.close()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def wire(value: Any) -> Any:
    """A recorded value in the engine's wire format: secrets and assets under their signatures."""
    if isinstance(value, dict):
        if set(value) == {SECRET_MARKER}:
            return {SECRET_SIG_KEY: SECRET_SIG, "value": wire(value[SECRET_MARKER])}
        if set(value) == {ASSET_MARKER}:
            return {SECRET_SIG_KEY: ASSET_SIG, "text": value[ASSET_MARKER]}
        return {key: wire(item) for key, item in value.items()}
    if isinstance(value, list):
        return [wire(item) for item in value]
    return value


def struct(value: dict[str, Any]) -> struct_pb2.Struct:
    return json_format.ParseDict(json.loads(json.dumps(value, default=str)), struct_pb2.Struct())


def configure(stub: analyzer_pb2_grpc.AnalyzerStub, stack: str) -> None:
    """What the CLI sends for ``--policy-pack-config policies/config/<stack>.json``."""
    pack_config = json.loads((CONFIG_DIR / f"{stack}.json").read_text())
    request = analyzer_pb2.ConfigureAnalyzerRequest()
    for spec in policy_specs():
        config = policy_config(pack_config, spec.name)
        request.policyConfig[spec.name].CopyFrom(
            analyzer_pb2.PolicyConfig(enforcementLevel=LEVELS[config.enforcement], properties=struct(config.properties))
        )
    stub.Configure(request)


def stack_request(graph: dict[str, Any]) -> analyzer_pb2.AnalyzeStackRequest:
    stack = graph["stack"]
    root = analyzer_pb2.AnalyzerResource(
        type="pulumi:pulumi:Stack",
        properties=struct({name: output["value"] for name, output in graph["outputs"].items()}),
        urn=f"urn:pulumi:{stack}::llm-gateway::pulumi:pulumi:Stack::llm-gateway-{stack}",
        name=f"llm-gateway-{stack}",
    )
    resources = [
        analyzer_pb2.AnalyzerResource(
            type=r["type"], properties=struct(wire(r["state"])), urn=r["urn"], name=r["name"], parent=r["parent"]
        )
        for r in graph["resources"]
    ]
    return analyzer_pb2.AnalyzeStackRequest(resources=[root, *resources])


def _violation(diagnostic: analyzer_pb2.AnalyzeDiagnostic) -> str:
    # The SDK sends "<policy description>\n<violation message>".
    description, _, message = diagnostic.message.partition("\n")
    assert description == diagnostic.description, diagnostic.message
    return message


def test_without_the_repository_on_pythonpath_the_pack_says_so() -> None:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    run = subprocess.run(
        [sys.executable, "-u", "__main__.py"],
        cwd=ROOT / "policies",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2 and run.stdout == ""
    assert "run it with the repository root on PYTHONPATH" in run.stderr and "Traceback" not in run.stderr


def test_the_pack_lists_every_policy_of_the_registry(analyzer: analyzer_pb2_grpc.AnalyzerStub) -> None:
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == PACK_NAME and info.supportsConfig
    specs = {spec.name: spec for spec in policy_specs()}
    assert [policy.name for policy in info.policies] == list(specs)
    for policy in info.policies:
        assert policy.description == specs[policy.name].description
        # No policy fixes its own level: the pack's default (mandatory) or the stack's config decides.
        assert policy.enforcementLevel == analyzer_pb2.MANDATORY, policy.name
        assert set(policy.configSchema.properties) == set(specs[policy.name].config), policy.name


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_the_pack_over_grpc_agrees_with_the_report(
    stack: str, analyzer: analyzer_pb2_grpc.AnalyzerStub, graph_of: Any, pack_configs: dict[str, Any]
) -> None:
    graph = graph_of(stack)
    configure(analyzer, stack)
    response = analyzer.AnalyzeStack(stack_request(graph))
    over_grpc = [(d.policyName, _violation(d)) for d in response.diagnostics]
    for resource in graph["resources"]:
        answer = analyzer.Analyze(
            analyzer_pb2.AnalyzeRequest(
                type=resource["type"],
                properties=struct(wire(resource["state"])),
                urn=resource["urn"],
                name=resource["name"],
            )
        )
        over_grpc += [(d.policyName, _violation(d)) for d in answer.diagnostics]
    report = evaluate(graph, pack_configs[stack])
    expected = sorted((r["policy"], v["message"]) for r in report["results"] for v in r["violations"])
    assert sorted(over_grpc) == expected


def test_the_pack_blocks_a_latest_image_in_prod(analyzer: analyzer_pb2_grpc.AnalyzerStub, graph_of: Any) -> None:
    graph = graph_of("prod")
    configure(analyzer, "prod")
    container(graph, "kubernetes:apps/v1:StatefulSet", "llm-gateway-redis-state-statefulset")["image"] = "redis:latest"
    (statefulset,) = [r for r in graph["resources"] if r["name"] == "llm-gateway-redis-state-statefulset"]
    answer = analyzer.Analyze(
        analyzer_pb2.AnalyzeRequest(
            type=statefulset["type"], properties=struct(wire(statefulset["state"])), urn=statefulset["urn"],
            name=statefulset["name"],
        )
    )  # fmt: skip
    found = {(d.policyName, d.enforcementLevel) for d in answer.diagnostics}
    assert ("image-no-latest", analyzer_pb2.MANDATORY) in found
    assert ("image-pinned-by-digest", analyzer_pb2.MANDATORY) in found
