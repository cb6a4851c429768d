"""Queue, job, review and dead letter operations, written once for every caller."""
