"""Batched /whisper against one job at a time: 20 queued jobs, the same worker.

Run: .venv/bin/python bench/bench_batch.py   (flags: --model, --batch, --rounds, --workloads)

Workloads (Debian's pocketsphinx-testdata, LibriVox read speech with reference transcripts):
  clips   the 5 LibriVox clips, each submitted 4 times: 20 jobs, 98.9 s of audio
  joined  the 5 clips joined with 0.5 s gaps (27.2 s), submitted 20 times: 544 s of audio
Per run: a fresh `c3-render worker --types whisper --concurrency 1` with C3_WHISPER_BATCH=N
(1 = one at a time, the baseline) and the same everything else, on its own Redis; one
warm-up job of the same model (the joined recording: the model loads), and while it runs
(and after its slot looked for more jobs to batch with it) the 20 jobs are submitted, so
they are all queued when the worker next reads (both checked). The clock runs from the
warm-up's end to the last of the 20 ends (both Redis's clock, from the job hashes). Prints
jobs/s, audio seconds per second, the CPU seconds the worker and its engine process used
(steadier than wall time on a shared machine), ratios against N=1 (medians over the
rounds; modes alternate within each round), and the word error rate of each mode against
the references (normalised as in tests/support/wer.py).
"""

from __future__ import annotations

import argparse
import http.server
import json
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common  # noqa: E402
import numpy as np  # noqa: E402
import redis  # noqa: E402

from c3render.api.schemas import WhisperRequest  # noqa: E402
from c3render.job import JobType  # noqa: E402
from c3render.media.audio import decode_audio, encode_audio  # noqa: E402
from c3render.queue import keys  # noqa: E402
from c3render.queue.registry import WorkerRegistry  # noqa: E402
from c3render.queue.store import JobStore  # noqa: E402
from c3render.settings import Settings  # noqa: E402
from tests.support.librivox import LIBRIVOX, references  # noqa: E402
from tests.support.wer import word_errors  # noqa: E402

WHISPER = JobType.WHISPER
JOBS = 20


@dataclass
class Run:
    """One mode of one round on one workload."""

    workload: str
    batch: int
    seconds: float
    audio_seconds: float
    errors: int
    words: int
    ok: int
    batches: int
    cpu: float
    """CPU seconds of the worker and its engine process over the 20 jobs."""


