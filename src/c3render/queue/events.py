"""Reading a job's event stream (``keys.events``): what ``GET /events``, ``Prefer: wait``
and ``/status?logs=1`` read. The stream is written only by the job's scripts (``lua/``).

Each event is ``(id, kind, data)``: ``id`` the stream entry id (an SSE event id that a
client resumes from with ``Last-Event-ID``), ``kind`` one of ``status``, ``progress``,
``log``, ``data`` a dict. Reads block on the stream (XREAD BLOCK), never poll the job.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from c3render.job import Job, JobStatus
from c3render.queue import keys
from c3render.queue.connection import RedisClient

BLOCK_MS = 5000
"""Longest single blocking read: below the API client's socket timeout (10 s)."""
_ENTRY_ID = re.compile(r"^\d{1,20}-\d{1,20}$")


@dataclass(frozen=True)
class Event:
    """One event of a job."""

    id: str
    kind: str
    data: dict[str, Any]

    @property
    def is_end(self) -> bool:
        """True for the status event that ended the job."""
        status = self.data.get("status")
        return self.kind == "status" and status in {s.value for s in JobStatus if s.is_final}


def valid_event_id(value: str | None) -> str:
    """A client's ``Last-Event-ID`` as a stream id to read after ("0-0" for none or junk)."""
    if value and _ENTRY_ID.match(value.strip()):
        return value.strip()
    return "0-0"


class JobEvents:
    """Reads the event streams of jobs."""

    def __init__(self, client: RedisClient) -> None:
        self.redis = client

    def read(self, job: Job, after: str, block_ms: int = BLOCK_MS) -> list[Event]:
        """Events after ``after``, waiting up to ``block_ms`` for one when there are none."""
        reply = self.redis.xread({keys.events(job.type, job.id): after}, count=100,
                                 block=block_ms)
        return [_event(entry, fields) for _, entries in reply or [] for entry, fields in entries]

    def history(self, job: Job, kind: str | None = None) -> list[Event]:
        """Every event still kept, oldest first (optionally only one kind)."""
        entries = self.redis.xrange(keys.events(job.type, job.id))
        events = [_event(entry, fields) for entry, fields in entries]
        return [e for e in events if kind is None or e.kind == kind]

    def logs(self, job: Job) -> list[dict[str, Any]]:
        """The job's log lines, oldest first: ``{timestamp (ISO 8601), level, message, run}``."""
        return [
            {"timestamp": _iso(event.data.get("at")), "level": event.data.get("level", "INFO"),
             "message": event.data.get("message", ""), "run": event.data.get("run")}
            for event in self.history(job, kind="log")
        ]

    def wait_for_end(self, job: Job, seconds: float) -> bool:
        """Block until the job's end event (True) or ``seconds`` have passed (False)."""
        deadline = time.monotonic() + seconds
        after = "0-0"
        while True:
            left_ms = int((deadline - time.monotonic()) * 1000)
            if left_ms <= 0:
                return False
            events = self.read(job, after, min(left_ms, BLOCK_MS))
            if any(event.is_end for event in events):
                return True
            if events:
                after = events[-1].id


def _iso(at: Any) -> str | None:
    if not isinstance(at, (int, float)):
        return None
    return datetime.fromtimestamp(at, timezone.utc).isoformat(timespec="milliseconds")


def _event(entry: str, fields: dict[str, str]) -> Event:
    try:
        data = json.loads(fields.get("data") or "{}")
    except ValueError:
        data = {}
    return Event(id=entry, kind=fields.get("kind", ""), data=data if isinstance(data, dict) else {})
