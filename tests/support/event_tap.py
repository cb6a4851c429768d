"""A WebSocket client of the API's /ws for the real-stack tests: it collects what it is sent."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from websockets.sync.client import connect

from tests.support.daemon import wait_until
from tests.support.stack import Stack, token


class EventTap:
    """A WebSocket client that collects the events it is sent, on a thread."""

    def __init__(
        self, stack: Stack, user: str, last_id: str | None = None, port: int | None = None
    ):
        query = f"token={token(user)}" + (f"&lastEventId={last_id}" if last_id else "")
        self.ws = connect(f"ws://127.0.0.1:{port or stack.api_ports[0]}/ws?{query}")
        self.events: list[dict[str, Any]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            for message in self.ws:
                self.events.append(json.loads(message))
        except Exception:
            return

    def wait_for(self, predicate: Callable[[dict], bool], timeout: float = 240) -> dict:
        return wait_until(
            lambda: next((e for e in self.events if predicate(e)), None), timeout, "an event"
        )

    def close(self) -> None:
        self.ws.close()
