"""The gateway engines: their registry (``engines.py``) and their pinned runtimes, each in its own
environment (``litellm/``: a hash-pinned virtualenv; ``portkey/``: an npm lock)."""
