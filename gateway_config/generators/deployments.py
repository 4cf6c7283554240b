"""The LiteLLM deployments of an environment, as the monitoring sees them.

LiteLLM labels its series with the deployment id (`model_id`, `<task>/<target>[/...]`) the LiteLLM
generator gives every `model_list` entry. The rules and dashboards need to know, per task, which of
those ids are first choices (`order: 1`), which are fallbacks, and which carry an experiment's
variant: this module reads that from the generated LiteLLM config itself, so the monitoring can
never disagree with what the gateway was given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway_config.generators.litellm import CONTROL, TAG_PREFIX, litellm_config
from gateway_config.resolve import ResolvedEnvironment


@dataclass(frozen=True)
class Deployment:
    task: str
    deployment_id: str
    target_model: str
    order: int
    # `control`, or `variant` for the deployments an experiment's share of traffic goes to.
    arm: str
    experiment: str


def _tags(entry: dict[str, Any]) -> dict[str, str]:
    tags: dict[str, str] = {}
    for tag in entry["litellm_params"].get("tags", []):
        if tag.startswith(TAG_PREFIX) and "=" in tag:
            key, _, value = tag.removeprefix(TAG_PREFIX).partition("=")
            tags[key] = value
    return tags


def gateway_deployments(environment: ResolvedEnvironment) -> tuple[Deployment, ...]:
    """Every deployment of the environment's LiteLLM config, sorted by id."""
    return deployments_of(litellm_config(environment))


def deployments_of(config: dict[str, Any]) -> tuple[Deployment, ...]:
    """Every deployment of a generated LiteLLM config, sorted by id."""
    deployments = []
    for entry in config["model_list"]:
        info = entry.get("model_info", {})
        if "task" not in info:
            continue  # the semantic cache's embedding model serves no task
        tags = _tags(entry)
        deployments.append(
            Deployment(
                task=info["task"],
                deployment_id=info["id"],
                target_model=info["target_model"],
                order=int(entry["litellm_params"].get("order", 1)),
                arm=tags.get("variant", CONTROL),
                experiment=tags.get("experiment", ""),
            )
        )
    return tuple(sorted(deployments, key=lambda deployment: deployment.deployment_id))


def fallback_deployment_ids(deployments: tuple[Deployment, ...]) -> list[str]:
    """Deployments a request reaches only after its first choice failed (LiteLLM's `order` > 1)."""
    return [deployment.deployment_id for deployment in deployments if deployment.order > 1]


def experiment_arms(deployments: tuple[Deployment, ...], task: str, experiment: str) -> dict[str, list[str]]:
    """`variant` and `control` deployment ids of one experiment on its task (control: every deployment
    of the task that is not this experiment's variant, fallbacks included, as the request log counts it)."""
    arms: dict[str, list[str]] = {"variant": [], "control": []}
    for deployment in deployments:
        if deployment.task != task:
            continue
        is_variant = deployment.arm == "variant" and deployment.experiment == experiment
        arms["variant" if is_variant else "control"].append(deployment.deployment_id)
    return arms
