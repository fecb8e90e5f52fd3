"""The ETA's arithmetic, without Redis: fit run times to input size, play the farm forward.

``Fit`` turns recent (size, seconds) samples of one job type into a prediction of one
job's run time, ``seconds ≈ overhead + rate · size`` fitted robustly (Theil–Sen: the median
of pairwise slopes, then the median intercept), or the median run time when sizes are
unknown. ``start_in`` plays the live workers' slots forward — each free slot takes the next
job of its types in turn, as ``queue.reading.Reader.read`` does — until the job in question
starts. ``queue/eta.py`` reads the inputs of both from Redis.
"""

from __future__ import annotations

import heapq
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

from c3render.job import JobType

SIZE_UNITS: dict[JobType, str] = {
    JobType.CSM: "characters",
    JobType.PORTRAIT: "audio_seconds",
    JobType.WHISPER: "audio_seconds",
    JobType.ANALYZE: "megapixels",
}
"""What a job's size is measured in, per type (the size the samples pair with run times)."""
MIN_SIZED_SAMPLES = 5
"""Fewer samples with a size than this: predict the median run time instead of fitting."""
FIT_SAMPLES = 100
"""The newest samples used for the fit (Theil–Sen looks at every pair: 4,950 of them)."""
MAX_SIMULATED_JOBS = 5000
"""Jobs of other types played forward at most (a status poll must stay cheap)."""


def size_from_params(job_type: JobType, params: dict[str, Any]) -> float | None:
    """The size known from the request alone: characters of text for /csm, else None."""
    if job_type is not JobType.CSM:
        return None
    text = params.get("text")
    if isinstance(text, str):
        return float(len(text))
    lines = params.get("monologue")
    if isinstance(lines, list):
        return float(sum(len(str(line)) for line in lines))
    return None


@dataclass(frozen=True)
class Sample:
    """One finished run: the job's size (None when unknown) and its run time in seconds."""

    size: float | None
    seconds: float


@dataclass(frozen=True)
class Fit:
    """A job type's run times, fitted from its recent samples (newest first)."""

    samples: int
    sized: int
    median: float
    """Median run time (the prediction when the size is unknown)."""
    mean: float
    """Mean run time: what a job of unknown size adds to a queue on average."""
    overhead: float | None = None
    rate: float | None = None
    """Seconds per unit of size; None when too few samples have a size."""
    ratios: tuple[float, ...] = field(default=(), repr=False)
    """Sorted actual/predicted run time of each sample (the spread of the prediction)."""

    @classmethod
    def from_samples(cls, samples: Sequence[Sample]) -> Fit | None:
        """Fit ``samples`` (newest first); None when there are none."""
        recent = [s for s in samples[:FIT_SAMPLES] if s.seconds >= 0]
        if not recent:
            return None
        seconds = [s.seconds for s in recent]
        sized = [(s.size, s.seconds) for s in recent if s.size is not None and s.size >= 0]
        overhead, rate = _theil_sen(sized) if len(sized) >= MIN_SIZED_SAMPLES else (None, None)
        fit = cls(len(recent), len(sized), statistics.median(seconds), statistics.fmean(seconds),
                  overhead, rate)
        ratios = sorted(s.seconds / p for s in recent if (p := fit.predict(s.size)) > 0)
        return cls(fit.samples, fit.sized, fit.median, fit.mean, overhead, rate, tuple(ratios))

    def predict(self, size: float | None) -> float:
        """Predicted run time of a job of ``size`` (the median when the size is unknown)."""
        if size is None or self.rate is None or self.overhead is None:
            return self.median
        return max(self.overhead + self.rate * size, 0.05 * self.median, 0.0)

    def remaining(self, size: float | None, elapsed: float, progress: float) -> float:
        """Seconds left of a run that has run ``elapsed`` seconds and reported ``progress``.

        The predicted run time, blended with ``elapsed / progress`` as progress grows; a run
        already past it gets the median overrun of the samples that ran at least as long.
        """
        expected = self.predict(size)
        left = expected - elapsed if expected > elapsed else self._overrun(expected, elapsed)
        if progress >= 0.05 and elapsed > 0:
            by_progress = elapsed * (1 - progress) / progress
            return (1 - progress) * left + progress * by_progress
        return left

    def _overrun(self, expected: float, elapsed: float) -> float:
        """Seconds left of a run already past its prediction: the median of the samples that
        ran longer, relative to their predictions (a tenth of the elapsed time when none did)."""
        if expected > 0:
            longer = [r for r in self.ratios if r * expected > elapsed]
            if longer:
                return statistics.median(longer) * expected - elapsed
        return 0.1 * elapsed

    def basis(self, size: float | None, unit: str) -> dict[str, Any]:
        """How this fit predicts a job of ``size``: for the status document's ``eta.basis``."""
        by_size = size is not None and self.rate is not None
        doc: dict[str, Any] = {
            "method": "size" if by_size else "median", "samples": self.samples,
            "sized_samples": self.sized, "median_run_s": round(self.median, 3),
        }
        if self.rate is not None and self.overhead is not None:
            doc.update(seconds_per_unit=round(self.rate, 6), overhead_s=round(self.overhead, 3))
        if size is not None:
            doc.update(size=round(size, 3), size_unit=unit)
        return doc


