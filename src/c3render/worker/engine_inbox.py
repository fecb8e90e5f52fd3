"""The engine process's side of the pipe: messages read while a job runs.

A reader thread takes every message off the pipe as it comes. Jobs (and ``Stop``) queue up
for the main loop; a ``StopRun`` marks its run, and the run's next progress report raises
``RunStopped``, so an engine stops between sentences, windows or frames and keeps its
models loaded. An engine that reports no progress cannot be stopped this way: the slot
kills its process after ``C3_STOP_GRACE_SECONDS``.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection

from c3render.engines.base import ProgressFn
from c3render.errors import RunStopped
from c3render.worker.messages import (
    FromEngine,
    Progress,
    RunBatch,
    RunJob,
    Stop,
    StopRun,
    ToEngine,
)

PROGRESS_INTERVAL = 0.2
"""Seconds between two ``Progress`` messages of one run (the stop check runs on every report)."""


class Inbox:
    """Messages from the slot, read by a thread of their own."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._jobs: queue.Queue[RunJob | RunBatch | Stop] = queue.Queue()
        self._stopped: set[str] = set()
        self._lock = threading.Lock()
        threading.Thread(target=self._read, name="inbox", daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                message: ToEngine = self.conn.recv()
            except (EOFError, OSError):
                self._jobs.put(Stop())  # the slot is gone: end after the current job
                return
            if isinstance(message, StopRun):
                with self._lock:
                    self._stopped.add(message.run_id)
            else:
                self._jobs.put(message)

    def next(self) -> RunJob | RunBatch | Stop:
        """The next job (or ``Stop``), waiting for it."""
        return self._jobs.get()

    def stop_requested(self, run_id: str) -> bool:
        """True once the slot has asked ``run_id`` to stop."""
        with self._lock:
            return run_id in self._stopped

    def forget(self, run_id: str) -> None:
        """The run is over: drop its stop request."""
        with self._lock:
            self._stopped.discard(run_id)

    def progress_reporter(self, send: Callable[[FromEngine], None], run_id: str) -> ProgressFn:
        """The run's ``job.progress``: raises ``RunStopped`` once the run was asked to
        stop, else sends ``Progress`` at most every ``PROGRESS_INTERVAL`` seconds."""
        last = [0.0]

        def report(fraction: float) -> None:
            if self.stop_requested(run_id):
                raise RunStopped(f"run {run_id} was asked to stop")
            now = time.monotonic()
            if now - last[0] >= PROGRESS_INTERVAL:
                last[0] = now
                send(Progress(run_id, float(fraction)))

        return report
