"""Routes by concern; dead-letter routes come before /api/queue/{queue}/... so that
``dead-letter`` is never read as a queue name."""

from dubbing_api.routes import dead_letter, jobs, projects, queue, review, system

ROUTES = [
    *dead_letter.routes,
    *queue.routes,
    *jobs.routes,
    *projects.routes,
    *review.routes,
    *system.routes,
]
