"""Queue throughput: N no-op jobs end to end through our job store and workers, RQ and Dramatiq.

Run: .venv/bin/python bench/bench_queue.py [-n 2000] [-p 2] [--concurrency 1,8]
Targets: ours >= Dramatiq in its default configuration (8 threads per process) with the same
number of worker processes, and >= 5x RQ (its default forking Worker).

Every system gets the same Redis (FLUSHALL between) and P worker processes, and a few
warm-up jobs first. Each peer runs in its default configuration and in the one-at-a-time
configuration (Dramatiq 1 thread; RQ's SimpleWorker beside its forking Worker); ours runs
with 1 and with 8 slots per worker process (each slot has its own engine process). The clock starts at the first submit and stops when the
last job's end state is stored; submit time is shown separately (workers run meanwhile).
Afterwards every job is checked: ended successfully, and ran exactly once (runs log).
For ours, the Redis commands per job (INFO commandstats delta / N) are printed too.
RQ's forking Worker runs only --rq-fork-jobs (default 300) jobs: at ~12 jobs/s here, N=2000
would take 3 minutes alone; its rate does not depend on N (one fork per job).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common  # noqa: E402
import redis  # noqa: E402

from c3render.job import JobStatus, JobType  # noqa: E402
from c3render.queue import keys  # noqa: E402

WARMUP_PER_WORKER = 5
POLLER_COMMANDS = {"xlen", "info", "ping"}
ALSO_CLIENT = {"set", "hmget", "hgetall"}  # heartbeat SET, still_mine HMGET, find HGETALL
SCRIPT_CALL = re.compile(r"redis\.call\(\s*['\"](\w+)['\"]")


@dataclass
class Run:
    """One system's figures."""

    label: str
    jobs: int
    submit_s: float
    total_s: float
    check: str
    commands: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        """Jobs per second end to end."""
        return self.jobs / self.total_s


def ran_once(runs_log: Path, ids: list[str]) -> tuple[bool, str]:
    """Did every id run exactly once (and nothing else run)? With a short description."""
    counts = Counter(runs_log.read_text().split()) if runs_log.exists() else Counter()
    missing = sum(1 for job_id in ids if counts[job_id] == 0)
    twice = sum(1 for job_id in ids if counts[job_id] > 1)
    ok = missing == 0 and twice == 0 and sum(counts.values()) == len(ids)
    return ok, "ran once" if ok else f"{missing} never ran, {twice} ran twice"


def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """Command calls between two commandstats snapshots (bench poller's commands left out)."""
    return {
        name: after[name] - before.get(name, 0)
        for name in after
        if name not in POLLER_COMMANDS and after[name] > before.get(name, 0)
    }


# --- ours ----------------------------------------------------------------------------------


def run_ours(url: str, jobs: int, workers: int, work: Path, concurrency: int = 1) -> Run:
    """Our JobStore.submit + `c3render.cli worker` processes with the no-op engine."""
    runs_log = work / "runs-ours.log"
    queue = keys.queue(JobType.CSM)
    with common.our_noop_workers(url, work, workers, concurrency, WARMUP_PER_WORKER * workers,
                                 BENCH_RUNS_LOG=str(runs_log)) as (store, _started):
        client = store.redis
        runs_log.unlink(missing_ok=True)
        before = common.command_stats(client)
        started = time.perf_counter()
        ids = [store.submit(JobType.CSM, common.NOOP_REQUEST)[0] for _ in range(jobs)]
        submitted = time.perf_counter()
        common.wait_for(lambda: client.xlen(queue) == 0, 600, "our jobs done", interval=0.01)
        ended = time.perf_counter()
        commands = delta(before, common.command_stats(client))
    label = f"ours ({workers} processes x {concurrency} slot{'s' * (concurrency > 1)})"
    return Run(label, jobs, submitted - started,
               ended - started, _check_ours(client, ids, runs_log), commands)


