"""Benchmarks and measurement scripts that print figures (not tests)."""
