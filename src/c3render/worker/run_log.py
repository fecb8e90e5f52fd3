"""The log lines of the run a slot is running, on their way to the job's event stream.

Lines are sent in batches, at most every ``FLUSH_SECONDS`` (one fenced ``log.lua`` call per
batch), and whatever is left when the run ends travels inside the finish script itself:
a short job's log lines cost no round trip of their own.
"""

from __future__ import annotations

import time

import redis

from c3render.queue.leases import Claim, Leases
from c3render.worker.messages import LogLine

FLUSH_SECONDS = 0.5
MAX_LINES = 1000
"""Log lines of one run kept in its event stream; later ones are dropped."""
MAX_CHARS = 2000
"""A longer line is cut."""

Line = tuple[float, str, str]


class RunLog:
    """Buffers one run's log lines (``start`` for each run)."""

    def __init__(self, leases: Leases) -> None:
        self.leases = leases
        self.pending: list[Line] = []
        self.count = 0
        self.last_flush = time.monotonic()

    def start(self) -> None:
        """Forget the previous run's lines."""
        self.pending, self.count, self.last_flush = [], 0, time.monotonic()

    def add(self, line: LogLine) -> None:
        """Keep a line for the next batch (up to ``MAX_LINES`` per run)."""
        if self.count < MAX_LINES:
            self.count += 1
            self.pending.append((line.at, line.level, line.message[:MAX_CHARS]))

    def flush_if_due(self, claim: Claim) -> None:
        """Send the pending lines when the last batch is ``FLUSH_SECONDS`` old."""
        if self.pending and time.monotonic() - self.last_flush >= FLUSH_SECONDS:
            self.flush(claim)

    def flush(self, claim: Claim) -> None:
        """Send the pending lines now (best effort, like progress)."""
        lines, self.pending = self.pending, []
        self.last_flush = time.monotonic()
        if not lines:
            return
        try:
            self.leases.append_logs(claim, lines)
        except (redis.ConnectionError, redis.TimeoutError):
            pass

    def take(self) -> list[Line]:
        """The pending lines, handed to the finish script."""
        lines, self.pending = self.pending, []
        return lines
