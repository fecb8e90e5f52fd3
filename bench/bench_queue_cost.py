"""Where a no-op job's CPU goes, ours beside Dramatiq, and the ceiling of the engine hop.

Run: .venv/bin/python bench/bench_queue_cost.py [-n 3000] [-p 2] [--slots 8] [--threads 8]

Part 1: N no-op jobs through P of our worker processes with S slots each (as
``bench_queue.py``), then through Dramatiq with P processes x T threads (8: its default), on
the same Redis. The jobs are submitted by this process while the workers run. Printed per
job: CPU of the worker processes' main process (ours) or whole process (Dramatiq), of our
engine processes, of Redis (``INFO cpu``), and of the submitting process, from /proc.
Part 2: the engine hop alone, no Redis: P processes x S threads, each thread sending no-op
``RunJob``s to its own engine process and waiting for each ``Done``; jobs/s and CPU µs per job
(the threads' processes and their engine processes).
The hop's CPU per job is printed beside Dramatiq's whole CPU per job from part 1.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common  # noqa: E402
import redis  # noqa: E402

from c3render.job import JobType  # noqa: E402
from c3render.queue import keys  # noqa: E402
from c3render.settings import Settings  # noqa: E402


def redis_cpu(client: redis.Redis) -> float:
    """Redis's own CPU seconds so far."""
    info = client.info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


def measure(client: redis.Redis, groups: list[int], submit: object, drained: object,
            jobs: int) -> dict[str, float]:
    """Run ``submit`` (N jobs) and wait for ``drained``; CPU µs per job by component."""
    mains = list(groups)
    children = [pid for group in groups for pid in common.group_pids(group) if pid != group]
    before = (common.cpu_seconds(mains), common.cpu_seconds(children), redis_cpu(client),
              time.process_time())
    started = time.perf_counter()
    submit()  # type: ignore[operator]
    submitted = time.process_time()
    common.wait_for(drained, 600, "jobs done", interval=0.01)
    elapsed = time.perf_counter() - started
    after = (common.cpu_seconds(mains), common.cpu_seconds(children), redis_cpu(client))
    per_job = 1e6 / jobs
    return {"main": (after[0] - before[0]) * per_job, "engines": (after[1] - before[1]) * per_job,
            "redis": (after[2] - before[2]) * per_job, "submit": (submitted - before[3]) * per_job,
            "rate": jobs / elapsed}


def ours(url: str, args: argparse.Namespace, work: Path) -> dict[str, float]:
    """Our workers with the no-op engine."""
    queue = keys.queue(JobType.CSM)
    with common.our_noop_workers(url, work, args.workers, args.slots, 20) as (store, procs):
        return measure(store.redis, [p.pid for p in procs],
                       lambda: [store.submit(JobType.CSM, common.NOOP_REQUEST)
                                for _ in range(args.jobs)],
                       lambda: store.redis.xlen(queue) == 0, args.jobs)


def dramatiq(url: str, args: argparse.Namespace, work: Path, actor: object
             ) -> dict[str, float]:
    """Dramatiq's Redis broker, P processes x T threads (its whole process group as 'worker')."""
    client = redis.Redis.from_url(url)
    with common.dramatiq_noop_workers(url, work, args.workers, args.threads, actor,
                                      20) as (drained, procs):
        figures = measure(client, [procs[0].pid],
                          lambda: [actor.send(f"job-{index}")  # type: ignore[attr-defined]
                                   for index in range(args.jobs)],
                          drained, args.jobs)
    figures["main"] += figures.pop("engines")  # its worker processes are children of the group
    figures["engines"] = 0.0
    return figures


