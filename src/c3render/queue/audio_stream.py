"""A run's audio on its way from the worker to ``GET /stream``: one Redis stream per run.

The slot appends each piece of PCM the engine renders (``keys.audio``: one key per job
*and run*, so a retried job never mixes the pieces of two runs) with its sequence number,
``last`` on the final piece and ``cut`` when the run passed ``C3_STREAM_MAX_BYTES``; the
key expires ``C3_STREAM_TTL_SECONDS`` after its last write. Any API process reads it,
blocking on the audio stream and the job's event stream together (one XREAD: both keys
share the job type's hash tag), so a piece or the end of the job wakes the reader at once.
PCM is stored base64-encoded: every client here decodes replies as text.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from c3render.job import Job, JobType
from c3render.queue import keys
from c3render.queue.connection import RedisClient

BLOCK_MS = 5000
"""Longest single blocking read: below the API client's socket timeout (10 s)."""
COUNT = 100


@dataclass(frozen=True)
class AudioPiece:
    """One entry of a run's audio stream."""

    id: str
    seq: int
    pcm: bytes
    last: bool = False
    """The final piece of the run: its audio is complete."""
    cut: bool = False
    """The run's audio passed the size cap here; nothing more follows."""


@dataclass(frozen=True)
class AudioBatch:
    """What one read found: audio pieces, and whether the job's events moved on."""

    pieces: list[AudioPiece]
    events_after: str
    """The last event id seen (read after it next time)."""
    job_changed: bool


class AudioStreams:
    """Writes and reads the per-run audio streams."""

    def __init__(self, client: RedisClient) -> None:
        self.redis = client

    def append(self, job_type: JobType, job_id: str, run: int, seq: int, pcm: bytes,
               ttl_seconds: int, last: bool = False) -> None:
        """Append one piece of PCM of ``run`` and renew the stream's expiry (one round trip)."""
        fields: dict[str, str | int] = {"seq": seq, "pcm": base64.b64encode(pcm).decode()}
        if last:
            fields["last"] = 1
        self._add(keys.audio(job_type, job_id, run), fields, ttl_seconds)

    def cut(self, job_type: JobType, job_id: str, run: int, seq: int, ttl_seconds: int) -> None:
        """Mark ``run``'s audio as cut short at ``seq`` (it passed the size cap)."""
        self._add(keys.audio(job_type, job_id, run), {"seq": seq, "cut": 1}, ttl_seconds)

    def _add(self, key: str, fields: dict[str, str | int], ttl_seconds: int) -> None:
        pipe = self.redis.pipeline(transaction=False)
        pipe.xadd(key, fields)  # type: ignore[arg-type]
        pipe.expire(key, ttl_seconds)
        pipe.execute()

    def exists(self, job: Job, run: int) -> bool:
        """True while ``run`` of ``job`` has an audio stream in Redis."""
        return bool(self.redis.exists(keys.audio(job.type, job.id, run)))

    def last_event(self, job: Job) -> str:
        """The id of the job's latest event ("0-0" when none): read events after it."""
        entries = self.redis.xrevrange(keys.events(job.type, job.id), count=1)
        return str(entries[0][0]) if entries else "0-0"

    def read(self, job: Job, run: int, after: str, events_after: str,
             block_ms: int | None = BLOCK_MS) -> AudioBatch:
        """Pieces of ``run`` after ``after``; with ``block_ms``, wait that long for a piece or
        for a new event of the job (``job_changed``); without, answer at once."""
        audio_key, events_key = keys.audio(job.type, job.id, run), keys.events(job.type, job.id)
        streams = {audio_key: after, events_key: events_after}
        reply = self.redis.xread(streams, count=COUNT, block=block_ms)  # type: ignore[arg-type]
        pieces: list[AudioPiece] = []
        changed = False
        for key, entries in reply or []:
            if key == events_key:
                changed = bool(entries)
                events_after = entries[-1][0] if entries else events_after
                continue
            pieces.extend(_piece(entry, fields) for entry, fields in entries)
        return AudioBatch(pieces, events_after, changed)


def _piece(entry: str, fields: dict[str, str]) -> AudioPiece:
    return AudioPiece(
        id=entry, seq=int(fields.get("seq") or 0),
        pcm=base64.b64decode(fields.get("pcm") or ""),
        last=fields.get("last") == "1", cut=fields.get("cut") == "1",
    )
