"""Pulumi components of the llm-gateway program: one ComponentResource per module.

Modules import nothing heavy and build nothing at import time; ``__main__.py`` wires them up.
"""
