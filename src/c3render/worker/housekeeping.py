"""Housekeeping: the chained jobs' safety net every few seconds, and hourly removal of
stored files and index entries past the retention period."""

from __future__ import annotations

import logging
import threading
import time

from c3render.queue.store import JobStore
from c3render.storage import Storage

log = logging.getLogger(__name__)
PURGE_SECONDS = 3600.0
CHAIN_SWEEP_SECONDS = 2.0
"""How often dependants left unwoken (their parent's process died right after ending it)
are woken, and long-waiting chained jobs re-checked (``queue/chains.py``)."""


def keep_house(store: JobStore, storage: Storage, stopping: threading.Event) -> None:
    """Sweep and purge until ``stopping`` is set (its own thread: listing a large bucket
    must never delay heartbeats)."""
    last_purge = -PURGE_SECONDS
    while not stopping.is_set():
        try:
            store.chains.sweep()
        except Exception:
            log.exception("waking chained jobs failed")
        if time.monotonic() - last_purge >= PURGE_SECONDS:
            last_purge = time.monotonic()
            purge(store, storage)
        stopping.wait(CHAIN_SWEEP_SECONDS)


def purge(store: JobStore, storage: Storage) -> None:
    """Remove index entries and stored files past the retention period (errors logged)."""
    try:
        store.trim_indexes()
        removed = storage.purge_older_than(store.settings.retention_seconds)
        if removed:
            log.info("removed %d stored files past the retention period", removed)
    except Exception:
        log.exception("purging old files failed")
