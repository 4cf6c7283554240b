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


def env_reference(name: str) -> str:
    """How a LiteLLM config refers to an environment variable."""
    return f"os.environ/{name}"
