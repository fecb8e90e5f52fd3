"""How honest is /status's ETA? A mixed workload replayed through the real service.

Our API (gunicorn, 2 processes) and two ``c3-render worker`` processes on one Redis:
worker A serves csm, whisper and analyze with 2 slots, worker B csm and analyze with 1, so
the types share slots. The engines (``bench/eta_engines.py``) sleep for a time that grows
with the job's size (characters, seconds of audio, megapixels) times a log-normal noise
(σ 0.2). N jobs (40 % csm, 35 % whisper, 25 % analyze; sizes drawn from wide ranges) arrive
as a Poisson process whose rate alternates every 25 jobs between 1.2× and 0.6× the farm's
capacity, so queues build up and drain.

Predictions: ``GET /status`` right after each submit, then up to 3 more while the job is
still queued, at least 1 s apart. For each prediction the relative error of the predicted
finish time is ``|finish_in_s − actual| / actual``, actual = the job's ``finished_at`` minus
the time of the prediction. Baseline beside it, on the same predictions: the naive
"(queue position ÷ slots + 1) × mean run time of every job finished so far" (all types).
Target: median ≤ 25 %. Predictions made before any job of the type had finished get
``eta: null``; they are counted, not scored.
"""

from __future__ import annotations

import argparse
import http.server
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path

import _common as common  # noqa: E402 - puts the repository on sys.path
import requests

from tests.support.media import wav_bytes  # noqa: E402

TYPES = (("csm", 0.40), ("whisper", 0.35), ("analyze", 0.25))
WORKERS = (("csm,whisper,analyze", 2), ("csm,analyze", 1))
AUDIO_SECONDS = (2, 5, 10, 20, 30, 40)
MEGAPIXELS = (0.1, 0.5, 1.0, 2.0, 4.0, 6.0)
CAPACITY_JOBS_S = 2.4
"""About the farm's throughput on this mix (3 slots, about 1.2 s per job)."""
EXTRA_PREDICTIONS = 3
PREDICTION_GAP_S = 1.0
DRAIN_S = 300.0
"""The longest wait for the last jobs to end after the last submit."""


@dataclass
class Prediction:
    at: float
    finish_in: float | None
    position: int | None
    when: str
    """'submit' or 'queued'."""
    eta: dict | None = None


@dataclass
class Tracked:
    id: str
    type: str
    predictions: list[Prediction] = field(default_factory=list)
    started_at: float | None = None
    finished_at: float | None = None
    status: str = "queued"


def _epoch(iso: str | None) -> float | None:
    return datetime.fromisoformat(iso).timestamp() if iso else None


def _predict(session: requests.Session, base: str, job: Tracked, when: str) -> dict:
    before = time.time()
    doc = session.get(f"{base}/status/{job.id}").json()
    at = (before + time.time()) / 2
    if doc["status"] == "queued":
        eta = doc.get("eta")
        job.predictions.append(Prediction(at, eta["finish_in_s"] if eta else None,
                                          doc.get("queue_position"), when, eta))
    return doc


def _workers(base: str) -> int:
    try:
        return int(requests.get(f"{base}/", timeout=5).json().get("workers", 0))
    except (requests.RequestException, ValueError, TypeError):
        return 0


