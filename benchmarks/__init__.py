"""Benchmarks of the integration (scripts/bench), not run by scripts/test."""
