"""Time the generator: validation + rendering of every environment, real spec and a 1,000-task spec.

    .venv/bin/python -m bench.bench_build [--repeat N] [--tasks 1000] [--profile]

Prints the median of N runs for each phase, the cost per task and how the per-task cost grows from
the real spec to the synthetic one (a ratio near 1 means linear scaling), then the wall time of the
offline plan of each stack (`make plan`, a fresh process as a person runs it). Targets: all
environments of the real spec in under 1 s, the 1,000-task spec in under 10 s, each plan in under
15 s. Exits 1 if one is missed.
`--profile` prints where the synthetic build spends its time.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import yaml

from gateway_config.build import DEFAULT_SPEC, render
from gateway_config.loader import load_spec_text
from gateway_config.spec import ENVIRONMENT_NAMES

REAL_TARGET_S = 1.0
SYNTHETIC_TARGET_S = 10.0
PLAN_TARGET_S = 15.0
PLAN_STACKS = ("staging", "prod")
PRICE_AS = {"large": "gpt-4o", "medium": "gpt-4o-mini", "small": "gpt-4o-mini"}


def synthetic_spec(task_count: int) -> str:
    """A valid spec shaped like the real one, with `task_count` tasks, some overrides and experiments."""
    gateway = {"openai": "openai", "anthropic": "anthropic", "openrouter": "openrouter"}
    providers: dict[str, Any] = {
        name: {"kind": kind, "base_url": f"https://{name}.example.com/v1", "api_key_env": f"{name.upper()}_API_KEY"}
        for name, kind in gateway.items()
    }
    providers["cortex"] = {"kind": "snowflake_cortex", "base_url": "https://acct.snowflakecomputing.com"}
    models: dict[str, Any] = {}
    for provider in gateway:
        for size in ("large", "medium", "small"):
            models[f"{provider}-{size}"] = {
                "provider": provider,
                "id": f"{provider}-{size}-2025",
                "timeout_seconds": 20,
                # Made-up model ids: priced as real models the pinned price map knows.
                "price_as": PRICE_AS[size],
            }
    models["embedder"] = {"provider": "openai", "id": "text-embedding-3-small", "kind": "embedding"}
    models["arctic"] = {"provider": "cortex", "id": "arctic-embed-m", "kind": "embedding", "embedding_dimensions": 768}
    tiers: dict[str, Any] = {
        "tier1": {"targets": ["openai-large", "anthropic-large"]},
        "tier2": {"targets": ["openai-small", "anthropic-small"], "fallback_tier": "tier3"},
        "tier3": {"targets": ["openrouter-small"]},
        "balanced": {
            "strategy": "loadbalance",
            "targets": [{"model": "openai-medium", "weight": 2}, {"model": "anthropic-medium", "weight": 1}],
            "fallback_tier": "tier1",
        },
        "open": {
            "strategy": "loadbalance",
            "targets": [{"model": "openrouter-large", "weight": 3}, {"model": "openrouter-medium", "weight": 1}],
            "fallback_tier": "tier2",
        },
        "data-local": {"targets": ["arctic"]},
    }
    tier_cycle = ["tier1", "tier2", "balanced", "open", "tier1", "tier2", "balanced", "tier2", "tier1", "data-local"]
    tasks: dict[str, Any] = {}
    for index in range(task_count):
        task: dict[str, Any] = {"tier": tier_cycle[index % len(tier_cycle)]}
        if index % 7 == 0:
            task["retry"] = {"attempts": index % 5}
        if index % 11 == 0:
            task["cache"] = {"mode": "simple", "ttl_seconds": 600}
        if index % 13 == 0:
            task["request_timeout_seconds"] = 45
        tasks[f"task-{index:04d}"] = task
    experiments = {
        f"exp-{index:03d}": {
            "kind": "canary" if index % 2 else "ab",
            "task": f"task-{index * 10:04d}",
            "variant": {"model": "openrouter-large"} if index % 3 else {"tier": "tier3"},
            "traffic_percent": 5 + index % 20,
            "environments": ["staging", "prod"] if index % 4 else ["staging"],
        }
        for index in range(task_count // 20)
        if tier_cycle[(index * 10) % len(tier_cycle)] not in ("data-local", "tier3")
    }
    keys = {
        "prod-openai": {"environment": "prod", "providers": ["openai"]},
        "prod-anthropic": {"environment": "prod", "providers": ["anthropic"]},
        "prod-openrouter": {"environment": "prod", "providers": ["openrouter"]},
        "staging-all": {"environment": "staging", "providers": list(gateway)},
        "local-all": {"environment": "local", "providers": list(gateway)},
    }
    budget_tasks = {f"task-{index:04d}": 10 for index in range(0, task_count, 5)}
    environments = {
        "staging": {"portkey_providers": dict.fromkeys(gateway, "staging-all"), "budgets": {"monthly_usd": 5000}},
        "prod": {
            "portkey_providers": {name: f"prod-{name}" for name in gateway},
            "budgets": {"monthly_usd": 100_000, "tasks": budget_tasks},
        },
        "local": {
            "portkey_targets": "custom_host",
            "portkey_providers": dict.fromkeys(gateway, "local-all"),
            "providers": {name: {"base_url": f"http://127.0.0.1:8090/{name}/v1"} for name in gateway},
            "defaults": {"cache": {"mode": "simple"}, "request_timeout_seconds": 5},
            "budgets": {"monthly_usd": 0},
        },
    }
    data = {
        "version": 1,
        "providers": providers,
        "models": models,
        "tiers": tiers,
        "tasks": tasks,
        "defaults": {"cache": {"mode": "semantic", "embedding_model": "embedder"}},
        "experiments": experiments,
        "portkey_providers": keys,
        "environments": environments,
    }
    return yaml.safe_dump(data, sort_keys=False)


def median_seconds(action: Callable[[], object], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def measure(label: str, text: str, repeat: int) -> dict[str, Any]:
    spec = load_spec_text(text, label)  # also warms imports and caches
    files = render(spec, ENVIRONMENT_NAMES)
    validate_s = median_seconds(lambda: load_spec_text(text, label), repeat)
    render_s = median_seconds(lambda: render(spec, ENVIRONMENT_NAMES), repeat)
    total_s = validate_s + render_s
    return {
        "label": label,
        "tasks": len(spec.tasks),
        "lines": text.count("\n"),
        "files": len(files),
        "validate_s": validate_s,
        "render_s": render_s,
        "total_s": total_s,
        "us_per_task": total_s / len(spec.tasks) * 1e6,
    }


def plan_seconds(stack: str) -> float:
    """Wall time of `python -m tools.plan --stack <stack>` in a new process (imports included)."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "tools.plan", "--stack", stack], check=True, capture_output=True, timeout=120)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per measurement; the median is reported")
    parser.add_argument("--tasks", type=int, default=1000, help="tasks in the synthetic spec")
    parser.add_argument("--profile", action="store_true", help="profile one synthetic build and print the top")
    args = parser.parse_args(argv)

    real = measure("routing.yaml", DEFAULT_SPEC.read_text(encoding="utf-8"), max(args.repeat, 5) * 4)
    synthetic_text = synthetic_spec(args.tasks)
    synthetic = measure(f"synthetic-{args.tasks}", synthetic_text, args.repeat)

    print(f"environments: {', '.join(ENVIRONMENT_NAMES)}; median of runs; validate = YAML + model + rules\n")
    columns = ("tasks", "lines", "files")
    timings = ("validate", "render", "total", "µs/task")
    header = f"{'spec':<16} " + " ".join(f"{c:>7}" for c in columns) + " " + " ".join(f"{c:>10}" for c in timings)
    print(header)
    print("-" * len(header))
    for row in (real, synthetic):
        print(
            f"{row['label']:<16} {row['tasks']:>7} {row['lines']:>7} {row['files']:>7} "
            f"{row['validate_s'] * 1000:>8.1f}ms {row['render_s'] * 1000:>8.1f}ms "
            f"{row['total_s'] * 1000:>8.1f}ms {row['us_per_task']:>10.0f}"
        )
    ratio = synthetic["us_per_task"] / real["us_per_task"]
    print(f"\nper-task cost, synthetic / real: {ratio:.2f} (near 1 = linear; the real spec has fixed costs per env)")

    ok = True
    for row, target in ((real, REAL_TARGET_S), (synthetic, SYNTHETIC_TARGET_S)):
        passed = row["total_s"] < target
        ok &= passed
        print(f"{'PASS' if passed else 'FAIL'}: {row['label']} {row['total_s']:.3f} s (target < {target:g} s)")

    for stack in PLAN_STACKS:
        seconds = plan_seconds(stack)
        passed = seconds < PLAN_TARGET_S
        ok &= passed
        print(f"{'PASS' if passed else 'FAIL'}: make plan STACK={stack} {seconds:.2f} s (target < {PLAN_TARGET_S:g} s)")

    if args.profile:
        spec = load_spec_text(synthetic_text, "synthetic")
        profiler = cProfile.Profile()
        profiler.enable()
        load_spec_text(synthetic_text, "synthetic")
        render(spec, ENVIRONMENT_NAMES)
        profiler.disable()
        print()
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("cumulative").print_stats(25)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