def _theil_sen(points: list[tuple[float, float]]) -> tuple[float | None, float | None]:
    """Robust line ``seconds = a + b·size``: b the median pairwise slope, a the median rest.

    When the sizes do not vary (no slope to see), b is the median seconds per unit and a 0.
    """
    slopes = [(y2 - y1) / (x2 - x1) for (x1, y1), (x2, y2) in combinations(points, 2) if x2 != x1]
    if slopes:
        rate = max(0.0, statistics.median(slopes))
    else:
        rates = [y / x for x, y in points if x > 0]
        if not rates:
            return None, None
        return 0.0, statistics.median(rates)
    overhead = statistics.median(y - rate * x for x, y in points)
    return overhead, rate


@dataclass
class SimSlot:
    """One slot of a live worker: the types it serves (in its reading order), when it is
    free (seconds from now), and which worker it belongs to (slots of one worker share
    the turn of their reader)."""

    types: tuple[str, ...]
    free_in: float
    worker: int


@dataclass
class Farm:
    """What waits and who serves it, as seen now."""

    slots: list[SimSlot]
    waiting: dict[str, int]
    """Jobs waiting per type; for the job's own type, those ahead of it."""
    run_s: dict[str, float]
    """The average run time of a waiting job, per type."""
    arrivals: list[tuple[float, str]] = field(default_factory=list)
    """Delayed jobs (retries) that join the back of their queue later: (seconds, type)."""


def start_in(farm: Farm, job_type: str, arrives_in: float | None = None) -> float | None:
    """Seconds until the job starts: after the jobs ahead of it in ``farm.waiting`` (and the
    delayed ones due before ``arrives_in``, when the job itself is a delayed retry). None when
    no slot serves ``job_type``."""
    if not any(job_type in slot.types for slot in farm.slots):
        return None
    waiting = {name: min(count, MAX_SIMULATED_JOBS) for name, count in farm.waiting.items()}
    arrivals = sorted(farm.arrivals)
    if arrives_in is not None:
        arrivals.append((arrives_in, "\0target"))
        arrivals.sort()
    queued = arrives_in is None
    turns: dict[int, int] = {}
    heap = [(slot.free_in, index) for index, slot in enumerate(farm.slots)]
    heapq.heapify(heap)
    while heap:
        now, index = heapq.heappop(heap)
        while arrivals and arrivals[0][0] <= now:
            _, name = arrivals.pop(0)
            if name == "\0target":
                queued = True
            elif name != job_type or not queued:
                waiting[name] = waiting.get(name, 0) + 1
        slot = farm.slots[index]
        turn = turns.get(slot.worker, 0)
        turns[slot.worker] = turn + 1
        order = slot.types[turn % len(slot.types):] + slot.types[:turn % len(slot.types)]
        for name in order:
            if waiting.get(name, 0) > 0:
                waiting[name] -= 1
                heapq.heappush(heap, (now + farm.run_s.get(name, 0.0), index))
                break
            if name == job_type and queued:
                return now
        else:  # nothing for this slot now: it waits for the next delayed job, if any
            if arrivals:
                heapq.heappush(heap, (max(now, arrivals[0][0]), index))
    return None
