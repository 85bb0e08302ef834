"""Benchmarks of cpsched: scripts that print tables and write JSON (see each module)."""
