"""Intercom workspace replicated into daily-partitioned Parquet, as Dagster software-defined assets."""
