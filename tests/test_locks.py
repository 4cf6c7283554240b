"""Every environment is installed from a lock that pins the whole tree with hashes (`make lock`
writes them from the human-edited requirements*.in): nothing in the deploy environment, which holds
every provider key and the cluster credentials, resolves freely."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[a-z0-9,_-]+\])?==(\S+?)(?:\s*;.*?)?\s*\\?$")


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def lock_entries(path: Path) -> dict[str, tuple[str, int]]:
    """name → (version, number of hashes) for each pinned distribution of a uv/pip-compile lock."""
    entries: dict[str, tuple[str, int]] = {}
    current: str | None = None
    for line in path.read_text().splitlines():
        match = PIN.match(line)
        if match:
            current = _normalized(match.group(1))
            entries[current] = (match.group(2), 0)
        elif line.strip().startswith("--hash=sha256:") and current is not None:
            version, hashes = entries[current]
            entries[current] = (version, hashes + 1)
    return entries


def top_level(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-r "):
            continue
        match = PIN.match(line)
        assert match, f"{path.name}: {line!r} is not an exact pin (name==version)"
        pins[_normalized(match.group(1))] = match.group(2)
    return pins


@pytest.mark.parametrize(
    ("source", "lock"),
    [("requirements.in", "requirements.txt"), ("requirements-dev.in", "requirements-dev.txt")],
)
def test_every_top_level_pin_is_locked_at_its_version(source: str, lock: str) -> None:
    entries = lock_entries(ROOT / lock)
    for name, version in top_level(ROOT / source).items():
        assert name in entries, f"{name} is in {source} but not in {lock}: run `make lock`"
        assert entries[name][0] == version, f"{name}: {source} pins {version}, {lock} has {entries[name][0]}"


@pytest.mark.parametrize("lock", ["requirements.txt", "requirements-dev.txt", "runtime/litellm/requirements.txt"])
def test_every_locked_distribution_has_hashes(lock: str) -> None:
    entries = lock_entries(ROOT / lock)
    assert len(entries) > 20
    assert [name for name, (_, hashes) in entries.items() if hashes == 0] == []


def test_the_deploy_lock_is_the_dev_lock_restricted() -> None:
    deploy, dev = lock_entries(ROOT / "requirements.txt"), lock_entries(ROOT / "requirements-dev.txt")
    assert {name: version for name, (version, _) in deploy.items()} == {
        name: dev[name][0] for name in deploy if name in dev
    }
    assert set(deploy) <= set(dev)
    assert "-r requirements.in" in (ROOT / "requirements-dev.in").read_text()


def test_installs_refuse_anything_unhashed() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "--require-hashes --no-deps --only-binary :all:" in makefile
    assert "-r requirements-dev.txt" in makefile and "runtime/litellm/requirements.txt" in makefile
    assert makefile.count("--require-hashes") >= 2