def _check_ours(client: redis.Redis, ids: list[str], runs_log: Path) -> str:
    pipe = client.pipeline(transaction=False)
    for job_id in ids:
        pipe.hmget(keys.job(JobType.CSM, job_id), "status", "attempts", "result")
    states = pipe.execute()
    good = sum(
        1 for status, attempts, result in states
        if status == JobStatus.SUCCESS.value and attempts == "1" and '"text":"ok"' in (result or "")
    )
    once_ok, once = ran_once(runs_log, ids)
    verdict = "OK" if good == len(ids) and once_ok else "FAILED"
    return f"{verdict}: {good}/{len(ids)} success, attempts=1, {once}"


# --- RQ --------------------------------------------------------------------------------------


def run_rq(url: str, jobs: int, workers: int, work: Path, worker_class: str, label: str) -> Run:
    """RQ: Queue.enqueue + `rq worker` processes of ``worker_class``."""
    from rq import Queue
    from rq.job import Job as RqJob
    from rq.job import JobStatus as RqStatus

    from bench.noop_engines import rq_noop

    runs_log = work / f"runs-{label.split()[1]}.log"
    env = common.bench_env(url, work / "data", BENCH_RUNS_LOG=str(runs_log))
    connection = redis.Redis.from_url(url)
    queue = Queue("bench", connection=connection)
    rq_bin = str(Path(sys.executable).parent / "rq")
    command = [rq_bin, "worker", "--url", url, "--worker-class", worker_class, "bench"]
    with common.processes([command] * workers, env, work / "rq.log"):
        warmup = WARMUP_PER_WORKER * workers
        for index in range(warmup):
            queue.enqueue(rq_noop, f"warmup-{index}")
        finished = queue.finished_job_registry
        common.wait_for(lambda: finished.count >= warmup, 120, "RQ warm-up jobs done")
        runs_log.unlink(missing_ok=True)
        started = time.perf_counter()
        ids = []
        for index in range(jobs):
            ids.append(queue.enqueue(rq_noop, f"job-{index}").id)
        submitted = time.perf_counter()
        common.wait_for(lambda: finished.count >= warmup + jobs, 900, "RQ jobs done", 0.01)
        ended = time.perf_counter()
    done = RqJob.fetch_many(ids, connection=connection)
    good = sum(1 for job in done if job and job.get_status(refresh=False) == RqStatus.FINISHED)
    once_ok, once = ran_once(runs_log, [f"job-{index}" for index in range(jobs)])
    verdict = "OK" if good == jobs and once_ok else "FAILED"
    return Run(label, jobs, submitted - started, ended - started,
               f"{verdict}: {good}/{jobs} finished, {once}")


# --- Dramatiq ------------------------------------------------------------------------------


def run_dramatiq(url: str, jobs: int, workers: int, threads: int, work: Path, actor: object) -> Run:
    """Dramatiq with its Redis broker: actor.send + `dramatiq` with P processes x T threads."""
    runs_log = work / f"runs-dramatiq-{threads}.log"
    with common.dramatiq_noop_workers(url, work, workers, threads, actor,
                                      WARMUP_PER_WORKER * workers,
                                      BENCH_RUNS_LOG=str(runs_log)) as (drained, _started):
        runs_log.unlink(missing_ok=True)
        started = time.perf_counter()
        for index in range(jobs):
            actor.send(f"job-{index}")  # type: ignore[attr-defined]
        submitted = time.perf_counter()
        common.wait_for(drained, 600, "Dramatiq jobs done", 0.01)
        ended = time.perf_counter()
    once_ok, once = ran_once(runs_log, [f"job-{index}" for index in range(jobs)])
    verdict = "OK" if once_ok else "FAILED"
    label = f"Dramatiq ({workers} processes x {threads} thread{'s' * (threads > 1)})"
    return Run(label, jobs, submitted - started, ended - started, f"{verdict}: acked, {once}")


# --- report ----------------------------------------------------------------------------------


