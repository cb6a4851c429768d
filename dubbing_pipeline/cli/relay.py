"""``dubbing relay``: the event relay as a process of its own (``operations.relay``).

The daemon's ``event_relay_sensor`` relays on its ticks (a second or more); this follows the
event log every ``--interval`` seconds, so a job's events reach WebSocket clients within about
that. Redis away: it retries every second and catches up, in order, when Redis is back.
"""

from __future__ import annotations

import argparse
import logging
import time

from dagster import DagsterInstance
from redis.exceptions import RedisError

from dubbing_pipeline.infra.events import EventPublisher
from dubbing_pipeline.infra.settings import settings
from dubbing_pipeline.operations.relay import Relay

log = logging.getLogger("dubbing.relay")


def add_command(sub: argparse._SubParsersAction) -> None:
    relay = sub.add_parser("relay", help="relay job events from Dagster's event log to Redis")
    relay.add_argument("--interval", type=float, default=0.25, help="seconds between polls")
    relay.add_argument("--once", action="store_true", help="catch up once, then exit")
    relay.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s relay %(message)s")
    url = settings().redis_url
    if not url:
        log.error("DUBBING_REDIS_URL is not set: nothing to relay to")
        return 2
    publisher = EventPublisher(redis_url=url, timeout_s=2.0)
    with DagsterInstance.get() as instance:
        relay = Relay(instance, publisher)
        while True:
            try:
                moved = relay.catch_up()
            except RedisError as exc:
                log.warning("Redis unavailable, retrying in 1 s: %s", exc)
                time.sleep(1.0)
                continue
            if moved:
                log.info("relayed %d event log records", moved)
            if args.once:
                return 0
            time.sleep(args.interval)
