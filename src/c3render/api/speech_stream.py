"""Speech audio while it renders: what ``GET /stream/{id}`` and the OpenAI speech route's
``stream_format=audio`` share.

``wait_for_start`` holds the request (on the job's event stream, no polling) until a
queued job starts; ``stream_body`` reads the run's audio pieces from Redis
(``queue/audio_stream.py``) as the worker writes them and encodes them into one growing
file (``media/streaming.py``), skipping the first ``offset`` bytes for a client that
resumes. The body ends with the run's last piece, when the run ends without one (failed,
cancelled, timed out, handed to another run: the client has a shorter file), or when the
run passed ``C3_STREAM_MAX_BYTES``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import redis

from c3render.errors import C3Error, Conflict
from c3render.job import Job, JobStatus
from c3render.media.streaming import encode_stream, skip_bytes
from c3render.queue import keys
from c3render.queue.audio_stream import BLOCK_MS, AudioStreams
from c3render.queue.connection import RedisClient
from c3render.queue.events import JobEvents
from c3render.queue.store import JobStore

log = logging.getLogger(__name__)


class NotStarted(C3Error):
    """The job was still queued when the request stopped waiting for it."""

    http_status = 504


class StreamGone(C3Error):
    """The job's audio stream is no longer (or never was) in Redis."""

    http_status = 410


def wait_for_start(client: RedisClient, store: JobStore, job: Job, seconds: float) -> Job:
    """The job once it runs or has ended; ``NotStarted`` when still queued after ``seconds``."""
    deadline = time.monotonic() + seconds
    after = AudioStreams(client).last_event(job)  # read before the job: no event is missed
    events = JobEvents(client)
    while True:
        job = store.find(job.id)
        if job.status is not JobStatus.QUEUED:
            return job
        left_ms = int((deadline - time.monotonic()) * 1000)
        if left_ms <= 0:
            raise NotStarted(f"job {job.id} did not start within {seconds:g} s; follow it at "
                             f"/status/{job.id} and open the stream again")
        batch = events.read(job, after, min(left_ms, BLOCK_MS))
        if batch:
            after = batch[-1].id


def streamable_run(client: RedisClient, job: Job) -> int:
    """The run whose audio a started job's stream delivers; an ended job's only when it
    succeeded and its audio is still kept (else ``Conflict`` or ``StreamGone``)."""
    if job.status is JobStatus.RUNNING:
        return job.run
    if job.status is not JobStatus.SUCCESS:
        raise Conflict(f"job {job.id} {job.status.value}"
                       + (f": {job.error}" if job.error else ""))
    if not AudioStreams(client).exists(job, job.run):
        raise StreamGone(f"the audio stream of job {job.id} is no longer kept; its file is at "
                         f"/result/{job.id}")
    return job.run


def run_pcm(client: RedisClient, job: Job, run: int) -> Iterator[bytes]:
    """The PCM pieces of ``run`` of ``job`` as they arrive, until the run's audio ends."""
    streams = AudioStreams(client)
    after, events_after, expected = "0-0", streams.last_event(job), 0
    live = _running(client, job, run)
    while True:
        batch = streams.read(job, run, after, events_after, BLOCK_MS if live else None)
        events_after = batch.events_after
        for piece in batch.pieces:
            after = piece.id
            if piece.cut or piece.seq != expected:
                return  # cut at the size cap, or a piece went missing: end, never a hole
            expected += 1
            if piece.pcm:
                yield piece.pcm
            if piece.last:
                return
        if not batch.pieces or batch.job_changed:
            if not live:
                return  # the run is over and everything it wrote has been read
            live = _running(client, job, run)


def _running(client: RedisClient, job: Job, run: int) -> bool:
    status, current = client.hmget(keys.job(job.type, job.id), "status", "run")
    return status == JobStatus.RUNNING.value and current == str(run)


def stream_body(client: RedisClient, job: Job, run: int, fmt: str, offset: int
                ) -> Iterator[bytes]:
    """The response body: ``run``'s audio as a ``fmt`` file from byte ``offset`` on."""
    try:
        yield from skip_bytes(encode_stream(fmt, run_pcm(client, job, run)), offset)
    except redis.RedisError as exc:  # the client reconnects with ?offset=
        log.warning("audio stream of job %s ended: Redis error %s", job.id, exc)