def _write_inputs(folder: Path) -> list[Path]:
    """The WAV files (8 kHz) and JPEG images the jobs read."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for seconds in AUDIO_SECONDS:
        paths.append(folder / f"a{seconds}.wav")
        paths[-1].write_bytes(wav_bytes(seconds, rate=8000))
    for mp in MEGAPIXELS:
        side = int((mp * 1e6) ** 0.5)
        paths.append(folder / f"i{mp}.jpg")
        Image.new("RGB", (side, side), (120, 80, 40)).save(paths[-1], quality=70)
    return paths


def _input_links(base: str, files: list[Path], http_base: str | None) -> dict[str, list[str]]:
    """Links to the inputs: uploads (POST /uploads; their sizes are read at upload), or
    plain links on ``http_base`` (sizes unknown until a worker fetches them)."""
    session = requests.Session()
    links: dict[str, list[str]] = {"audio": [], "images": []}
    for path in files:
        if http_base:
            url = f"{http_base}/{path.name}"
        else:
            url = session.post(f"{base}/uploads?filename={path.name}",
                               data=path.read_bytes()).json()["url"]
        links["audio" if path.suffix == ".wav" else "images"].append(url)
    return links


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """No line per request."""


@contextmanager
def file_server(folder: Path) -> Iterator[str]:
    """A plain HTTP server for ``folder`` on 127.0.0.1; yields its base URL."""
    handler = partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def _body(kind: str, rng: random.Random, inputs: dict[str, list[str]]) -> dict:
    if kind == "csm":
        return {"text": "x" * int(rng.uniform(20, 800))}
    if kind == "whisper":
        return {"audio_url": rng.choice(inputs["audio"]), "model": "base"}
    return {"image_url": rng.choice(inputs["images"])}


def submit_all(base: str, n: int, seed: int, inputs: dict[str, list[str]],
               jobs: list[Tracked], lock: threading.Lock) -> None:
    """Submit ``n`` jobs on the alternating Poisson schedule, predicting at each submit."""
    rng = random.Random(seed)
    session = requests.Session()
    for index in range(n):
        rate = CAPACITY_JOBS_S * (1.2 if (index // 25) % 2 == 0 else 0.6)
        time.sleep(rng.expovariate(rate))
        kind = rng.choices([t for t, _ in TYPES], [w for _, w in TYPES])[0]
        answer = session.post(f"{base}/{kind}", json=_body(kind, rng, inputs))
        answer.raise_for_status()
        job = Tracked(answer.json()["id"], kind)
        _predict(session, base, job, "submit")
        with lock:
            jobs.append(job)


def follow(base: str, jobs: list[Tracked], lock: threading.Lock, done: threading.Event) -> None:
    """Poll every unfinished job: a few more predictions while queued, then its end."""
    session = requests.Session()
    give_up: float | None = None
    while True:
        with lock:
            open_jobs = [job for job in jobs if job.finished_at is None]
        if done.is_set():
            give_up = give_up or time.monotonic() + DRAIN_S
            if not open_jobs or time.monotonic() > give_up:
                return
        for job in open_jobs:
            last = job.predictions[-1].at if job.predictions else 0.0
            extra = sum(p.when == "queued" for p in job.predictions)
            due = extra < EXTRA_PREDICTIONS and time.time() - last >= PREDICTION_GAP_S
            if due and job.status == "queued":
                doc = _predict(session, base, job, "queued")
            else:
                doc = session.get(f"{base}/status/{job.id}").json()
            job.status = doc["status"]
            if doc["status"] in ("success", "failed", "cancelled", "timed_out"):
                job.started_at = _epoch(doc.get("started_at"))
                job.finished_at = _epoch(doc.get("finished_at"))
        time.sleep(0.2)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def naive(job: Tracked, p: Prediction, finished: list[Tracked], slots: int) -> float | None:
    """The baseline: (position ÷ slots + 1) × the mean run time of the jobs finished so far."""
    runs = [j.finished_at - j.started_at for j in finished  # type: ignore[operator]
            if j.finished_at is not None and j.started_at is not None and j.finished_at <= p.at]
    if not runs or p.position is None:
        return None
    return (p.position / slots + 1) * statistics.fmean(runs)


def report(jobs: list[Tracked]) -> None:
    """Print median and p90 relative errors, ours beside the baseline, by moment and type."""
    slots = sum(count for _, count in WORKERS)
    rows: dict[str, dict[str, list[float]]] = {}
    unscored = total = 0
    for job in jobs:
        if job.finished_at is None or job.status != "success":
            continue
        for p in job.predictions:
            total += 1
            actual = job.finished_at - p.at
            base = naive(job, p, jobs, slots)
            if p.finish_in is None or base is None or actual <= 0:
                unscored += 1
                continue
            for group in ("all", p.when, f"{p.when} {job.type}"):
                row = rows.setdefault(group, {"ours": [], "naive": []})
                row["ours"].append(abs(p.finish_in - actual) / actual)
                row["naive"].append(abs(base - actual) / actual)
    table = common.Table(title="ETA: relative error of the predicted finish time")
    for column in ("predictions", "N", "ours median", "ours p90", "naive median",
                   "naive p90", "naive/ours (median)"):
        table.add_column(column, justify="right" if column != "predictions" else "left")
    for group in sorted(rows, key=lambda g: (g != "all", g)):
        ours, base = rows[group]["ours"], rows[group]["naive"]
        m_ours, m_base = statistics.median(ours), statistics.median(base)
        table.add_row(group, str(len(ours)), f"{m_ours:.1%}", f"{_pct(ours, 0.9):.1%}",
                      f"{m_base:.1%}", f"{_pct(base, 0.9):.1%}",
                      f"{m_base / m_ours:.2f}x" if m_ours else "-")
    common.console.print(table)
    ended = sum(1 for job in jobs if job.status == "success")
    common.console.print(f"{len(jobs)} jobs ({ended} succeeded), {total} predictions while "
                         f"queued, {unscored} unscored (no eta yet: no finished run of the type, "
                         f"or no baseline yet). Target: ours median <= 25 %.")


def main() -> None:
    """Run the workload and print the errors."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=150, help="jobs (default 150)")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--dump", action="store_true", help="print every prediction")
    parser.add_argument("--links", choices=("uploads", "http"), default="uploads",
                        help="inputs as uploads (sizes known at submit, default) or as plain "
                             "links on a local HTTP server (sizes known once fetched)")
    args = parser.parse_args()
    common.print_machine()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        files = _write_inputs(work / "www")
        with common.redis_server(work / "redis") as url, file_server(work / "www") as www:
            jobs = run_workload(url, work, args.n, args.seed,
                                files, www if args.links == "http" else None)
    common.console.print(f"inputs: {args.links}")
    report(jobs)
    if args.dump:
        for job in jobs:
            for p in job.predictions:
                actual = (job.finished_at or 0) - p.at
                print(f"{job.type:8} {p.when:6} pos={p.position} "
                      f"pred={p.finish_in} actual={actual:.2f} "
                      f"run={(job.finished_at or 0) - (job.started_at or 0):.2f} "
                      f"{p.eta}")


