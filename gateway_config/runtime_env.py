"""Names of the environment variables the generated LiteLLM config reads, and the Redis user it
connects as.

The generated files never hold a secret or an infrastructure endpoint: they reference these
variables (`os.environ/NAME`), and whoever runs the proxy sets them: the Kubernetes Deployment
(components/gateway.py), `make run` and the tests (local/environment.py). Provider keys are named
by the spec itself (`providers.<name>.api_key_env`); each application's key is named after the
application (:func:`application_key_env`).

Two Redis instances serve the proxy: the response cache (evicts under memory pressure) and the
router's state (cooldowns, usage and rate-limit counters; never evicts). None of the variable names
starts with `REDIS_`: LiteLLM fills every Redis client it builds from `REDIS_<argument>` variables
(litellm/_redis.py), which would blur the two instances.
"""

from __future__ import annotations

import re

CACHE_REDIS_HOST = "CACHE_REDIS_HOST"
CACHE_REDIS_PORT = "CACHE_REDIS_PORT"
CACHE_REDIS_PASSWORD = "CACHE_REDIS_PASSWORD"
# redis://<user>:<password>@host:port of the cache: the semantic cache takes only a URL to carry a
# username (litellm/caching/redis_semantic_cache.py). Composed by whoever runs the proxy.
CACHE_REDIS_URL = "CACHE_REDIS_URL"
STATE_REDIS_HOST = "STATE_REDIS_HOST"
STATE_REDIS_PORT = "STATE_REDIS_PORT"
STATE_REDIS_PASSWORD = "STATE_REDIS_PASSWORD"
MASTER_KEY = "LITELLM_MASTER_KEY"
APPLICATION_KEY_PREFIX = "LLM_GATEWAY_APP_KEY_"

# The Redis ACL user the gateway connects as; the `default` user is off on every instance.
REDIS_USERNAME = "gateway"
# What LiteLLM 1.106.12 sends to its cache and router Redis (measured with MONITOR and INFO
# commandstats, every request answered and ACL LOG empty: docs/runtime-facts.md). FLUSHALL, KEYS,
# CONFIG and the rest stay denied; LiteLLM reaches them only from admin endpoints.
LITELLM_REDIS_COMMANDS = (
    "+get +set +mget +incrby +incrbyfloat +expire +ttl +eval +evalsha +script|load +ping +hello +info"
)
# The semantic cache (RedisVL on RediSearch) also builds and searches a vector index of hashes. Not
# measured here (no RediSearch on Debian's redis-server, no redisvl in the runtime): check the ACL
# LOG after the first rollout (docs/deploy.md).
SEMANTIC_CACHE_REDIS_COMMANDS = "+@search +@hash +del +exists"


def redis_acl_rules(semantic_cache: bool) -> str:
    """The ACL rules of the gateway user on one instance (every key, no pub/sub channels)."""
    commands = f"{LITELLM_REDIS_COMMANDS} {SEMANTIC_CACHE_REDIS_COMMANDS}" if semantic_cache else LITELLM_REDIS_COMMANDS
    return f"resetchannels ~* -@all {commands}"


# The request log: LiteLLM's `s3_v2` callback writes each request's payload to object storage, where
# Snowpipe loads it (components/analytics.py). Bucket, key prefix and region come from stack settings;
# the endpoint is empty on AWS (LiteLLM then writes to the bucket's virtual-hosted AWS URL) and the
# local S3 server's URL for `make run` and the tests. Credentials are not referenced by the config:
# LiteLLM signs with the AWS default chain, i.e. AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY from a
# Kubernetes Secret in the cluster.
REQUEST_LOG_BUCKET = "REQUEST_LOG_BUCKET"
REQUEST_LOG_PREFIX = "REQUEST_LOG_PREFIX"
REQUEST_LOG_REGION = "REQUEST_LOG_REGION"
REQUEST_LOG_ENDPOINT = "REQUEST_LOG_S3_ENDPOINT"
AWS_ACCESS_KEY_ID = "AWS_ACCESS_KEY_ID"
AWS_SECRET_ACCESS_KEY = "AWS_SECRET_ACCESS_KEY"
# Read by LiteLLM at import (litellm/constants.py), not from the config: how often queued request
# payloads are written out. Set in the generated litellm/env.json.
S3_FLUSH_INTERVAL = "DEFAULT_S3_FLUSH_INTERVAL_SECONDS"


def env_reference(name: str) -> str:
    """How a LiteLLM config refers to an environment variable."""
    return f"os.environ/{name}"


def application_key_env(application: str) -> str:
    """The variable the gateway reads an application's key from.

    ``support-bot`` → ``LLM_GATEWAY_APP_KEY_SUPPORT_BOT``."""
    return APPLICATION_KEY_PREFIX + re.sub(r"[^A-Z0-9]", "_", application.upper())
