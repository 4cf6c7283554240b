"""`make run` as a person uses it: the banner says how to call the gateway (keys read from files, never
on the command line) and what the engine does not check; Ctrl-C stops everything and keeps the logs,
saying where, unless they are to be discarded."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from e2e_engines import require_tool

from local.processes import REPO_ROOT, free_port, litellm_available, portkey_available, stop_process_group

pytestmark = pytest.mark.e2e

READY = "Ctrl-C stops everything."
START_SECONDS = 120.0


class Run:
    """``python -m local.run`` in its own process group, its output collected as it comes."""

    def __init__(self, *args: str) -> None:
        env = {key: value for key, value in os.environ.items() if not key.endswith("_API_KEY")}  # the mock only
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "local.run", "--port", str(free_port()), *args],
            cwd=REPO_ROOT,
            env={**env, "PYTHONUNBUFFERED": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, text: str, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while text not in self.output:
            assert self.popen.poll() is None, f"local.run exited {self.popen.returncode}:\n{self.output}"
            assert time.monotonic() < deadline, f"no {text!r} within {seconds:.0f} s:\n{self.output}"
            time.sleep(0.2)

    def interrupt(self, seconds: float = 60.0) -> int:
        """Ctrl-C (SIGINT to the process, as the terminal sends it) and the exit status."""
        self.popen.send_signal(signal.SIGINT)
        code = self.popen.wait(timeout=seconds)
        self._reader.join(timeout=5)
        return code

    def stop(self) -> None:
        stop_process_group(self.popen)


@pytest.fixture
def runs() -> Iterator[list[Run]]:
    started: list[Run] = []
    yield started
    for run in started:
        run.stop()


def _kept_logs(output: str) -> Path:
    match = re.search(r"^logs kept in (\S+) ", output, re.MULTILINE)
    assert match, output
    return Path(match[1])


def test_portkey_run_says_it_checks_no_keys_and_keeps_its_logs(runs: list[Run]) -> None:
    require_tool("portkey", portkey_available())
    run = Run("--engine", "portkey")
    runs.append(run)
    run.wait_for(READY, START_SECONDS)
    assert "checks no keys" in run.output and "GET /v1/models" in run.output
    assert "Snowflake Cortex" in run.output
    assert run.interrupt() == 0
    logs = _kept_logs(run.output)
    try:
        assert (logs / "mock-provider.log").is_file()
        assert any(path.name.startswith("portkey-") for path in logs.iterdir())
    finally:
        shutil.rmtree(logs, ignore_errors=True)

    discarded = Run("--engine", "portkey", "--discard-logs")
    runs.append(discarded)
    discarded.wait_for(READY, START_SECONDS)
    folder = Path(re.search(r"logs: (\S+)", discarded.output)[1])  # type: ignore[index]
    assert folder.is_dir()
    assert discarded.interrupt() == 0
    assert not folder.exists() and "logs kept" not in discarded.output


def test_litellm_run_prints_a_request_that_reads_its_key_from_a_file(runs: list[Run]) -> None:
    require_tool("litellm", litellm_available())
    run = Run("--engine", "litellm")
    runs.append(run)
    run.wait_for(READY, START_SECONDS)
    keys = Path(re.search(r"deleted on exit\): (\S+)/$", run.output, re.MULTILINE)[1])  # type: ignore[index]
    master = (keys / "_admin.key").read_text().strip()
    assert master.startswith("sk-") and master not in run.output  # never printed, never on a command line
    for path in keys.iterdir():
        assert path.stat().st_mode & 0o777 == 0o600, path
    curl = next(line.strip() for line in run.lines if line.strip().startswith("curl "))
    assert "-H @" in curl and "Bearer" not in curl
    answer = subprocess.run(["bash", "-c", curl], capture_output=True, text=True, timeout=60)
    assert answer.returncode == 0 and '"served-by ' in answer.stdout, (curl, answer.stdout, answer.stderr)
    export = next(line.strip() for line in run.lines if line.strip().startswith("export LLM_GATEWAY_URL="))
    shown = subprocess.run(
        ["bash", "-c", f'{export}; printf "%s %s" "$LLM_GATEWAY_URL" "$LLM_GATEWAY_KEY"'],
        capture_output=True,
        text=True,
        timeout=30,
    )
    url, key = shown.stdout.split(" ")
    assert url.startswith("http://127.0.0.1:") and key.startswith("sk-local-") and key not in run.output
    # The printed metrics URL answers a scrape without any key, with the request just sent counted.
    metrics = re.search(r"^metrics: (http://127\.0\.0\.1:\d+/\S*) ", run.output, re.MULTILINE)
    assert metrics, run.output
    scrape = httpx.get(metrics[1], timeout=10)
    assert scrape.status_code == 200 and "litellm_proxy_total_requests_metric_total" in scrape.text
    assert run.interrupt() == 0
    assert not keys.exists()  # this run's keys go with its work folder
    shutil.rmtree(_kept_logs(run.output), ignore_errors=True)
