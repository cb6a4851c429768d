"""Engines behind small protocols, each a Dagster resource; the offline defaults live here too."""
