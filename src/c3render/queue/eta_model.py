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
SIZE_INPUTS: dict[JobType, str] = {
    JobType.PORTRAIT: "audio_url", JobType.WHISPER: "audio_url", JobType.ANALYZE: "image_url",
}
"""The input whose size stands for the job's; an upload's record keeps it under the unit."""
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
    """Typical run time of a job of unknown size waiting in a queue: the fitted line at the
    samples' mean size, else the mean without the slowest and fastest tenth (a cold start
    must not weigh on every job ahead)."""
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
        if rate is not None and overhead is not None:  # robust: the line at the mean size
            mean = max(0.0, overhead + rate * statistics.fmean(x for x, _ in sized))
        else:
            mean = _trimmed_mean(seconds)
        fit = cls(len(recent), len(sized), statistics.median(seconds), mean, overhead, rate)
        ratios = sorted(s.seconds / p for s in recent if (p := fit.predict(s.size)) > 0)
        return cls(fit.samples, fit.sized, fit.median, fit.mean, overhead, rate, tuple(ratios))

    def predict(self, size: float | None) -> float:
        """Predicted run time of a job of ``size`` (the median when the size is unknown)."""
        if size is None or self.rate is None or self.overhead is None:
            return self.median
        return max(self.overhead + self.rate * size, 0.05 * self.median, 0.0)

    def remaining(self, size: float | None, elapsed: float, progress: float,
                  typical: bool = False) -> float:
        """Seconds left of a run that has run ``elapsed`` seconds and reported ``progress``.

        The predicted run time, blended with ``elapsed / progress`` as progress grows; a run
        already past it gets the median overrun of the samples that ran at least as long.
        ``typical``: a run of unknown size counts as the mean (``mean``), not the median —
        for runs that other jobs wait behind, where the sum matters.
        """
        unknown = size is None or self.rate is None
        expected = self.mean if typical and unknown else self.predict(size)
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


def _trimmed_mean(values: list[float]) -> float:
    """The mean of ``values`` without the lowest and highest tenth."""
    ordered = sorted(values)
    cut = len(ordered) // 10
    return statistics.fmean(ordered[cut: len(ordered) - cut])


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
    rates: dict[str, float] = field(default_factory=dict)
    """Recent submissions per second of each type: the jobs of other types still to come
    compete for shared slots (the job's own type's later jobs queue behind it)."""


class _Arrivals:
    """The jobs still to come, in time order: the delayed ones, and evenly spaced new
    jobs of the other types at their recent rates."""

    def __init__(self, farm: Farm, job_type: str, arrives_in: float | None) -> None:
        self.fixed = sorted(farm.arrivals)
        if arrives_in is not None:
            self.fixed.append((arrives_in, TARGET))
            self.fixed.sort()
        self.gaps = {name: 1 / rate for name, rate in farm.rates.items()
                     if rate > 0 and name != job_type}
        self.next = dict(self.gaps)

    def due(self, now: float) -> list[str]:
        """The types of the jobs that arrive by ``now`` (TARGET for the job itself)."""
        found = []
        while self.fixed and self.fixed[0][0] <= now:
            found.append(self.fixed.pop(0)[1])
        for name, gap in self.gaps.items():
            while self.next[name] <= now:
                found.append(name)
                self.next[name] += gap
        return found

    def first_after(self, now: float, types: tuple[str, ...]) -> float | None:
        """When the next job a slot of ``types`` could take arrives (None: never)."""
        times = [t for t, name in self.fixed if name == TARGET or name in types]
        times += [self.next[name] for name in types if name in self.next]
        return max(now, min(times)) if times else None


TARGET = "\0target"


def start_in(farm: Farm, job_type: str, arrives_in: float | None = None) -> float | None:
    """Seconds until the job starts: after the jobs ahead of it in ``farm.waiting`` (and the
    delayed ones due before ``arrives_in``, when the job itself is a delayed retry), with the
    other types' jobs taking their turns. None when no slot serves ``job_type``.

    Which type a worker's reader tries first next is not known, so the farm is played once
    from each turn and the starts are averaged.
    """
    if not any(job_type in slot.types for slot in farm.slots):
        return None
    turns = max(len(slot.types) for slot in farm.slots)
    starts = [_play(farm, job_type, arrives_in, turn) for turn in range(turns)]
    found = [start for start in starts if start is not None]
    return statistics.fmean(found) if found else None


def _play(farm: Farm, job_type: str, arrives_in: float | None, first_turn: int) -> float | None:
    """One play of the farm, every worker's reader starting at ``first_turn``."""
    waiting = {name: min(count, MAX_SIMULATED_JOBS) for name, count in farm.waiting.items()}
    coming = _Arrivals(farm, job_type, arrives_in)
    queued = arrives_in is None
    turns: dict[int, int] = {}
    heap = [(slot.free_in, index) for index, slot in enumerate(farm.slots)]
    heapq.heapify(heap)
    for _ in range(4 * MAX_SIMULATED_JOBS):
        now, index = heapq.heappop(heap)
        for name in coming.due(now):
            if name == TARGET:
                queued = True
            elif name != job_type or not queued:
                waiting[name] = waiting.get(name, 0) + 1
        slot = farm.slots[index]
        turn = turns.get(slot.worker, first_turn)
        turns[slot.worker] = turn + 1
        order = slot.types[turn % len(slot.types):] + slot.types[:turn % len(slot.types)]
        for name in order:
            if waiting.get(name, 0) > 0:
                waiting[name] -= 1
                heapq.heappush(heap, (now + farm.run_s.get(name, 0.0), index))
                break
            if name == job_type and queued:
                return now
        else:  # nothing for this slot now: it waits for the next job it could take
            later = coming.first_after(now, slot.types)
            if later is not None:
                heapq.heappush(heap, (later, index))
        if not heap:
            return None
    return heap[0][0]  # too far back to play out: at least this long
