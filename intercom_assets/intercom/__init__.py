"""Talking to Intercom: the HTTP client, paging, rate pacing, request counters and errors (no Dagster)."""
