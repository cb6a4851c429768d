"""Routes by concern; dead-letter routes come before /api/queue/{queue}/... so that
``dead-letter`` is never read as a queue name."""

from dubbing_api.routes import dead_letter, jobs, projects, queue, review, system

ROUTERS = [
    dead_letter.router,
    queue.router,
    jobs.router,
    projects.router,
    review.router,
    system.router,
]
