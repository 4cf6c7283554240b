"""Names of the environment variables the generated LiteLLM config reads.

The generated files never hold a secret or an infrastructure endpoint: they reference these
variables (`os.environ/NAME`), and whoever runs the proxy sets them: the Kubernetes Deployment
(components/gateway.py), `make run` and the tests (local/environment.py). Provider keys are named
by the spec itself (`providers.<name>.api_key_env`); each application's key is named after the
application (:func:`application_key_env`).
"""

import re

REDIS_HOST = "REDIS_HOST"
REDIS_PORT = "REDIS_PORT"
REDIS_PASSWORD = "REDIS_PASSWORD"
MASTER_KEY = "LITELLM_MASTER_KEY"
APPLICATION_KEY_PREFIX = "LLM_GATEWAY_APP_KEY_"


def env_reference(name: str) -> str:
    """How a LiteLLM config refers to an environment variable."""
    return f"os.environ/{name}"


def application_key_env(application: str) -> str:
    """The variable the gateway reads an application's key from.

    ``support-bot`` → ``LLM_GATEWAY_APP_KEY_SUPPORT_BOT``."""
    return APPLICATION_KEY_PREFIX + re.sub(r"[^A-Z0-9]", "_", application.upper())
