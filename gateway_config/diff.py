"""What a routing change does, per environment and task, as a markdown summary for the PR.

The comparison runs on resolved routes, not on YAML text: moving a model between tiers, renaming a
tier or starting an experiment all show up as the traffic they move, in percentage points.
Environments whose changes are identical are reported once, under one heading.

The report is a list of :class:`Section` (a heading and its Markdown blocks) rendered by
:func:`render_markdown`: another part of the report (a cost projection, say) is one more section.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from gateway_config.build import render_environment
from gateway_config.resolve import (
    ResolvedApplication,
    ResolvedEnvironment,
    ResolvedTarget,
    ResolvedTask,
    resolve_environment,
)
from gateway_config.spec import ENVIRONMENT_NAMES, Cache, RateLimit, RoutingSpec

TITLE = "Routing change"
NO_CHANGE = "No change to routing in any environment."


@dataclass
class TaskChange:
    task: str
    lines: list[str] = field(default_factory=list)


@dataclass
class EnvironmentChange:
    environment: str
    tasks: list[TaskChange] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Generated files whose bytes change: the backstop for anything the summary lines do not name.
    files: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.tasks or self.notes)

    def content(self) -> tuple[object, ...]:
        """Everything the report says about this environment, for folding identical ones together."""
        return (tuple((task.task, tuple(task.lines)) for task in self.tasks), tuple(self.notes), tuple(self.files))


@dataclass(frozen=True)
class Section:
    """One heading of the report and its Markdown blocks (a list, a paragraph), in order."""

    heading: str
    blocks: tuple[str, ...]


def first_choice_share(task: ResolvedTask) -> dict[str, float]:
    """Target label -> percent of the task's requests it serves while every target is healthy."""
    share: dict[str, float] = {}
    for branch in task.branches:
        label = branch.chain[0].label
        share[label] = share.get(label, 0.0) + branch.percent
    return share


