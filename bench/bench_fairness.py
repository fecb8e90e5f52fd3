"""Fair share between API keys: how long one key's single job waits behind another key's flood.

Run: .venv/bin/python bench/bench_fairness.py [--flood 1000] [--reps 5] [--job-seconds 0.1]
     [--jobs 1000] [--old REV]
Target: with fair share, the single job starts within one job duration of a worker freeing up.

Everything goes through the real service: a real Redis, the API under granian (two named
keys), and 2 worker processes (1 slot each) running ``bench.noop_engines:sleep_csm``, whose
every job takes ``--job-seconds``. Per repetition key ``flood`` submits ``--flood`` jobs over
HTTP, then key ``single`` submits one; its delay is (its start - the first end of a flood job
after it was submitted) / the job duration, every time read from the job hashes (Redis's
clock). Then the flood's waiting jobs are cancelled and the next repetition starts. The same
run with ``C3_FAIR_SHARE=false`` (one FIFO per type, the same code otherwise) is the baseline.

Throughput: ``--jobs`` no-op jobs of one key (duration 0: the queue's own cost shows) are
submitted with the workers stopped; then the workers start, and the rate counts the jobs
started once every worker had started one, up to the last end (the workers' start-ups differ
by up to a second); ``--rounds`` rounds per mode, interleaved, the median reported. Fair share on, off, and (``--old REV``, default the commit before fair share)
the old code path: that revision's tree from ``git archive``, its API and workers, which read
with XREADGROUP. The whole service on 2 shared cores is noisy, so the queue's own added cost
is measured apart too: microseconds per read of a waiting entry, take.lua against
XREADGROUP, ``--reads`` entries in this process, ``--rounds`` rounds.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common  # noqa: E402
import redis  # noqa: E402
import requests  # noqa: E402

from c3render.api.schemas import CsmRequest  # noqa: E402
from c3render.job import JobType  # noqa: E402
from c3render.queue import keys  # noqa: E402
from c3render.queue.reading import Reader  # noqa: E402
from c3render.queue.registry import WorkerRegistry  # noqa: E402
from c3render.queue.store import JobStore  # noqa: E402
from c3render.settings import load_settings  # noqa: E402

FLOOD_KEY, SINGLE_KEY = "bench-flood-key-0123456789", "bench-single-key-0123456789"
API_KEYS = f"flood:{FLOOD_KEY},single:{SINGLE_KEY}"
WORKERS = 2
OLD_REV = "cd3c51f"
"""The last commit before fair share (workers read with XREADGROUP '>')."""


@dataclass
class Mode:
    """One configuration of the service under test."""

    label: str
    fair: bool
    tree: Path | None = None
    """Another source tree to run (the old code path); None: this one."""
    delays: list[float] = field(default_factory=list)
    rates: list[float] = field(default_factory=list)

    @property
    def key(self) -> str:
        """A short name for files."""
        return "old" if self.tree is not None else ("fair" if self.fair else "fifo")

    @property
    def rate(self) -> float:
        """Median jobs/s of the throughput rounds."""
        return statistics.median(self.rates) if self.rates else 0.0


def env_for(mode: Mode, url: str, work: Path, job_seconds: float) -> dict[str, str]:
    """Our processes' environment for ``mode``."""
    env = common.bench_env(
        url, work / "data", C3_ENGINES="csm=bench.noop_engines:sleep_csm", C3_API_KEYS=API_KEYS,
        C3_FAIR_SHARE="true" if mode.fair else "false", BENCH_JOB_SECONDS=str(job_seconds),
        C3_SUBMITS_PER_MINUTE="0", C3_MAX_QUEUED_JOBS="0",
    )
    if mode.tree is not None:
        env["PYTHONPATH"] = f"{mode.tree / 'src'}:{common.ROOT}"
    return env


def api_command(port: int) -> list[str]:
    """The API under granian, 2 workers, as ``c3-render up`` runs it."""
    return [sys.executable, "-m", "granian", "--interface", "wsgi", "--host", "127.0.0.1",
            "--port", str(port), "--workers", "2", "--no-ws", "--log-level", "warning",
            "c3render.wsgi:app"]


def worker_command() -> list[str]:
    """One worker process with one slot."""
    return [sys.executable, "-m", "c3render.cli", "worker", "--types", "csm", "--concurrency", "1",
            "--preload"]


def submit(session: requests.Session, base: str, key: str) -> str:
    """POST /csm with ``key``; the job id."""
    answer = session.post(f"{base}/csm", json={"text": "x"}, headers={"X-C3-RENDER-KEY": key})
    answer.raise_for_status()
    return str(answer.json()["id"])