def run_workload(url: str, work: Path, n: int, seed: int, files: list[Path],
                 http_base: str | None) -> list[Tracked]:
    """Start the API and the workers, replay the workload, follow every job to its end."""
    engines = ",".join(f"{t}=bench.eta_engines:{t}" for t, _ in TYPES)
    env = common.bench_env(url, work / "data", C3_ENGINES=engines, C3_HEARTBEAT_SECONDS="1",
                           C3_FETCH_ALLOW="127.0.0.1")
    port = common.free_port()
    base = f"http://127.0.0.1:{port}"
    api = [sys.executable, "-m", "gunicorn", "--workers", "2", "-b",
           f"127.0.0.1:{port}", "c3_render_api:app"]
    workers = [[sys.executable, "-m", "c3render.cli", "worker", "--types", types,
                "--concurrency", str(count), "--preload"] for types, count in WORKERS]
    jobs: list[Tracked] = []
    lock, done = threading.Lock(), threading.Event()
    with common.processes([api, *workers], env, work / "service.log"):
        common.wait_for_port(port)
        common.wait_for(lambda: _workers(base) >= len(WORKERS), 60, "workers registered")
        time.sleep(2.0)  # the engine processes load (--preload, as `up` and compose do)
        inputs = _input_links(base, files, http_base)
        follower = threading.Thread(target=follow, args=(base, jobs, lock, done))
        follower.start()
        try:
            submit_all(base, n, seed, inputs, jobs, lock)
        finally:
            done.set()
            follower.join()
    return jobs


if __name__ == "__main__":
    main()
