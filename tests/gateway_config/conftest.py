"""Fixtures and helpers shared by the routing spec and generator tests live in ``spec_edits.py``."""