def job_times(client: redis.Redis, job_id: str) -> tuple[float, float, float]:
    """created_at, started_at, finished_at (0 when unset) of a /csm job."""
    values = client.hmget(keys.job(JobType.CSM, job_id), "created_at", "started_at", "finished_at")
    return tuple(float(v) if v else 0.0 for v in values)  # type: ignore[return-value]


def one_repetition(client: redis.Redis, base: str, flood: int, job_seconds: float) -> float:
    """Flood, then one job of the other key; its delay in job durations after a free-up."""
    session = requests.Session()
    flood_ids = [submit(session, base, FLOOD_KEY) for _ in range(flood)]
    single = submit(session, base, SINGLE_KEY)
    common.wait_for(lambda: job_times(client, single)[1] > 0, 3600, "the single job started",
                    interval=0.01)
    created, started, _ = job_times(client, single)
    pipe = client.pipeline(transaction=False)
    for job_id in flood_ids:
        pipe.hmget(keys.job(JobType.CSM, job_id), "finished_at")
    ends = [float(v[0]) for v in pipe.execute() if v[0]]
    free = min((end for end in ends if end >= created), default=created)
    for job_id in flood_ids:  # cancel what still waits, for the next repetition
        session.post(f"{base}/job/{job_id}", json={"status": "cancelled"},
                     headers={"X-C3-RENDER-KEY": FLOOD_KEY})
    common.wait_for(lambda: client.xlen(keys.queue(JobType.CSM)) == 0, 120, "queue empty")
    return max(0.0, started - free) / job_seconds


def throughput(client: redis.Redis, base: str, env: dict[str, str], work: Path, jobs: int,
               label: str) -> float:
    """Jobs per second of one key's no-op jobs (workers started after the submits)."""
    session = requests.Session()
    ids = [submit(session, base, FLOOD_KEY) for _ in range(jobs)]
    with common.processes([worker_command()] * WORKERS, env, work / f"tput-{label}.log"):
        common.wait_for(lambda: client.xlen(keys.queue(JobType.CSM)) == 0, 600,
                        "throughput jobs done", interval=0.05)
    pipe = client.pipeline(transaction=False)
    for job_id in ids:
        pipe.hmget(keys.job(JobType.CSM, job_id), "started_at", "finished_at", "status", "worker")
    rows = pipe.execute()
    if any(row[2] != "success" for row in rows):
        raise RuntimeError(f"{label}: not every throughput job succeeded")
    first: dict[str, float] = {}
    for started, _, _, worker in rows:
        first[worker] = min(first.get(worker, float(started)), float(started))
    both = max(first.values())  # from when every worker had started (their start-ups differ)
    last = max(float(row[1]) for row in rows)
    counted = sum(1 for row in rows if float(row[0]) >= both)
    return counted / (last - both)


@contextmanager
def service(mode: Mode, work: Path, name: str, job_seconds: float) -> Iterator[
    tuple[redis.Redis, str, dict[str, str]]
]:
    """A fresh Redis and the API of ``mode``: (client, API base URL, environment)."""
    with common.redis_server(work / f"redis-{name}") as url:
        port = common.free_port()
        env = env_for(mode, url, work, job_seconds)
        with common.processes([api_command(port)], env, work / f"api-{name}.log"):
            common.wait_for_port(port, 30)
            yield redis.Redis.from_url(url, decode_responses=True), f"http://127.0.0.1:{port}", env


def run_delays(mode: Mode, args: argparse.Namespace, work: Path) -> None:
    """``args.reps`` flood repetitions with ``mode``'s API and 2 workers."""
    with service(mode, work, f"delays-{mode.key}", args.job_seconds) as (client, base, env):
        with common.processes([worker_command()] * WORKERS, env, work / f"w-{mode.key}.log"):
            common.wait_for(lambda: len(WorkerRegistry(client).live_workers()) == WORKERS, 60,
                            "workers up")
            for rep in range(args.reps):
                mode.delays.append(one_repetition(client, base, args.flood, args.job_seconds))
                common.console.print(f"{mode.label} repetition {rep + 1}: "
                                     f"{mode.delays[-1]:.2f} job durations")


def run_throughput(mode: Mode, args: argparse.Namespace, work: Path, index: int) -> None:
    """One throughput round of ``mode`` (no-op jobs), on a fresh Redis and API."""
    name = f"tput-{mode.key}-{index}"
    with service(mode, work, name, 0.0) as (client, base, env):
        mode.rates.append(throughput(client, base, env, work, args.jobs, name))
    common.console.print(f"{mode.label} throughput round {index + 1}: {mode.rates[-1]:.0f} jobs/s")