def workloads(root: Path) -> dict[str, list[tuple[str, str, float]]]:
    """Workload name → 20 jobs as (file name under ``root``, reference, audio seconds)."""
    refs = references()
    stems = sorted(refs)
    gap = np.zeros(8000, dtype=np.float32)
    parts = []
    for stem in stems:
        (root / f"{stem}.wav").write_bytes((LIBRIVOX / f"{stem}.wav").read_bytes())
        parts += [decode_audio(LIBRIVOX / f"{stem}.wav"), gap]
    joined = np.concatenate(parts)
    encode_audio(joined, 16000, root / "joined.wav", "wav")
    seconds = {stem: decode_audio(LIBRIVOX / f"{stem}.wav").size / 16000 for stem in stems}
    clips = [(f"{stem}.wav", refs[stem], seconds[stem]) for stem in stems] * (JOBS // len(stems))
    whole = ("joined.wav", " ".join(refs[stem] for stem in stems), joined.size / 16000)
    return {"clips": clips, "joined": [whole] * JOBS}


@contextmanager
def file_server(root: Path) -> Iterator[str]:
    """An HTTP server of ``root`` on 127.0.0.1; yields its base URL."""
    handler = lambda *a: http.server.SimpleHTTPRequestHandler(*a, directory=str(root))  # noqa: E731
    http.server.SimpleHTTPRequestHandler.log_message = lambda *a: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def _ended(client: redis.Redis, ids: list[str]) -> list[dict[str, str]] | None:
    pipe = client.pipeline(transaction=False)
    for job_id in ids:
        pipe.hgetall(keys.job(WHISPER, job_id))
    hashes: list[dict[str, str]] = pipe.execute()
    return hashes if all(h.get("status") not in ("queued", "running") for h in hashes) else None


def run_mode(url: str, base: str, name: str, jobs: list[tuple[str, str, float]], batch: int,
             args: argparse.Namespace, work: Path) -> Run:
    """One worker with C3_WHISPER_BATCH=batch through the 20 jobs of one workload."""
    client = redis.Redis.from_url(url, decode_responses=True)
    client.flushall()
    store = JobStore(client, Settings(redis_url=url, data_dir=work / "data"))
    store.ensure_groups((WHISPER,))
    env = common.bench_env(url, work / "data", C3_WHISPER_BATCH=str(batch),
                           C3_WHISPER_BATCH_SIZE=str(args.chunks), C3_FETCH_ALLOW="127.0.0.1",
                           C3_ENGINE_MEMORY_MB="0")
    log = work / f"worker-{name}-{batch}-{time.monotonic_ns()}.log"
    command = [sys.executable, "-m", "c3render.cli", "worker", "--types", "whisper",
               "--concurrency", "1", "--preload"]

    def submit(file: str) -> str:
        request = WhisperRequest.model_validate(
            {"audio_url": f"{base}/{file}", "model": args.model, "language": "en"})
        return store.submit(WHISPER, request)[0]

    with common.processes([command], env, log) as (worker,):
        common.wait_for(lambda: WorkerRegistry(client).live_workers(), 60, "worker up")
        warm = submit("joined.wav")  # seconds long: the 20 are all queued before it ends
        common.wait_for(lambda: client.hget(keys.job(WHISPER, warm), "status") == "running",
                        120, "warm-up running", interval=0.005)
        time.sleep(1.0)  # the slot has looked for more jobs to batch with it: none yet
        ids = [submit(file) for file, _ref, _secs in jobs]
        if client.hget(keys.job(WHISPER, warm), "status") != "running":
            raise RuntimeError("the warm-up job ended before the 20 jobs were queued")
        common.wait_for(lambda: _ended(client, [warm]), 300, "warm-up done", interval=0.005)
        cpu_before = common.cpu_seconds(common.group_pids(worker.pid))
        common.wait_for(lambda: _ended(client, ids), 1800, "jobs done", interval=0.05)
        cpu = common.cpu_seconds(common.group_pids(worker.pid)) - cpu_before
        hashes = _ended(client, ids) or []
    start = float(client.hget(keys.job(WHISPER, warm), "finished_at") or 0)
    end = max(float(h["finished_at"]) for h in hashes)
    errors = words = ok = 0
    for (_file, reference, _secs), data in zip(jobs, hashes):
        text = str(json.loads(data.get("result") or "{}").get("text", ""))
        ok += data.get("status") == "success" and data.get("attempts") == "1"
        err, count = word_errors(reference, text)
        errors, words = errors + err, words + count
    sizes = [len(line.split(" (whisper)")[0].split(", "))
             for line in log.read_text().splitlines() if "started as one batch" in line]
    if sizes and sizes[0] != 1:
        raise RuntimeError(f"the warm-up was batched with other jobs: {sizes}")
    batches = len(sizes[1:]) if sizes else 0
    return Run(name, batch, end - start, sum(s for _f, _r, s in jobs), errors, words, ok, batches,
               cpu)


def print_runs(runs: list[Run], rounds: int) -> None:
    """One row per workload and mode: medians over the rounds, ratios against N=1."""
    result = common.table(f"20 queued /whisper jobs, one worker (1 slot), medians of {rounds} "
                          "round(s)", ["workload", "C3_WHISPER_BATCH", "s (each round)",
                                       "jobs/s", "audio s/s", "speed vs N=1", "CPU s",
                                       "CPU: N=1 / N", "WER", "ok"])
    for name in dict.fromkeys(run.workload for run in runs):
        mine = [run for run in runs if run.workload == name]
        first = [r for r in mine if r.batch == 1]
        baseline = statistics.median(r.seconds for r in first) if first else 0.0
        base_cpu = statistics.median(r.cpu for r in first) if first else 0.0
        for batch in dict.fromkeys(run.batch for run in mine):
            these = [run for run in mine if run.batch == batch]
            seconds = statistics.median(run.seconds for run in these)
            cpu = statistics.median(run.cpu for run in these)
            errors, words = sum(r.errors for r in these), sum(r.words for r in these)
            result.add_row(
                f"{name} ({these[0].audio_seconds:.1f} s audio)", str(batch),
                " / ".join(f"{r.seconds:.2f}" for r in these), f"{JOBS / seconds:.2f}",
                f"{these[0].audio_seconds / seconds:.1f}",
                common.ratio(baseline, seconds) if baseline else "-", f"{cpu:.1f}",
                common.ratio(base_cpu, cpu) if base_cpu else "-",
                f"{errors / words:.2%} ({errors}/{words})",
                f"{sum(r.ok for r in these)}/{JOBS * len(these)}")
    common.console.print(result)


def main() -> None:
    """Run every mode on every workload, alternating modes within each round."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny", help="requested model (tiny runs tiny.en)")
    parser.add_argument("--batch", default="1,8", help="C3_WHISPER_BATCH values (1 = baseline)")
    parser.add_argument("--chunks", type=int, default=8, help="C3_WHISPER_BATCH_SIZE")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workloads", default="clips,joined")
    args = parser.parse_args()
    common.print_machine(("faster-whisper", "ctranslate2"))
    work = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    audio = work / "audio"
    audio.mkdir()
    loads = workloads(audio)
    common.console.print(f"model {args.model}, beam 1, language en, C3_WHISPER_BATCH_SIZE "
                         f"{args.chunks}; {args.rounds} round(s); logs in {work}")
    runs = []
    with common.redis_server(work / "redis") as url, file_server(audio) as base:
        for _round in range(args.rounds):
            for name in args.workloads.split(","):
                for batch in (int(value) for value in args.batch.split(",")):
                    run = run_mode(url, base, name, loads[name], batch, args, work)
                    common.console.print(f"  {name} N={batch}: {run.seconds:.2f} s, "
                                         f"{run.cpu:.1f} CPU s, "
                                         f"{run.batches} batch(es), {run.ok}/{JOBS} ok")
                    runs.append(run)
                    time.sleep(0.5)
    print_runs(runs, args.rounds)


if __name__ == "__main__":
    main()
