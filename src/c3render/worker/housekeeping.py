"""Housekeeping: hourly removal of stored files and index entries past the retention period."""

from __future__ import annotations

import logging
import threading

from c3render.queue.store import JobStore
from c3render.storage import Storage

log = logging.getLogger(__name__)
PURGE_SECONDS = 3600.0


def keep_house(store: JobStore, storage: Storage, stopping: threading.Event) -> None:
    """Purge until ``stopping`` is set (its own thread: listing a large bucket must never
    delay heartbeats)."""
    while not stopping.is_set():
        try:
            store.trim_indexes()
            removed = storage.purge_older_than(store.settings.retention_seconds)
            if removed:
                log.info("removed %d stored files past the retention period", removed)
        except Exception:
            log.exception("purging old files failed")
        stopping.wait(PURGE_SECONDS)
