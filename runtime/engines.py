"""The gateway engines: every fact that differs between LiteLLM and the Portkey gateway, in one place.

The Pulumi program (``components/gateway.py``), the reader of the generated tree
(``program/generated_tree.py``), the local runner (``local/``) and the Makefile read this registry
instead of testing engine names. Adding an engine is one :class:`Engine` entry here, plus its
install recipe (``make runtime-<name>``) and its local start function in ``local/processes.py``.

Standard library only: ``make`` reads the engine names with the system Python
(``python3 -m runtime.engines``) before any virtual environment exists.
The measured behaviour behind these facts is in docs/runtime-facts.md.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal


@dataclass(frozen=True)
class Probe:
    """A container probe: an HTTP GET on ``path`` or, without a path, a TCP connect."""

    path: str | None
    period_seconds: int
    failure_threshold: int
    timeout_seconds: int = 1


# The writable emptyDir of a gateway pod (read-only root filesystem); engine paths live under it.
POD_TMP = "/tmp"
# CORS for a gateway that allows no browser origin: LiteLLM reads an empty list as "*", so it gets an
# origin no browser can have (.invalid is reserved, RFC 2606).
NO_BROWSER_ORIGIN = "https://no-browser-origin.invalid"
# What TRUSTED_CUSTOM_HOSTS holds when the configs name no host: setting it at all drops Portkey's
# default trust of localhost and 127.0.0.1.
NO_TRUSTED_HOST = "no-trusted-host.invalid"
# The folder prometheus_client's multiprocess mode shares between LiteLLM's workers and its metrics process.
PROMETHEUS_MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"


@dataclass(frozen=True)
class RetryWaits:
    """How long an engine waits before its retries: exponential backoff, and providers' Retry-After."""

    first_seconds: float
    # Cap of one backoff step (``math.inf``: none).
    cap_seconds: float
    jitter_seconds: float
    # A Retry-After the engine honours: at most this long per retry, and at most this long in total.
    retry_after_each_seconds: float
    retry_after_total_seconds: float

    def bound_seconds(self, attempts: int) -> float:
        """An upper bound of the waits before ``attempts`` retries (backoff and Retry-After may mix)."""
        backoff = sum(min(self.first_seconds * 2.0**step, self.cap_seconds) for step in range(attempts))
        retry_after = min(attempts * self.retry_after_each_seconds, self.retry_after_total_seconds)
        return backoff + attempts * self.jitter_seconds + retry_after


@dataclass(frozen=True)
class Engine:
    """One gateway engine: its container, what it serves and reads, and how it runs locally."""

    name: str
    # Stack setting that holds the engine's image, and its default (the version the tests run).
    image_setting: str
    default_image: str
    port: int
    # The image's non-root user; the pod runs as it with a read-only root filesystem.
    run_as_user: int
    # Container command (None: the image's entrypoint) and arguments; ``{config_dir}`` and
    # ``{port}`` are filled in by the component.
    command: tuple[str, ...] | None
    args: tuple[str, ...]
    working_dir: str | None
    # Plain environment the engine needs in every deployment (never a secret).
    plain_env: tuple[tuple[str, str], ...]
    # Generated files (globs relative to ``generated/<env>/``) its pods carry.
    serves: tuple[str, ...]
    # Project code its pods carry next to the generated files: (path in the config tree, path in the
    # repository). LiteLLM loads its hooks from the folder of its config file.
    ships: tuple[tuple[str, str], ...]
    # Folder of the config tree (relative to its root) whose modules the shipped hooks import, put on
    # PYTHONPATH: LiteLLM executes a hook file by path, not as part of a package, so a hook's sibling
    # module is importable only from a folder on the path. None: the engine runs no Python hooks.
    hooks_import_dir: str | None
    # Whether it checks the caller's key (the OSS Portkey gateway forwards whatever it gets upstream).
    authenticates_clients: bool
    # Whether its containers read the provider keys, the admin key and Redis from the environment.
    reads_secrets: bool
    startup_probe: Probe
    liveness_probe: Probe
    readiness_probe: Probe
    # Prometheus endpoint, or None when the engine exports no metrics: served on ``metrics_port``, a
    # port of its own that answers nothing but the scrape (and the NetworkPolicy opens only to the
    # monitoring namespace), so the scraper holds no key that could call the API.
    metrics_path: str | None
    metrics_port: int | None
    # Whether it resolves Portkey Model Catalog providers (`@slug`; only Portkey's hosted
    # gateway does; neither in-cluster engine can).
    resolves_portkey_providers: bool
    # How a client names the route: the LiteLLM model group (the task), or a Portkey config per request.
    route_selector: Literal["model_group", "portkey_config_header"]
    # `make` target that installs the local runtime.
    install_target: str
    # Whether it uses Redis (cache, shared router state); the pod's egress to Redis follows.
    uses_redis: bool
    # Whether it lets in-flight requests finish on SIGTERM. One that does not (Portkey exits at once)
    # needs its preStop pause to outlast the longest request; one that does needs only the endpoints
    # to drain before it stops listening (it refuses new connections at once either way).
    drains_on_sigterm: bool
    retry_waits: RetryWaits
    # The variable that lists the browser origins allowed by CORS, or None when the engine answers
    # no CORS at all (a browser on another origin cannot call it).
    cors_origins_env: str | None
    # The variable naming the hosts exempt from its SSRF blocklist for `custom_host` targets, or None.
    trusted_hosts_env: str | None
    # Whether its provider calls honour HTTPS_PROXY (needed for a stack that names an egress proxy).
    honours_https_proxy: bool
    # Whether it writes the request log to object storage (LiteLLM's s3_v2 callback, configured by the
    # generator), which the analytics load into Snowflake.
    writes_request_log: bool


