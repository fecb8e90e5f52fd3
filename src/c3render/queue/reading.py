"""How a worker finds its next entry: taken over from lost workers, due retries, new entries.

Order of a pass: entries of consumers that are gone (a dead worker's, or handed back by a
stopping one) come first, so they keep their place; then retries that are due; then one
waiting job, one job type per call in turn. A waiting job is taken with ``take.lua``: the
API key (tenant) served longest ago gives its next job by priority, then age, and the job's
entry becomes this worker's pending entry (fair share; ``lua/fair.lua``). With nothing
waiting, one slot of the worker blocks on XREAD for a newer entry of the last type it
tried, and its other idle slots wait for it to find one (``idle_slots.py``). Entries a
live worker holds but nobody has touched for ``C3_RECLAIM_IDLE_SECONDS`` are taken over
too, as a safety net.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from c3render.job import JobType
from c3render.queue import keys
from c3render.queue.chains import Chains
from c3render.queue.connection import RedisClient
from c3render.queue.idle_slots import IdleSlots
from c3render.queue.keys import DEFAULT_TENANT, fair_keys
from c3render.queue.registry import WorkerRegistry
from c3render.queue.scripts import ScriptCall, Scripts, together
from c3render.settings import Settings

log = logging.getLogger(__name__)

HANDED_BACK = "handed-back"
"""The consumer that holds handed-back entries: never alive, so any worker takes them."""
HANDED_BACK_IDLE_MS = 86_400_000
"""The idle time a handed-back entry is given, so the next take-over pass claims it at once."""
PENDING_PAGE = 100
MIN_IDLE_MS = 1000
"""Two workers taking over the same entry at once: the second finds it freshly claimed
(or half the liveness time, when that is shorter)."""
MULTI_BLOCK_MS = 250
"""Longest wait on one stream when a worker serves several (the others are polled)."""


@dataclass(frozen=True)
class Delivery:
    """A stream entry handed to a worker: which job type, which entry, which job."""

    job_type: JobType
    entry: str
    job_id: str
    taken_over: bool = False
    started: tuple[Any, ...] | None = None
    """The start script's reply when the entry was started as it was taken (``read`` with
    ``start``): ``Leases.start_delivery`` makes the claim from it, with no round trip."""


@dataclass
class _Cursors:
    pending: dict[JobType, str] = field(default_factory=dict)
    idle: dict[JobType, str] = field(default_factory=dict)
    turn: int = 0


class Reader:
    """Finds entries for one worker's slots (shared by them; its cursors are advisory)."""

    def __init__(self, client: RedisClient, settings: Settings, registry: WorkerRegistry) -> None:
        self.redis = client
        self.settings = settings
        self.registry = registry
        self.scripts = Scripts(client)
        self.chains = Chains(client, settings.retention_seconds)
        self._cursors = _Cursors()
        self.idle_slots = IdleSlots()
        """One slot of the worker waits on Redis for new entries, the others on it."""
        self._min_idle_ms = min(MIN_IDLE_MS, int(settings.liveness_seconds * 500))

    def read(
        self, job_types: tuple[JobType, ...], worker: str, block_ms: int, start: bool = False
    ) -> Delivery | None:
        """One waiting job, one job type per call in turn; when none waits, waits up to
        ``block_ms`` for a newer entry of the last type tried, and takes from it then.

        ``start``: the job is started in the same script (``Delivery.started``); a job that
        may not run any more (ended, expired, its worker lost too often) is dropped there."""
        first = job_types.index(self.next_type(job_types))
        order = job_types[first:] + job_types[:first]
        wait = block_ms if len(order) == 1 else min(block_ms, MULTI_BLOCK_MS)
        since = self.idle_slots.generation()
        last_id, refused = "0-0", False
        for job_type in order:
            taken, last_id = self._take(job_type, worker, 1, start)
            if taken:
                self.idle_slots.pass_on()
                return taken[0]
            refused = refused or last_id == ""
        if refused:  # something was taken but could not run: look again at once, no wait
            return None
        if not self.idle_slots.become_waiter():  # another slot of this worker waits on Redis
            self.idle_slots.wait(since, wait / 1000)
            return None
        try:
            arrived = self.redis.xread({keys.queue(order[-1]): last_id}, count=1, block=wait)
        except BaseException:
            self.idle_slots.done_waiting(failed=True)
            raise
        self.idle_slots.done_waiting()
        if arrived:
            taken, _ = self._take(order[-1], worker, 1, start)
            if taken:
                self.idle_slots.pass_on()
                return taken[0]
        return None

    def take(self, job_type: JobType, worker: str, count: int = 1) -> list[Delivery]:
        """Up to ``count`` waiting jobs of ``job_type`` for ``worker``, in fair-share order
        (without waiting); each is then started or handed back on its own."""
        return self._take(job_type, worker, count)[0]

    def _take(
        self, job_type: JobType, worker: str, count: int, start: bool = False
    ) -> tuple[list[Delivery], str]:
        """The jobs taken (with ``start``: those started), and the queue's last entry id (to
        wait after) when none was ('' when jobs were taken but none could start)."""
        if start:
            return self.took(job_type, self.take_call(job_type, worker, count)())
        reply = self.scripts.take(
            keys=[*fair_keys(job_type), keys.queue(job_type)],
            args=[keys.GROUP, worker, count],
        )
        if reply and reply[0] == "":
            return [], str(reply[1])
        pairs = zip(reply[::2], reply[1::2])
        return [Delivery(job_type, str(entry), str(job_id)) for entry, job_id in pairs], "0-0"

    def take_call(self, job_type: JobType, worker: str, count: int = 1) -> ScriptCall:
        """The script call that takes and starts up to ``count`` waiting jobs of
        ``job_type`` (to run alone or after a finish, in one round trip); ``took`` reads it."""
        return ScriptCall(
            self.scripts.take,
            keys=[*fair_keys(job_type), keys.queue(job_type), keys.dead_letters(job_type),
                  keys.outbox(job_type), keys.stats(job_type)],
            args=[keys.GROUP, worker, count, self.settings.max_deliveries,
                  self.settings.retention_seconds],
        )

    def took(self, job_type: JobType, reply: Any) -> tuple[list[Delivery], str]:
        """The started jobs of a ``take_call`` reply, and the queue's last entry id when none
        waited ('' when jobs were taken but none could start). A job refused because it
        ended there (expired, its worker lost too often) wakes the jobs waiting for it."""
        if reply and reply[0] == "":
            return [], str(reply[1])
        started = []
        for entry, job_id, *outcome in reply:
            if outcome[0] == "run":
                started.append(Delivery(job_type, str(entry), str(job_id), started=tuple(outcome)))
            elif outcome[0] in ("expired", "dead"):
                self.chains.wake_quietly(job_type, str(job_id))
        return started, "0-0" if started else ""

    def next_type(self, job_types: tuple[JobType, ...]) -> JobType:
        """The job type whose turn it is to be read (the rotation ``read`` follows)."""
        self._cursors.turn += 1
        return job_types[self._cursors.turn % len(job_types)]

    def finish_then_take(
        self, finish: ScriptCall, job_types: tuple[JobType, ...], worker: str
    ) -> tuple[Any, Delivery | None]:
        """Run ``finish`` and take and start the next waiting job (of the type whose turn it
        is) in one round trip: the finish script's reply (its exception, if it failed) and
        the job started, if any. A take that fails starts nothing; the slot's next read
        shows why. A lost connection raises (the caller then finishes on its own)."""
        job_type = self.next_type(job_types)
        finished, taken = together(self.redis, [finish, self.take_call(job_type, worker)])
        if isinstance(taken, Exception):
            log.warning("taking the next %s job failed: %s", job_type.value, taken)
            return finished, None
        started = self.took(job_type, taken)[0]
        return finished, started[0] if started else None

    def read_more(
        self, job_type: JobType, worker: str, count: int,
        fits: Callable[[dict[str, Any]], bool],
    ) -> list[Delivery]:
        """Up to ``count`` more waiting jobs of ``job_type`` (in fair-share order, without
        waiting), to run in one batch: those whose job's request ``fits`` accepts. The others
        are handed back at once (keeping their place), so any worker's next take-over pass
        starts them."""
        found = self.take(job_type, worker, count)
        pipe = self.redis.pipeline(transaction=False)
        for delivery in found:
            pipe.hget(keys.job(job_type, delivery.job_id), "params")
        taken = []
        for delivery, params in zip(found, pipe.execute() if found else []):
            try:
                request = json.loads(params) if params else None
            except ValueError:
                request = None
            if isinstance(request, dict) and fits(request):
                taken.append(delivery)
            else:  # another batch's job, or a hash gone: start's own checks decide
                self.hand_back(delivery)
        return taken

    def take_over(self, job_type: JobType, worker: str) -> Delivery | None:
        """An entry held by a consumer that is gone, claimed for ``worker`` (None if none).

        Walks the pending list a page at a time with a cursor, so a lost worker's entry is
        found however many live ones are ahead of it.
        """
        stream = keys.queue(job_type)
        start = self._cursors.pending.get(job_type, "-")
        page = self.redis.xpending_range(stream, keys.GROUP, start, "+", PENDING_PAGE)
        self._cursors.pending[job_type] = (
            f"({page[-1]['message_id']}" if len(page) == PENDING_PAGE else "-"
        )
        owners = {item["consumer"] for item in page} - {worker}
        alive = self.registry.alive(owners - {HANDED_BACK})
        for item in page:
            if item["consumer"] in alive or item["consumer"] == worker:
                continue
            claimed = self.redis.xclaim(
                stream, keys.GROUP, worker, self._min_idle_ms, [item["message_id"]]
            )
            for entry, fields in claimed:
                if fields and "id" in fields:
                    return Delivery(job_type, entry, fields["id"], taken_over=True)
        return None

    def reclaim(self, job_type: JobType, worker: str, count: int = 1) -> list[tuple[str, str]]:
        """Entries nobody touched for ``C3_RECLAIM_IDLE_SECONDS``, claimed for ``worker``:
        (entry, job id) pairs. XAUTOCLAIM's cursor is kept, so the whole list is walked."""
        idle_ms = int(self.settings.reclaim_idle_seconds * 1000)
        start = self._cursors.idle.get(job_type, "0-0")
        reply = self.redis.xautoclaim(
            keys.queue(job_type), keys.GROUP, worker, idle_ms, start, count=count
        )
        self._cursors.idle[job_type] = str(reply[0]) if reply else "0-0"
        entries = reply[1] if len(reply) > 1 else []
        return [(entry, fields["id"]) for entry, fields in entries if fields and "id" in fields]

    def promote_due(self, job_type: JobType) -> None:
        """Queue again the job whose retry is due first; its new entry is then read as usual."""
        due = self.redis.zrangebyscore(keys.delayed(job_type), "-inf", time.time(), 0, 1)
        for job_id in due:
            self.scripts.promote(
                keys=[keys.job(job_type, job_id), keys.delayed(job_type),
                      keys.queue(job_type), *fair_keys(job_type)],
                args=[job_id, DEFAULT_TENANT],
            )

    def hand_back(self, delivery: Delivery) -> None:
        """Give an entry this worker will not start (it is stopping) to the next worker,
        keeping its place: it stays pending, held by ``HANDED_BACK``."""
        self.redis.xclaim(
            keys.queue(delivery.job_type), keys.GROUP, HANDED_BACK, 0, [delivery.entry],
            idle=HANDED_BACK_IDLE_MS, justid=True,
        )

    def prune_consumers(self, job_types: tuple[JobType, ...]) -> int:
        """Delete consumers that hold nothing and whose workers are gone; return how many."""
        removed = 0
        for job_type in job_types:
            stream = keys.queue(job_type)
            consumers = self.redis.xinfo_consumers(stream, keys.GROUP)
            idle = [c["name"] for c in consumers if c["pending"] == 0 and c["name"] != HANDED_BACK]
            for name in set(idle) - self.registry.alive(idle):
                removed += int(self.redis.xgroup_delconsumer(stream, keys.GROUP, name) >= 0)
        return removed
