"""The routing spec, its validation, and the generators of gateway runtime configs.

Pure Python: nothing here imports Pulumi, so CI, editors and the local runner use it directly.
"""

from gateway_config.build import DEFAULT_OUT, DEFAULT_SPEC, render, render_environment
from gateway_config.errors import InputError
from gateway_config.loader import load_spec, load_spec_text
from gateway_config.resolve import resolve_environment

__all__ = [
    "DEFAULT_OUT",
    "DEFAULT_SPEC",
    "InputError",
    "load_spec",
    "load_spec_text",
    "render",
    "render_environment",
    "resolve_environment",
]
