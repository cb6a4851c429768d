"""The Dagster definitions: assets, jobs, sensors, schedules and resources."""
