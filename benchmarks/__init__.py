"""Benchmarks of a scheduled tick against the Intercom test server (`make bench`)."""
