"""`make run` and the tests keep secrets off command lines and out of servers' environments.

Redis reads its users from an ACL file holding only password hashes (not `--requirepass` on argv,
which `CONFIG GET` would also hand back); each password is random; every server gets a minimal
environment, not the caller's; the printed curl example reads its key from a file.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import redis
from e2e_engines import require_tool

from components.redis import acl_file
from gateway_config.runtime_env import redis_acl_rules
from local.environment import ADMIN_KEY_FILE, LocalEnvironment
from local.processes import (
    LOOPBACK,
    free_port,
    minimal_environment,
    port_open,
    redis_server_path,
    start_process,
    start_redis,
    wait_until_ready,
)
from local.run import curl_command
from runtime.engines import LITELLM

pytestmark = pytest.mark.e2e

CANARY = "caller-secret-canary-61c2"


def test_redis_has_its_password_from_a_file_and_nothing_else(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    require_tool("redis-server", redis_server_path() is not None)
    monkeypatch.setenv("SOME_CLOUD_TOKEN", CANARY)
    server, endpoint = start_redis(tmp_path)
    other_server, other = start_redis(tmp_path)  # every start draws its own password
    try:
        assert other.password != endpoint.password
        cmdline = Path(f"/proc/{server.popen.pid}/cmdline").read_bytes()
        environ = Path(f"/proc/{server.popen.pid}/environ").read_bytes()
        for secret in (endpoint.password, endpoint.admin_password):
            assert secret.encode() not in cmdline and secret.encode() not in environ
        assert CANARY.encode() not in environ  # not the caller's environment either
        acl = (tmp_path / f"redis-{endpoint.port}" / "users.acl").read_text()
        assert (
            endpoint.password not in acl
            and (os.stat(tmp_path / f"redis-{endpoint.port}" / "users.acl").st_mode & 0o077) == 0
        )
        with endpoint.client() as admin:
            assert admin.config_get("requirepass") == {"requirepass": ""}
        with endpoint.client(admin=False) as gateway:
            assert gateway.ping()
            with pytest.raises(redis.exceptions.NoPermissionError):
                gateway.flushall()
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(host=endpoint.host, port=endpoint.port, password=endpoint.password).ping()  # the default user
    finally:
        server.stop()
        other_server.stop()


def test_servers_get_a_minimal_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    monkeypatch.setenv("REDIS_URL", "redis://elsewhere:6379")
    env = minimal_environment({"EXTRA": "1"})
    assert CANARY not in env.values() and "REDIS_URL" not in env and env["EXTRA"] == "1"
    assert env["PATH"] == os.environ["PATH"]


def test_the_printed_curl_reads_the_key_from_a_file(tmp_path: Path) -> None:
    # No application may use the task here: the example falls back to the administrators' key.
    key = "sk-local-canary-0b7e"
    env = LocalEnvironment(root=tmp_path, env={"LITELLM_MASTER_KEY": key}, routing={"tasks": {}})
    keys = tmp_path / "keys"
    env.write_key_files(keys)
    line = curl_command(LITELLM, "http://127.0.0.1:4000", env, "chat", keys)
    assert key not in line
    header = keys / f"{ADMIN_KEY_FILE}.header"
    # curl reads the header from the file itself: the key is on no command line, not even curl's.
    assert f"-H @{header}" in line and header.read_text() == f"Authorization: Bearer {key}\n"
    assert (header.stat().st_mode & 0o077) == 0 and (keys.stat().st_mode & 0o077) == 0


def test_the_clusters_acl_file_loads_and_means_what_it_says(tmp_path: Path) -> None:
    """The ACL file components/redis.py writes into the Secret, in a real redis-server."""
    require_tool("redis-server", redis_server_path() is not None)
    acl = tmp_path / "users.acl"
    acl.write_text(acl_file("cluster-password-canary", redis_acl_rules(semantic_cache=False)))
    port = free_port()
    argv = [redis_server_path(), "--bind", LOOPBACK, "--port", str(port), "--save", "", "--aclfile", str(acl)]
    server = start_process("redis-acl", [str(arg) for arg in argv], tmp_path / "redis.log", env=minimal_environment())
    try:
        wait_until_ready(server, lambda: port_open(LOOPBACK, port), 15, "port")
        probe = redis.Redis(host=LOOPBACK, port=port, username="probe", password="unused")
        assert probe.ping()  # the readiness probe's user
        with pytest.raises(redis.exceptions.NoPermissionError):
            probe.get("anything")
        gateway = redis.Redis(host=LOOPBACK, port=port, username="gateway", password="cluster-password-canary")
        assert gateway.set("llm-gateway:k", "v", ex=60) and gateway.get("llm-gateway:k") == b"v"
        for denied in (gateway.flushall, lambda: gateway.config_get("*"), lambda: gateway.keys("*")):
            with pytest.raises(redis.exceptions.NoPermissionError):
                denied()
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(host=LOOPBACK, port=port, password="cluster-password-canary").ping()
    finally:
        server.stop()