LITELLM = Engine(
    name="litellm",
    image_setting="litellmImage",
    # The version runtime/litellm/requirements.txt pins and every test ran (a test keeps them equal).
    default_image="ghcr.io/berriai/litellm:v1.106.12",
    port=4000,
    run_as_user=65532,
    command=None,
    # `--prometheus_metrics_port`: a separate process serves the registry on its own port without
    # authentication (the API port's /metrics demands a key: docs/runtime-facts.md).
    args=(
        "--config",
        "{config_dir}/litellm/config.yaml",
        "--port",
        "{port}",
        "--prometheus_metrics_port",
        "{metrics_port}",
    ),
    working_dir=None,
    # Caches and UI rewrites go to the writable emptyDir, not the read-only image.
    plain_env=(
        ("HOME", POD_TMP),
        ("LITELLM_UI_PATH", f"{POD_TMP}/litellm-ui"),
        # Closed by default: no admin UI login, no Swagger/ReDoc/OpenAPI pages (docs/runtime-facts.md).
        ("DISABLE_ADMIN_UI", "True"),
        ("NO_DOCS", "True"),
        ("NO_REDOC", "True"),
        ("NO_OPENAPI", "True"),
        # Clients authenticate with bearer keys, never cookies: no credentialed cross-origin calls.
        ("LITELLM_CORS_ALLOW_CREDENTIALS", "false"),
        # Where the proxy's workers write their samples for the metrics process to read. Set, so the
        # proxy does not pick its shared default /tmp/litellm_prometheus_multiproc, which it wipes at start.
        (PROMETHEUS_MULTIPROC_DIR, f"{POD_TMP}/prometheus-multiproc"),
    ),
    serves=("routing.json", "litellm/config.yaml", "litellm/env.json"),
    # The client contract's hooks (gateway_config/generators/litellm.py names the first two).
    ships=tuple(
        (f"litellm/{module}", f"runtime/litellm/hooks/{module}")
        for module in ("gateway_auth.py", "gateway_hooks.py", "gateway_policy.py")
    ),
    hooks_import_dir="litellm",
    reads_secrets=True,
    authenticates_clients=True,
    # Start-up takes ~5 s; allow up to 2 min on a cold node before liveness takes over.
    startup_probe=Probe("/health/liveliness", period_seconds=5, failure_threshold=24),
    liveness_probe=Probe("/health/liveliness", period_seconds=10, failure_threshold=3, timeout_seconds=3),
    # /health/readiness answers only once the router and its config are loaded.
    readiness_probe=Probe("/health/readiness", period_seconds=5, failure_threshold=3, timeout_seconds=3),
    # The metrics app is mounted at /metrics: /metrics answers a redirect to /metrics/.
    metrics_path="/metrics/",
    metrics_port=4001,
    resolves_portkey_providers=False,
    route_selector="model_group",
    install_target="runtime-litellm",
    uses_redis=True,
    # uvicorn waits for open requests after SIGTERM (measured: docs/runtime-facts.md).
    drains_on_sigterm=True,
    # litellm.utils.calculate_retry_after: 0.5 s doubling to 8 s plus up to 0.75 s jitter; a
    # provider's Retry-After up to 60 s is honoured instead, on every retry.
    retry_waits=RetryWaits(0.5, 8.0, 0.75, retry_after_each_seconds=60.0, retry_after_total_seconds=math.inf),
    # Unset or empty means every origin ("*"): the program always sets it.
    cors_origins_env="LITELLM_CORS_ORIGINS",
    trusted_hosts_env=None,
    # Its provider clients (httpx, aiohttp with trust_env) read HTTPS_PROXY.
    honours_https_proxy=True,
    writes_request_log=True,
)