def _fmt(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _describe_cache(cache: Cache) -> str:
    if cache.mode == "off":
        return "off"
    threshold = f", similarity {cache.similarity_threshold:g}" if cache.mode == "semantic" else ""
    return f"{cache.mode}, ttl {cache.ttl_seconds} s{threshold}"


def _new_task_lines(task: ResolvedTask) -> list[str]:
    """What a reviewer needs to know about a task that did not exist: its route and its limits."""
    if task.route != "gateway":
        return [f"task added: {task.route} (`{task.targets[0].label}`)"]
    return [
        f"task added: {' → '.join(t.label for t in task.targets)}",
        f"request timeout: {task.request_timeout_seconds:g} s",
        f"cache: {_describe_cache(task.cache)}",
        f"retry: {task.retry.attempts} attempts on {', '.join(map(str, task.retry.on_status_codes))}",
    ]


def _compare_applications(before: Sequence[ResolvedApplication], after: Sequence[ResolvedApplication]) -> list[str]:
    old, new = {a.name: a for a in before}, {a.name: a for a in after}
    lines = []
    for name in sorted(set(old) | set(new)):
        if name not in old:
            lines.append(f"application added: `{name}` (tasks: {', '.join(new[name].tasks)})")
        elif name not in new:
            lines.append(f"application removed: `{name}` (its key stops working)")
        elif old[name].tasks != new[name].tasks:
            lines.append(f"application `{name}` tasks: {', '.join(old[name].tasks)} → {', '.join(new[name].tasks)}")
    return lines


def _compare_tasks(before: ResolvedTask, after: ResolvedTask) -> list[str]:
    lines: list[str] = []
    if before.route != after.route:
        lines.append(f"route: {before.route} → {after.route}")
    if before.tier != after.tier:
        lines.append(f"tier: `{before.tier}` → `{after.tier}`")
    old_targets = [target.label for target in before.targets]
    new_targets = [target.label for target in after.targets]
    for label in new_targets:
        if label not in old_targets:
            lines.append(f"target added: `{label}`")
    for label in old_targets:
        if label not in new_targets:
            lines.append(f"target removed: `{label}`")
    if [t for t in old_targets if t in new_targets] != [t for t in new_targets if t in old_targets]:
        lines.append(f"fallback order: {' → '.join(old_targets)} ⇒ {' → '.join(new_targets)}")
    old_share, new_share = first_choice_share(before), first_choice_share(after)
    for label in sorted(set(old_share) | set(new_share)):
        delta = new_share.get(label, 0.0) - old_share.get(label, 0.0)
        if abs(delta) >= 1e-6:
            lines.append(
                f"traffic `{label}`: {old_share.get(label, 0.0):g}% → {new_share.get(label, 0.0):g}% ({delta:+g} pp)"
            )
    for name, old_settings, new_settings in (
        ("retry", before.retry.model_dump(), after.retry.model_dump()),
        ("cache", before.cache.model_dump(), after.cache.model_dump()),
    ):
        for key in sorted(old_settings):
            if old_settings[key] != new_settings[key]:
                lines.append(f"{name}.{key}: {_fmt(old_settings[key])} → {_fmt(new_settings[key])}")
    if before.request_timeout_seconds != after.request_timeout_seconds:
        lines.append(f"request timeout: {before.request_timeout_seconds:g} s → {after.request_timeout_seconds:g} s")
    old_timeouts = {t.label: t.timeout_seconds for t in before.targets}
    for target in after.targets:
        old = old_timeouts.get(target.label)
        if old is not None and old != target.timeout_seconds:
            lines.append(f"timeout `{target.label}`: {old:g} s → {target.timeout_seconds:g} s")
    old_by_label = {t.label: t for t in before.targets}
    for target in after.targets:
        old_target = old_by_label.get(target.label)
        if old_target is None:
            continue
        if old_target.base_url != target.base_url:
            lines.append(f"endpoint `{target.label}`: {old_target.base_url} → {target.base_url}")
        if old_target.api_key_env != target.api_key_env:
            lines.append(f"key variable `{target.label}`: {old_target.api_key_env} → {target.api_key_env}")
    old_providers = {t.label: t.portkey_provider for t in before.targets}
    for target in after.targets:
        if target.label in old_providers and old_providers[target.label] != target.portkey_provider:
            lines.append(
                f"Portkey provider `{target.label}`: {old_providers[target.label]} → {target.portkey_provider}"
            )
    old_experiments = {e.name: e for e in before.experiments}
    new_experiments = {e.name: e for e in after.experiments}
    for name in sorted(set(old_experiments) | set(new_experiments)):
        old_e, new_e = old_experiments.get(name), new_experiments.get(name)
        if old_e is None and new_e is not None:
            lines.append(f"experiment started: `{name}` ({new_e.kind}, {new_e.traffic_percent:g}% → {new_e.variant})")
        elif new_e is None and old_e is not None:
            lines.append(f"experiment ended: `{name}`")
        elif old_e is not None and new_e is not None and (old_e.kind, old_e.variant) == (new_e.kind, new_e.variant):
            if old_e.traffic_percent != new_e.traffic_percent:
                lines.append(f"experiment `{name}`: {old_e.traffic_percent:g}% → {new_e.traffic_percent:g}%")
        elif old_e is not None and new_e is not None:
            lines.append(
                f"experiment `{name}`: {old_e.kind}, {old_e.traffic_percent:g}% → {old_e.variant} ⇒ "
                f"{new_e.kind}, {new_e.traffic_percent:g}% → {new_e.variant}"
            )
    if before.budget_usd_monthly != after.budget_usd_monthly:
        lines.append(f"budget: {_fmt(before.budget_usd_monthly)} → {_fmt(after.budget_usd_monthly)} USD/month")
    return lines


def compare_environment(before: ResolvedEnvironment, after: ResolvedEnvironment) -> EnvironmentChange:
    change = EnvironmentChange(environment=after.name)
    old_tasks = {task.name: task for task in before.tasks}
    new_tasks = {task.name: task for task in after.tasks}
    for name in sorted(set(old_tasks) | set(new_tasks)):
        if name not in old_tasks:
            change.tasks.append(TaskChange(name, _new_task_lines(new_tasks[name])))
        elif name not in new_tasks:
            change.tasks.append(TaskChange(name, ["task removed"]))
        else:
            lines = _compare_tasks(old_tasks[name], new_tasks[name])
            if lines:
                change.tasks.append(TaskChange(name, lines))
    for setting in ("connection_pool", "cooldown_seconds", "request_timeout_seconds"):
        old_value, new_value = getattr(before.defaults, setting), getattr(after.defaults, setting)
        if old_value != new_value:
            change.notes.append(f"{setting}: {_fmt(old_value)} → {_fmt(new_value)}")
    old_embedder, new_embedder = before.cache_embedding_target, after.cache_embedding_target
    if old_embedder != new_embedder:
        change.notes.append(f"semantic-cache embedder: {_describe(old_embedder)} → {_describe(new_embedder)}")
    if before.budget_usd_monthly != after.budget_usd_monthly:
        change.notes.append(f"monthly budget: {before.budget_usd_monthly:g} → {after.budget_usd_monthly:g} USD")
    if before.budget_alert_threshold_percent != after.budget_alert_threshold_percent:
        old_percent, new_percent = before.budget_alert_threshold_percent, after.budget_alert_threshold_percent
        change.notes.append(f"budget alert threshold: {old_percent}% → {new_percent}%")
    change.notes += _compare_portkey_providers(before, after)
    old_slos, new_slos = before.slos.model_dump(), after.slos.model_dump()
    for key in sorted(old_slos):
        if old_slos[key] != new_slos[key]:
            change.notes.append(f"SLO {key}: {old_slos[key]:g} → {new_slos[key]:g}")
    change.notes += _compare_applications(before.applications, after.applications)
    return change


def _compare_portkey_providers(before: ResolvedEnvironment, after: ResolvedEnvironment) -> list[str]:
    """The Model Catalog providers `pulumi up` creates, deletes or changes in Portkey."""
    old = {entry.slug: entry for entry in before.portkey_providers}
    new = {entry.slug: entry for entry in after.portkey_providers}
    lines = []
    for slug in sorted(set(old) | set(new)):
        old_entry, new_entry = old.get(slug), new.get(slug)
        if old_entry is None and new_entry is not None:
            lines.append(f"Portkey provider added: `@{slug}` ({new_entry.provider})")
        elif new_entry is None:
            lines.append(f"Portkey provider removed: `@{slug}`")
        elif old_entry is not None:
            if old_entry.credit_limit_usd_monthly != new_entry.credit_limit_usd_monthly:
                lines.append(
                    f"Portkey provider `@{slug}` credit limit: {old_entry.credit_limit_usd_monthly} → "
                    f"{new_entry.credit_limit_usd_monthly} USD/month"
                )
            if old_entry.rate_limit != new_entry.rate_limit:
                old_rate, new_rate = _rate(old_entry.rate_limit), _rate(new_entry.rate_limit)
                lines.append(f"Portkey provider `@{slug}` rate limit: {old_rate} → {new_rate}")
    return lines


def _rate(limit: RateLimit | None) -> str:
    return f"{limit.value} {limit.type} {limit.unit}" if limit else "none"


def _describe(target: ResolvedTarget | None) -> str:
    return f"`{target.label}` at {target.base_url}" if target else "none"


def environment_sections(changes: Sequence[EnvironmentChange]) -> list[Section]:
    """One section per distinct change; environments whose changes are identical share one."""
    groups: dict[tuple[object, ...], list[EnvironmentChange]] = {}
    for change in changes:
        if not change.empty:
            groups.setdefault(change.content(), []).append(change)
    sections = []
    for group in groups.values():
        change = group[0]
        items = [f"- {note}" for note in change.notes]
        for task in change.tasks:
            items.append(f"- **{task.task}**")
            items += [f"  - {line}" for line in task.lines]
        blocks = ["\n".join(items)]
        if change.files:
            blocks.append("Generated files that change: " + ", ".join(f"`{file}`" for file in change.files))
        sections.append(Section(", ".join(c.environment for c in group), tuple(blocks)))
    return sections


def render_markdown(title: str, sections: Sequence[Section], empty: str) -> str:
    """Markdown with a blank line around every heading and block, ending in a newline."""
    parts = [f"## {title}"]
    if not sections:
        parts.append(empty)
    for section in sections:
        parts.append(f"### {section.heading}")
        parts.extend(section.blocks)
    return "\n\n".join(parts) + "\n"


def environment_changes(
    before: RoutingSpec, after: RoutingSpec, environments: Iterable[str] = ENVIRONMENT_NAMES
) -> list[EnvironmentChange]:
    """What changes in each environment. The summary lines come from the resolved routes; the list of
    generated files that change comes from rendering both specs, so nothing that reaches a runtime can
    change without being named."""
    changes = []
    for environment in environments:
        change = compare_environment(resolve_environment(before, environment), resolve_environment(after, environment))
        old_files, new_files = render_environment(before, environment), render_environment(after, environment)
        change.files = sorted(
            path for path in set(old_files) | set(new_files) if old_files.get(path) != new_files.get(path)
        )
        if change.files and change.empty:
            change.notes.append("no routing change in the summary's terms; see the generated files below")
        changes.append(change)
    return changes


def routing_diff(before: RoutingSpec, after: RoutingSpec, environments: Iterable[str] = ENVIRONMENT_NAMES) -> str:
    """Markdown summary of what changes from `before` to `after`, per environment."""
    return render_markdown(TITLE, environment_sections(environment_changes(before, after, environments)), NO_CHANGE)