def print_results(runs: list[Run]) -> None:
    """The comparison table (every row), then each headline ratio with both configurations."""
    ours = [run for run in runs if run.label.startswith("ours")]
    best = max(ours, key=lambda run: run.rate)
    result = common.table(
        "no-op jobs end to end (P worker processes, same Redis; jobs/s is flat in N)",
        ["system", "jobs", "submit s", "submit/s", "end-to-end s", "jobs/s",
         f"{best.label} / this", "check"],
    )
    for run in runs:
        result.add_row(run.label, str(run.jobs), f"{run.submit_s:.2f}", f"{run.jobs / run.submit_s:.0f}",
                       f"{run.total_s:.2f}", f"{run.rate:.0f}", common.ratio(best.rate, run.rate),
                       run.check)
    common.console.print(result)
    for ours_run in ours:
        for peer in runs:
            if peer.label.startswith(("Dramatiq", "RQ")):
                common.console.print(f"{ours_run.label} / {peer.label} = "
                                     f"{common.ratio(ours_run.rate, peer.rate)}")
    common.console.print("targets: >= 1x Dramatiq in its default configuration (8 threads) with "
                         "the same worker processes; >= 5x RQ's default forking Worker")
    print_commands(ours[0])


def script_commands() -> set[str]:
    """Names of the commands our Lua scripts call (commandstats counts those calls too)."""
    folder = resources.files("c3render").joinpath("queue/lua")
    found: set[str] = set()
    for script in folder.iterdir():
        if script.name.endswith(".lua"):
            found.update(name.lower() for name in SCRIPT_CALL.findall(script.read_text()))
    return found


def print_commands(ours: Run) -> None:
    """Our Redis commands per job, busiest first, split into round trips and calls in Lua."""
    in_lua = script_commands()
    per_job = common.table(
        "our Redis commands per job (INFO commandstats delta / N, idle polling and heartbeats "
        "included; evalsha = the submit, take (which starts the job) and finish scripts)",
        ["command", "calls", "per job", "issued"],
    )
    trips = 0
    for name, calls in sorted(ours.commands.items(), key=lambda item: -item[1]):
        issued = "inside Lua scripts" if name in in_lua else "round trip"
        if name in in_lua and name in ALSO_CLIENT:
            issued += " (the worker also sends it)"
        trips += calls if name not in in_lua else 0
        per_job.add_row(name, str(calls), f"{calls / ours.jobs:.2f}", issued)
    total = sum(ours.commands.values())
    per_job.add_row("total", str(total), f"{total / ours.jobs:.2f}", "")
    common.console.print(per_job)
    common.console.print(f"round trips per job: {trips / ours.jobs:.2f} (commands sent by our "
                         f"processes; {(total - trips) / ours.jobs:.2f} more run inside scripts)")


def main() -> None:
    """Run ours, RQ (fork and simple workers) and Dramatiq on one Redis; print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--jobs", type=int, default=2000)
    parser.add_argument("-p", "--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--concurrency", default="1,8",
                        help="our slots per worker process, comma-separated (default 1,8)")
    parser.add_argument("--dramatiq-threads", type=int, default=8,
                        help="Dramatiq's threads per process besides 1 (default 8, its default)")
    parser.add_argument("--rq-fork-jobs", type=int, default=300,
                        help="jobs for RQ's forking Worker (about 12/s here: 2000 take ~3 min); "
                             "0 = N, -1 = leave it out")
    args = parser.parse_args()
    common.print_machine()
    common.console.print(f"N = {args.jobs} jobs, P = {args.workers} worker processes")
    work = Path(tempfile.mkdtemp(prefix="bench-queue-"))
    with common.redis_server(work / "redis") as url:
        client = redis.Redis.from_url(url)
        os.environ["BENCH_REDIS_URL"] = url
        from bench.noop_engines import declare_dramatiq_actor

        actor = declare_dramatiq_actor()
        runs = []
        for concurrency in (int(each) for each in args.concurrency.split(",")):
            client.flushall()
            runs.append(run_ours(url, args.jobs, args.workers, work, concurrency))
        fork_jobs = args.rq_fork_jobs or args.jobs
        peers = [("rq.worker.SimpleWorker", "RQ SimpleWorker (no fork)", args.jobs)]
        if fork_jobs > 0:
            peers.insert(0, ("rq.Worker", "RQ Worker (default, fork per job)", fork_jobs))
        for worker_class, label, count in peers:
            client.flushall()
            runs.append(run_rq(url, count, args.workers, work, worker_class, label))
        for threads in sorted({1, args.dramatiq_threads}):
            client.flushall()
            runs.append(run_dramatiq(url, args.jobs, args.workers, threads, work, actor))
    print_results(runs)
    common.console.print(f"logs: {work}")


if __name__ == "__main__":
    main()
