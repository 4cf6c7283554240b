"""Fixtures of the policy tests: the mocked graph of each stack, built once per session.

The graphs come from the Pulumi tests' runner (``tests/pulumi/conftest.py``: ``OfflineRuns``, the
real program under Pulumi's mocks, one forked child per run) with the same canary secrets, plus a
staging run on the Portkey OSS engine (its generated tree from the same fixture the Pulumi tests
use), so the Portkey-only policies have a real deployment to pass on.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from policies.evaluate import CONFIG_DIR, load_pack_config
from tests.pulumi.conftest import CANARY_SECRETS, COMMITTED_TREE, OfflineRuns, custom_host_staging_root

__all__ = ["custom_host_staging_root"]

# Run name → stack: the committed stacks, and the other shapes a stack's settings give them: staging on
# the Portkey engine, staging behind an egress proxy, prod without the hosted Portkey control plane.
RUNS = {
    "staging": "staging",
    "prod": "prod",
    "staging-portkey": "staging",
    "staging-egress-proxy": "staging",
    "prod-no-control-plane": "prod",
}


@pytest.fixture(scope="session")
def policy_graphs(tmp_path_factory: pytest.TempPathFactory, custom_host_staging_root: Path) -> Iterator[OfflineRuns]:
    runs = OfflineRuns(tmp_path_factory.mktemp("policy-graphs"))
    runs.add("staging", "staging", COMMITTED_TREE)
    runs.add("prod", "prod", COMMITTED_TREE)
    runs.add("staging-portkey", "staging", custom_host_staging_root, settings={"engine": "portkey"})
    runs.add(
        "staging-egress-proxy",
        "staging",
        COMMITTED_TREE,
        settings={"egressProxy": "http://squid.egress.svc.cluster.local:3128"},
    )
    # Without a control plane to manage, the stack needs no Portkey admin key.
    runs.add(
        "prod-no-control-plane",
        "prod",
        COMMITTED_TREE,
        settings={"portkeyControlPlane": "false"},
        secrets={key: value for key, value in CANARY_SECRETS.items() if key != "portkeyAdminKey"},
        unset=["portkeyAdminKey"],
    )
    runs.launch()
    yield runs
    runs.stop()


@pytest.fixture(scope="session")
def pack_configs() -> dict[str, dict[str, Any]]:
    return {stack: load_pack_config(CONFIG_DIR / f"{stack}.json") for stack in ("staging", "prod")}


@pytest.fixture
def graph_of(policy_graphs: OfflineRuns) -> Any:
    """A fresh deep copy of a run's graph (tests mutate it)."""

    def graph(run: str) -> dict[str, Any]:
        return copy.deepcopy(policy_graphs.graph(run))

    return graph
