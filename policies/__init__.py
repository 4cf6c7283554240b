"""The llm-gateway CrossGuard policy pack (see docs/policies.md)."""
