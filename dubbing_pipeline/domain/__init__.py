"""The dubbing rules: segments, projects, review decisions, timing, voices. No Dagster import."""
