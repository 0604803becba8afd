"""Dagster automation: the job, schedules, sensors, checks and alerts."""
