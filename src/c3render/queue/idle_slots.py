"""One waiter on Redis per worker: how a worker's idle slots wait for a new entry.

Every client blocked in XREAD on a stream is answered when an entry is added to it, so a
new job used to wake every idle slot of every worker, and each of them then ran
``take.lua`` for the one job: with 2 workers of 8 slots, 16 takes and 16 new XREADs per
job when the queue runs dry, most of them for nothing. Now one idle slot per worker blocks
in XREAD; the others wait here, in the worker's memory. A slot that takes a job wakes one
waiting slot ("there may be more"), which takes in turn, so a burst of jobs still reaches
every slot quickly, one take at a time, and an empty queue costs one take per wake-up.
"""

from __future__ import annotations

import threading


class IdleSlots:
    """The idle slots of one worker: which one waits on Redis, and the others' wake-ups."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._generation = 0
        self._redis_waiter = False

    def generation(self) -> int:
        """A count of wake-ups so far: read before looking for a job and given to ``wait``,
        so a wake-up that came while the slot looked is not missed."""
        with self._changed:
            return self._generation

    def become_waiter(self) -> bool:
        """True when no other slot waits on Redis now: this one does, until ``done_waiting``."""
        with self._changed:
            if self._redis_waiter:
                return False
            self._redis_waiter = True
            return True

    def done_waiting(self, failed: bool = False) -> None:
        """The slot waiting on Redis stopped waiting; when its wait ``failed`` (Redis away),
        one waiting slot is woken to take its place rather than sleep out its timeout."""
        with self._changed:
            self._redis_waiter = False
            if failed:
                self._generation += 1
                self._changed.notify()

    def wait(self, since: int, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for a wake-up after ``generation`` was ``since``."""
        with self._changed:
            if self._generation == since:
                self._changed.wait(timeout)

    def pass_on(self) -> None:
        """A job was found: wake one waiting slot to look for another."""
        with self._changed:
            self._generation += 1
            self._changed.notify()
