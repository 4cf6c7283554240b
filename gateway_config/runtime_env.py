"""Names of the environment variables the generated LiteLLM config reads.

The generated files never hold a secret or an infrastructure endpoint: they reference these
variables (`os.environ/NAME`), and whoever runs the proxy sets them: the Kubernetes Deployment
(components/gateway.py), `make run` and the tests (local/environment.py). Provider keys are named
by the spec itself (`providers.<name>.api_key_env`).
"""

REDIS_HOST = "REDIS_HOST"
REDIS_PORT = "REDIS_PORT"
REDIS_PASSWORD = "REDIS_PASSWORD"
MASTER_KEY = "LITELLM_MASTER_KEY"

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
