"""Following a job's live events (``GET /events/{id}``, Server-Sent Events) from a client.

``sseclient-py`` parses the stream; a dropped connection is resumed with ``Last-Event-ID``,
so no event is lost or seen twice. The iterator ends after the ``result`` event.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import requests
import sseclient

RECONNECT_SECONDS = 1.0
READ_TIMEOUT = 30.0
"""The server sends a keep-alive every few seconds; silence this long means a dead link."""


@dataclass(frozen=True)
class JobEvent:
    """One event: ``kind`` is status, progress, log, queue or result; ``data`` its JSON."""

    id: str | None
    kind: str
    data: dict[str, Any]


@dataclass
class JobView:
    """What a person watching a job wants to see, updated event by event."""

    id: str
    status: str = "queued"
    progress: float = 0.0
    queue_position: int | None = None
    starts_in_s: float | None = None
    """The queue event's ``eta.start_in_s`` (None when the server gives no estimate)."""
    message: str = ""
    result: dict[str, Any] = field(default_factory=dict)

    def update(self, event: JobEvent) -> None:
        """Fold one event in."""
        data = event.data
        if event.kind in ("status", "queue", "result"):
            self.status = str(data.get("status", self.status))
        if event.kind == "queue":
            self.queue_position = data.get("queue_position")
            self.starts_in_s = (data.get("eta") or {}).get("start_in_s")
        elif event.kind == "status" and self.status != "queued":
            self.queue_position = self.starts_in_s = None
        if event.kind == "progress":
            self.progress = float(data.get("progress", self.progress))
        elif event.kind == "log":
            self.message = str(data.get("message", ""))
        elif event.kind == "result":
            self.result = data
            if self.status == "success":
                self.progress = 1.0


def iter_events(
    session: requests.Session, url: str, headers: dict[str, str],
    check: Callable[[requests.Response], None], last_event_id: str | None = None,
) -> Iterator[JobEvent]:
    """The events at ``url``, reconnecting after a dropped connection, until ``result``.

    ``check`` raises for an error answer (it is the client's error handling).
    """
    while True:
        sent = dict(headers, Accept="text/event-stream")
        if last_event_id:
            sent["Last-Event-ID"] = last_event_id
        try:
            with session.get(url, headers=sent, stream=True, timeout=(10, READ_TIMEOUT)) as reply:
                check(reply)
                for raw in sseclient.SSEClient(reply).events():
                    event = JobEvent(raw.id or None, raw.event, json.loads(raw.data or "{}"))
                    if event.id:
                        last_event_id = event.id
                    yield event
                    if event.kind == "result":
                        return
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError,
                requests.Timeout):
            time.sleep(RECONNECT_SECONDS)
