"""The event relay as a sensor: every deployment with a daemon relays Dagster's event log to the
Redis Stream (``operations.relay``), each tick catching up from where the last one stopped.

The cursor that counts is the one in Redis, moved with the events; the sensor's own cursor is a
copy, the place to start from if Redis comes back without its data. ``dubbing relay`` runs the
same relay as a process of its own, for sub-second delivery; both may run at once.
"""

from __future__ import annotations

from dagster import DefaultSensorStatus, SensorEvaluationContext, SkipReason, sensor
from redis.exceptions import RedisError

from dubbing_pipeline.infra.events import EventPublisher
from dubbing_pipeline.operations.relay import Relay

TICK_S = 2  # as the other sensors; `dubbing relay` is the sub-second path
BUDGET_S = 10.0  # a tick stops here (a code server thread is not held long) and the next goes on
REDIS_TIMEOUT_S = 2.0  # a paused Redis costs a tick this, not the publisher's 5 s per call


@sensor(minimum_interval_seconds=TICK_S, default_status=DefaultSensorStatus.RUNNING)
def event_relay_sensor(context: SensorEvaluationContext, events: EventPublisher) -> SkipReason:
    if not events.redis_url:
        return SkipReason("no DUBBING_REDIS_URL: events stay in the event log")
    publisher = EventPublisher(
        redis_url=events.redis_url, stream=events.stream, timeout_s=REDIS_TIMEOUT_S
    )
    start = int(context.cursor) if context.cursor else None
    try:
        moved = Relay(context.instance, publisher).catch_up(start, BUDGET_S)
        relayed = publisher.relayed()
    except RedisError as exc:
        return SkipReason(f"Redis unavailable; the relay catches up when it returns: {exc}")
    if relayed is not None:
        context.update_cursor(str(relayed))
    return SkipReason(f"relayed {moved} event log records (up to storage id {relayed})")