def _hop_process(jobs: int, slots: int, data_dir: str, out: multiprocessing.Queue) -> None:
    """One process of the hop ceiling: ``slots`` threads, each with its own engine process."""
    from c3render.worker.engine_process import EngineHandle
    from c3render.worker.messages import Done, RunJob

    os.environ["C3_ENGINES"] = common.NOOP_ENGINE
    settings = Settings(redis_url="redis://localhost:1/0", data_dir=Path(data_dir))
    engines = [EngineHandle(JobType.CSM, settings) for _ in range(slots)]
    for engine in engines:
        engine.start()
        while engine.poll(1.0) is None:  # its Ready
            pass
    gate = threading.Barrier(slots + 1)
    engine_pids = [engine.process.pid for engine in engines if engine.process is not None]

    def ping(engine: EngineHandle, slot: int) -> None:
        gate.wait()
        for index in range(jobs):
            engine.send(RunJob(id=f"{slot}-{index}", type=JobType.CSM, params={"text": "hello"},
                               run=1, sources={}))
            while not isinstance(engine.poll(0.1), Done):
                pass

    threads = [threading.Thread(target=ping, args=(e, k)) for k, e in enumerate(engines)]
    for thread in threads:
        thread.start()
    gate.wait()
    started, cpu = time.perf_counter(), time.process_time() + common.cpu_seconds(engine_pids)
    for thread in threads:
        thread.join()
    out.put((time.perf_counter() - started,
             time.process_time() + common.cpu_seconds(engine_pids) - cpu))
    for engine in engines:
        engine.stop()


def hop_ceiling(args: argparse.Namespace, work: Path) -> tuple[float, float]:
    """Jobs/s through P processes x S engine hops, no Redis, and CPU µs per job."""
    context = multiprocessing.get_context("spawn")
    out: multiprocessing.Queue = context.Queue()
    per_thread = args.jobs // (args.workers * args.slots)
    processes = [context.Process(target=_hop_process,
                                 args=(per_thread, args.slots, str(work / "hop"), out))
                 for _ in range(args.workers)]
    for process in processes:
        process.start()
    results = [out.get(timeout=300) for _ in processes]
    for process in processes:
        process.join()
    done = per_thread * args.workers * args.slots
    return done / max(elapsed for elapsed, _ in results), sum(
        cpu for _, cpu in results) * 1e6 / done


def main() -> None:
    """Part 1 (ours, then Dramatiq, on one Redis), part 2 (the hop); print both tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--jobs", type=int, default=3000)
    parser.add_argument("-p", "--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--slots", type=int, default=8, help="our slots per process")
    parser.add_argument("--threads", type=int, default=8, help="Dramatiq's threads (its default)")
    args = parser.parse_args()
    common.print_machine()
    work = Path(tempfile.mkdtemp(prefix="bench-queue-cost-"))
    with common.redis_server(work / "redis") as url:
        os.environ["BENCH_REDIS_URL"] = url
        from bench.noop_engines import declare_dramatiq_actor

        actor = declare_dramatiq_actor()
        redis.Redis.from_url(url).flushall()
        mine = ours(url, args, work)
        redis.Redis.from_url(url).flushall()
        theirs = dramatiq(url, args, work, actor)
    result = common.table(f"CPU µs per no-op job, N = {args.jobs}, P = {args.workers}",
                          ["system", "jobs/s", "worker main", "engine processes", "Redis",
                           "submitting process", "all"])
    for label, row in ((f"ours ({args.workers} x {args.slots} slots)", mine),
                       (f"Dramatiq ({args.workers} x {args.threads} threads)", theirs)):
        total = row["main"] + row["engines"] + row["redis"] + row["submit"]
        result.add_row(label, f"{row['rate']:.0f}", f"{row['main']:.0f}",
                       f"{row['engines']:.0f}" if label.startswith("ours") else "-",
                       f"{row['redis']:.0f}", f"{row['submit']:.0f}", f"{total:.0f}")
    common.console.print(result)
    rate, hop_cpu = hop_ceiling(args, work)
    common.console.print(f"engine hop alone (no Redis), {args.workers} processes x {args.slots} "
                         f"threads, {args.jobs} jobs: {rate:.0f} jobs/s "
                         f"({common.ratio(rate, mine['rate'])} ours end to end), "
                         f"{hop_cpu:.0f} CPU µs per job")
    dramatiq_all = theirs["main"] + theirs["redis"] + theirs["submit"]
    common.console.print(f"the engine hop measured alone costs {hop_cpu:.0f} CPU µs per job: "
                         f"{common.ratio(hop_cpu, dramatiq_all)} Dramatiq's whole cost per job "
                         f"({dramatiq_all:.0f} µs, {args.workers} x {args.threads} threads)")
    common.console.print(f"logs: {work}")


if __name__ == "__main__":
    main()
