"""Warm run processes: a run launcher whose runs start in long-lived workers
(docs/deployment.md)."""