def read_costs(work: Path, entries: int, rounds: int) -> dict[str, list[float]]:
    """Microseconds per read of a waiting entry, in this process on a fresh Redis: take.lua
    (fair share on, off) against the old path's XREADGROUP '>' on the same kind of entries."""
    costs: dict[str, list[float]] = {"take.lua, fair share on": [],
                                     "take.lua, fair share off": [], "XREADGROUP (old)": []}
    with common.redis_server(work / "redis-reads") as url:
        client = redis.Redis.from_url(url, decode_responses=True)
        for _ in range(rounds):
            for label in costs:
                client.flushall()
                settings = load_settings(redis_url=url, data_dir=work / "data",
                                         fair_share=label.endswith("on"))
                store = JobStore(client, settings)
                store.ensure_groups((JobType.CSM,))
                for _ in range(entries):
                    store.submit(JobType.CSM, CsmRequest(text="x"), owner="flood")
                reader = Reader(client, settings, WorkerRegistry(client))
                queue = {keys.queue(JobType.CSM): ">"}
                started = time.perf_counter()
                for _ in range(entries):
                    if label.startswith("XREADGROUP"):
                        assert client.xreadgroup(keys.GROUP, "w", queue, count=1)
                    else:
                        assert reader.take(JobType.CSM, "w")
                costs[label].append((time.perf_counter() - started) / entries * 1e6)
    return costs


def old_tree(rev: str, work: Path) -> Path:
    """The source tree of ``rev`` (git archive of src/), unpacked under ``work``."""
    archive = subprocess.run(["git", "-C", str(common.ROOT), "archive", rev, "src"],
                             check=True, capture_output=True).stdout
    target = work / f"tree-{rev}"
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return target


def report(modes: list[Mode], args: argparse.Namespace,
           costs: dict[str, list[float]]) -> None:
    """The tables: delays (median, max) beside FIFO, throughput ratios, read costs."""
    fair, fifo = modes[0], modes[1]
    if args.reps:
        table = common.table(
            f"single job's start after a worker frees up, in job durations ({args.job_seconds} s"
            f" jobs, flood of {args.flood}, {WORKERS} workers, {args.reps} repetitions)",
            ["mode", "median", "max", "all"])
        for mode in (fair, fifo):
            table.add_row(mode.label, f"{statistics.median(mode.delays):.2f}",
                          f"{max(mode.delays):.2f}", " ".join(f"{d:.1f}" for d in mode.delays))
        common.console.print(table)
    if args.jobs:
        table = common.table(
            f"one key's no-op jobs/s ({args.jobs} jobs, {WORKERS} workers, median of "
            f"{args.rounds} interleaved rounds)",
            ["mode", "median jobs/s", "all", "vs fair share off", "vs old code path"])
        old = modes[-1] if modes[-1].tree is not None else None
        for mode in modes:
            table.add_row(mode.label, f"{mode.rate:.0f}",
                          " ".join(f"{r:.0f}" for r in mode.rates),
                          common.ratio(mode.rate, fifo.rate),
                          common.ratio(mode.rate, old.rate) if old else "-")
        common.console.print(table)
    if costs:
        table = common.table(f"reading one waiting entry ({args.reads} entries, in-process, "
                             f"median of {args.rounds} rounds)",
                             ["read", "median µs", "all", "vs XREADGROUP"])
        base = statistics.median(costs["XREADGROUP (old)"])
        for label, values in costs.items():
            median = statistics.median(values)
            table.add_row(label, f"{median:.0f}", " ".join(f"{v:.0f}" for v in values),
                          common.ratio(median, base))
        common.console.print(table)


def main() -> None:
    """Run each mode, print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flood", type=int, default=1000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--job-seconds", type=float, default=0.1)
    parser.add_argument("--jobs", type=int, default=1000, help="throughput jobs (0: skip)")
    parser.add_argument("--rounds", type=int, default=3, help="throughput rounds per mode")
    parser.add_argument("--reads", type=int, default=2000, help="entries per read-cost round")
    parser.add_argument("--old", default=OLD_REV, help="old code path revision ('': skip)")
    args = parser.parse_args()
    common.print_machine(("requests",))
    with tempfile.TemporaryDirectory(prefix="bench-fair-") as tmp:
        work = Path(tmp)
        modes = [Mode("fair share on", True), Mode("fair share off (FIFO)", False)]
        if args.old and args.jobs:
            modes.append(Mode(f"old code path ({args.old})", False, old_tree(args.old, work)))
        if args.reps:
            for mode in modes[:2]:
                started = time.monotonic()
                run_delays(mode, args, work)
                common.console.print(f"{mode.label}: {time.monotonic() - started:.0f} s")
        if args.jobs:
            for index in range(args.rounds):  # interleaved: a busy moment hits every mode
                for mode in modes[index % len(modes):] + modes[:index % len(modes)]:
                    run_throughput(mode, args, work, index)
        costs = read_costs(work, args.reads, args.rounds) if args.reads else {}
        report(modes, args, costs)


if __name__ == "__main__":
    main()
