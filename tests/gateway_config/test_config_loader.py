"""Reading a spec file: YAML errors, encodings, sizes, aliases and how keys map to lines."""

from __future__ import annotations

from pathlib import Path

import pytest
from spec_edits import REAL_SPEC, SPEC_FILE, base_text, edit, line_of, problems, valid

from gateway_config import loader
from gateway_config.build import render
from gateway_config.errors import InputError, format_key_path
from gateway_config.loader import MAX_SPEC_BYTES, MAX_SPEC_NODES, load_spec


def _load_errors(path: Path) -> list[str]:
    with pytest.raises(InputError) as caught:
        load_spec(path)
    return caught.value.lines()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("", [f"{SPEC_FILE}: <document>: the file is empty"], id="empty"),
        pytest.param("# only a comment\n", [f"{SPEC_FILE}: <document>: the file is empty"], id="comment-only"),
        pytest.param(
            "- version: 1\n", [f"{SPEC_FILE}:1: <document>: the spec must be a mapping of sections"], id="a-list"
        ),
        pytest.param(
            "version: 1\nproviders: {openai: [}\n",
            [f"{SPEC_FILE}:2: <document>: not valid YAML: expected the node content, but found '}}'"],
            id="bad-flow",
        ),
        pytest.param(
            "version: 1\n---\nversion: 1\n",
            [f"{SPEC_FILE}:2: <document>: not valid YAML: but found another document"],
            id="two-documents",
        ),
        pytest.param(
            "version: 1\n  providers: {}\n",
            [f"{SPEC_FILE}:2: <document>: not valid YAML: mapping values are not allowed here"],
            id="bad-indent",
        ),
        pytest.param(
            "a: &x [*x]\n", [f"{SPEC_FILE}:1: a[0]: a YAML alias refers to a node that contains it"], id="self-alias"
        ),
        pytest.param(
            "a: " + "[" * 1500 + "]" * 1500 + "\n",
            [f"{SPEC_FILE}: <document>: the spec is nested too deeply"],
            id="deep-nesting",
        ),
    ],
)
def test_unreadable_documents(text: str, expected: list[str]) -> None:
    assert problems(text) == expected


def test_alias_bomb_is_refused_quickly(monkeypatch: pytest.MonkeyPatch) -> None:
    # Nine levels of nine aliases: 387 million nodes if expanded. Refused after MAX_SPEC_NODES (made
    # smaller here so the test does not walk a million nodes; the real limit is checked below).
    assert 100_000 <= MAX_SPEC_NODES <= 10_000_000
    monkeypatch.setattr(loader, "MAX_SPEC_NODES", 20_000)
    lines = ['l0: &l0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for level in range(1, 9):
        lines.append(f"l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * 9) + "]")
    assert problems("\n".join(lines) + "\n") == [
        f"{SPEC_FILE}: <document>: the spec expands to more than 20000 YAML nodes"
    ]


def test_anchors_and_aliases_are_allowed() -> None:
    text = edit(
        base_text(),
        ("    targets: [gpt-4o, claude-sonnet]\n", "    targets: &tier1 [gpt-4o, claude-sonnet]\n"),
        ("    targets: [arctic-embed-m]\n", "    targets: [arctic-embed-m]\n  tier1-copy:\n    targets: *tier1\n"),
    )
    assert [target.model for target in valid(text).tiers["tier1-copy"].targets] == ["gpt-4o", "claude-sonnet"]


def test_a_number_as_a_name_is_reported_on_its_own_line() -> None:
    text = edit(base_text(), ("  chat:\n    tier: tier2", "  123:\n    tier: tier2"))
    assert problems(text) == [
        f"{SPEC_FILE}:{line_of(text, '  123:')}: tasks.123: Input should be a valid string (got 123)"
    ]


def test_file_errors(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    assert _load_errors(missing) == [f"{missing}: <document>: cannot read the spec: No such file or directory"]

    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes(base_text().replace("version: 1", "# caf\xe9\nversion: 1").encode("latin-1"))
    assert _load_errors(latin1) == [f"{latin1}: <document>: the spec is not UTF-8 text"]

    huge = tmp_path / "huge.yaml"
    huge.write_text(base_text() + "#" * MAX_SPEC_BYTES, encoding="utf-8")
    assert _load_errors(huge) == [f"{huge}: <document>: the spec is larger than {MAX_SPEC_BYTES} bytes"]

    folder = tmp_path / "folder.yaml"
    folder.mkdir()
    assert _load_errors(folder) == [f"{folder}: <document>: cannot read the spec: Is a directory"]


def test_error_names_the_file_it_was_given(tmp_path: Path) -> None:
    spec = tmp_path / "team-routing.yaml"
    text = edit(base_text(), ("    tier: tier2\n", "    tier: tier3\n"))
    spec.write_text(text, encoding="utf-8")
    assert _load_errors(spec)[0].startswith(f"{spec}:{line_of(text, 'tier: tier3')}: tasks.chat.tier: ")


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ((), "<document>"),
        (("tasks", "chat", "tier"), "tasks.chat.tier"),
        (("tiers", "t1", "targets", 1, "model"), "tiers.t1.targets[1].model"),
        (("a", 0, 2), "a[0][2]"),
    ],
)
def test_format_key_path(path: tuple, text: str) -> None:
    assert format_key_path(path) == text


def test_line_of_a_missing_key_is_its_nearest_parent() -> None:
    error = InputError("f.yaml", [], {("tasks",): 3, ("tasks", "chat"): 7})
    assert error.line_of(("tasks", "chat", "cache", "mode")) == 7
    assert error.line_of(("tiers", "x")) is None


def test_variant_tier_serving_another_kind_of_request() -> None:
    # A gateway embedding tier as the variant of a chat task: valid shape, wrong kind of requests.
    text = edit(
        base_text(),
        (
            "    targets: [arctic-embed-m]\n",
            "    targets: [arctic-embed-m]\n  gateway-embeddings:\n    targets: [text-embedding-3-small]\n",
        ),
        ("      model: claude-haiku\n", "      tier: gateway-embeddings\n"),
    )
    assert problems(text) == [
        f"{SPEC_FILE}:{line_of(text, '      tier: gateway-embeddings')}: experiments.chat-haiku-first.variant.tier: "
        "tier 'gateway-embeddings' serves embedding requests; task 'chat' serves chat requests"
    ]


def test_the_real_spec_is_valid_and_routes_every_task() -> None:
    spec = load_spec(REAL_SPEC)
    files = render(spec)
    assert {"code_generation", "business_intelligence", "chat", "embeddings", "experimental"} <= set(spec.tasks)
    for environment in ("staging", "prod", "local"):
        assert f"{environment}/routing.json" in files
        assert f"{environment}/litellm/config.yaml" in files