PORTKEY = Engine(
    name="portkey",
    image_setting="portkeyImage",
    default_image="portkeyai/gateway:1.15.2",
    port=8787,
    # `node` in the image.
    run_as_user=1000,
    command=("node", "build/start-server.js"),
    # Without --headless / NODE_ENV=production it serves a console and /log/stream that print every
    # request, API keys included.
    args=("--headless", "--port={port}"),
    working_dir="/app",
    plain_env=(("NODE_ENV", "production"),),
    # Configs travel per request (x-portkey-config); the pods carry them for clients and reviewers.
    serves=("routing.json", "portkey/*.json"),
    ships=(),
    hooks_import_dir=None,
    # The OSS build has no Model Catalog: the caller supplies provider credentials per request.
    reads_secrets=False,
    authenticates_clients=False,
    # No /health route: TCP probes.
    startup_probe=Probe(None, period_seconds=2, failure_threshold=30),
    liveness_probe=Probe(None, period_seconds=10, failure_threshold=3),
    readiness_probe=Probe(None, period_seconds=5, failure_threshold=2),
    metrics_path=None,
    metrics_port=None,
    resolves_portkey_providers=False,
    route_selector="portkey_config_header",
    install_target="runtime-portkey",
    uses_redis=False,
    # node exits at once on SIGTERM and cuts in-flight requests (measured: docs/runtime-facts.md).
    drains_on_sigterm=False,
    # async-retry, factor 2 from 1 s, no cap; a 429's Retry-After is honoured within 60 s in all.
    retry_waits=RetryWaits(1.0, math.inf, 0.0, retry_after_each_seconds=60.0, retry_after_total_seconds=60.0),
    # The OSS build sends no CORS headers: no browser on another origin can call it.
    cors_origins_env=None,
    # An exception list for its custom_host SSRF blocklist, not an allowlist (docs/security.md).
    trusted_hosts_env="TRUSTED_CUSTOM_HOSTS",
    # The build reads HTTP(S)_PROXY into its settings but its fetch does not use them.
    honours_https_proxy=False,
    writes_request_log=False,
)

REPO_ROOT = Path(__file__).resolve().parent.parent

ENGINES: dict[str, Engine] = {engine.name: engine for engine in (LITELLM, PORTKEY)}
DEFAULT_ENGINE = LITELLM.name


def shipped_files(engine: Engine) -> dict[str, Path]:
    """The project files ``engine``'s pods carry: path in the config tree → the file in this repository."""
    return {destination: REPO_ROOT / source for destination, source in engine.ships}


class UnknownEngineError(ValueError):
    """An engine name the registry does not know."""


def engine_named(name: str) -> Engine:
    """The registry entry for ``name``; raises :class:`UnknownEngineError` naming the choices."""
    try:
        return ENGINES[name]
    except KeyError:
        raise UnknownEngineError(f"unknown engine {name!r}; choose one of: {', '.join(ENGINES)}") from None


if __name__ == "__main__":
    # `make` asks for the names (ENGINES := $(shell python3 -m runtime.engines)).
    print(" ".join(ENGINES))
    sys.exit(0)
