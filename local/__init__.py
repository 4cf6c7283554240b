"""Run the real gateways locally: mock provider, process management, config rewriting, `make run`."""
