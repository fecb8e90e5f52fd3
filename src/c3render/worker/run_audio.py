"""A run's audio on its way to ``GET /stream``: out of the engine, through the slot, into Redis.

Engine process: ``AudioSender`` is the engine's ``emit_audio``; it turns each piece into
PCM at ``STREAM_RATE`` (one resampler per run, so pieces join seamlessly) and sends it to
the slot as an ``AudioChunk``; ``finish`` sends the resampler's tail marked ``last``.
Slot: ``RunAudio`` appends each chunk to the run's audio stream at once (one round trip per
sentence: the first words reach a listener while the rest renders), up to
``C3_STREAM_MAX_BYTES``. A write that fails (Redis away) ends the run's stream there, so a
listener gets a shorter stream, never one with a hole in it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import redis

from c3render.media.streaming import PcmConverter
from c3render.queue.audio_stream import AudioStreams
from c3render.queue.connection import RedisClient
from c3render.queue.leases import Claim
from c3render.settings import Settings
from c3render.worker.messages import AudioChunk, FromEngine

log = logging.getLogger(__name__)


class AudioSender:
    """The engine's ``emit_audio`` for one run (engine process side)."""

    def __init__(self, send: Callable[[FromEngine], None], run_id: str) -> None:
        self.send = send
        self.run_id = run_id
        self.seq = 0
        self.converter = PcmConverter()

    def __call__(self, samples: np.ndarray, rate: int) -> None:
        """Send the PCM of the next piece of the run's audio."""
        pcm = self.converter.convert(samples, rate)
        if pcm:
            self.send(AudioChunk(self.run_id, self.seq, pcm))
            self.seq += 1

    def finish(self) -> None:
        """The engine rendered everything: send the tail, marked as the last piece."""
        if self.seq:
            self.send(AudioChunk(self.run_id, self.seq, self.converter.flush(), last=True))
            self.seq += 1


class RunAudio:
    """Writes the audio chunks of the run a slot is running (``start`` for each run)."""

    def __init__(self, client: RedisClient, settings: Settings) -> None:
        self.streams = AudioStreams(client)
        self.ttl = settings.stream_ttl_seconds
        self.max_bytes = settings.stream_max_bytes
        self.written = 0
        self.closed = False

    def start(self) -> None:
        """A new run: nothing written yet."""
        self.written, self.closed = 0, False

    def add(self, claim: Claim, chunk: AudioChunk) -> None:
        """Append ``chunk`` to the run's stream (or mark the stream cut at the size cap)."""
        if self.closed:
            return
        job = claim.job
        try:
            if self.written + len(chunk.pcm) > self.max_bytes:
                self.closed = True
                if self.max_bytes:
                    self.streams.cut(job.type, job.id, claim.run, chunk.seq, self.ttl)
                return
            self.streams.append(job.type, job.id, claim.run, chunk.seq, chunk.pcm, self.ttl,
                                last=chunk.last)
            self.written += len(chunk.pcm)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            self.closed = True  # a later piece after a lost one would leave a hole
            log.warning("job %s: the audio stream ends early (Redis: %s)", job.id, exc)
