"""Chaos: many fixture jobs on several workers while a killer SIGKILLs, SIGTERMs and
SIGSTOPs them (and optionally restarts Redis), then an audit of how every job ended.

Used by ``tests/reliability/test_chaos.py`` (short) and ``bench/bench_chaos.py`` (long).
The audit counts what could go wrong, from sources the service does not share with itself:
end-state transitions (the ``ends`` counter every end script increments), result files on
disk per run, and webhook deliveries seen by a real HTTP receiver (distinct webhook-ids).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import redis

from c3render.api.schemas import CsmRequest
from c3render.job import JobStatus, JobType
from c3render.queue import keys
from c3render.queue.store import JobStore
from c3render.settings import load_settings
from tests.support.http_peers import Peer, respond
from tests.support.servers import redis_server


@dataclass
class ChaosPlan:
    """How much chaos: jobs, workers, how often something is killed, what else happens."""

    jobs: int = 60
    workers: int = 3
    concurrency: int = 2
    longest_job: float = 1.5
    kill_every: float = 1.0
    freeze_seconds: float = 4.0
    restart_redis_at: float | None = None
    timeout: float = 240.0
    seed: int = 7


@dataclass
class ChaosReport:
    """What happened and how every job ended."""

    kills: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    unfinished: list[str] = field(default_factory=list)
    ended_twice: list[str] = field(default_factory=list)
    extra_result_files: list[str] = field(default_factory=list)
    webhook_ids_twice: list[str] = field(default_factory=list)
    webhooks_missing: list[str] = field(default_factory=list)
    error_types: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def lost(self) -> int:
        """Jobs that did not reach an end state."""
        return len(self.unfinished)

    @property
    def duplicated(self) -> int:
        """Jobs that ended twice, kept two runs' files or were announced twice."""
        return len(set(self.ended_twice) | set(self.extra_result_files) | set(self.webhook_ids_twice))


class WorkerPool:
    """Worker subprocesses that can be killed and are restarted."""

    def __init__(self, env: dict[str, str], count: int, concurrency: int, logs: Path) -> None:
        self.env, self.concurrency, self.logs = env, concurrency, logs
        self.processes: list[subprocess.Popen[bytes]] = [self._spawn(i) for i in range(count)]

    def _spawn(self, index: int) -> subprocess.Popen[bytes]:
        log = open(self.logs / f"worker-{index}.log", "ab")  # noqa: SIM115 - the child owns it
        return subprocess.Popen(
            [sys.executable, "-m", "c3render.cli", "worker", "--types", "csm",
             "--concurrency", str(self.concurrency)],
            env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )

    def revive(self) -> None:
        """Restart every worker that has exited."""
        for index, process in enumerate(self.processes):
            if process.poll() is not None:
                self.processes[index] = self._spawn(index)

    def engines(self, index: int) -> list[int]:
        """Pids of worker ``index``'s engine processes."""
        pid = self.processes[index].pid
        found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
        return [int(p) for p in found.stdout.split()]

    def stop(self) -> None:
        """SIGKILL every worker's process group."""
        for process in self.processes:
            try:
                os.killpg(process.pid, signal.SIGCONT)
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait(timeout=10)


def _killer(pool: WorkerPool, plan: ChaosPlan, stop: threading.Event, report: ChaosReport,
            restart_redis: threading.Event) -> None:
    rng = random.Random(plan.seed)
    started = time.monotonic()
    froze = False
    redis_at = plan.restart_redis_at
    while not stop.wait(plan.kill_every):
        pool.revive()
        if redis_at is not None and time.monotonic() - started > redis_at:
            redis_at = None
            restart_redis.set()
        index = rng.randrange(len(pool.processes))
        victim = pool.processes[index]
        action = rng.choices(["kill", "engine", "term", "freeze"], [5, 4, 1, 0 if froze else 1])[0]
        try:
            if action == "kill":
                os.killpg(victim.pid, signal.SIGKILL)
            elif action == "engine":
                for pid in pool.engines(index)[:1]:
                    os.kill(pid, signal.SIGKILL)
            elif action == "term":
                os.kill(victim.pid, signal.SIGTERM)
            else:
                froze = True
                os.killpg(victim.pid, signal.SIGSTOP)
                stop.wait(plan.freeze_seconds)
                os.killpg(victim.pid, signal.SIGCONT)
            report.kills[action] += 1
        except ProcessLookupError:
            pass


def receiver(peer: Peer) -> None:
    """Answer ``POST /hook`` on ``peer`` with 200 (the peer records every request)."""
    peer.route("/hook", lambda handler: respond(handler, 200), method="POST")


def webhooks_by_job(peer: Peer) -> dict[str, Counter[str]]:
    """Job id → webhook-id → how many deliveries the receiver saw."""
    seen: dict[str, Counter[str]] = {}
    for request in peer.requests_to("/hook"):
        job_id = json.loads(request.body)["id"]
        headers = {name.lower(): value for name, value in request.headers.items()}
        seen.setdefault(job_id, Counter())[headers["webhook-id"]] += 1
    return seen


def submit_jobs(store: JobStore, plan: ChaosPlan, hook_url: str) -> list[str]:
    """Submit the plan's jobs: random durations, each with a webhook."""
    rng = random.Random(plan.seed)
    return [
        store.submit(JobType.CSM, CsmRequest(
            text=f"sleep:{rng.uniform(0.05, plan.longest_job):.2f}", notify_url=hook_url,
        ))[0]
        for _ in range(plan.jobs)
    ]


def audit(client: redis.Redis, ids: list[str], data_dir: Path,
          webhooks: dict[str, Counter[str]], report: ChaosReport) -> None:
    """Fill ``report`` with how each job ended."""
    for job_id in ids:
        data = client.hgetall(keys.job(JobType.CSM, job_id))
        status = data.get("status", "missing")
        report.statuses[status] += 1
        if status not in {s.value for s in JobStatus if s.is_final}:
            report.unfinished.append(job_id)
            continue
        if data.get("error_type"):
            report.error_types[data["error_type"]] += 1
        if int(data.get("ends") or 0) != 1:
            report.ended_twice.append(job_id)
        runs = data_dir / "files" / "results" / job_id
        kept = [p for p in runs.iterdir() if p.is_dir()] if runs.exists() else []
        if len(kept) > (1 if status == "success" else 0):
            report.extra_result_files.append(job_id)
        ids_seen = webhooks.get(job_id, Counter())
        if len(ids_seen) > 1:
            report.webhook_ids_twice.append(job_id)
        if not ids_seen:
            report.webhooks_missing.append(job_id)


def all_done(client: redis.Redis, ids: list[str]) -> bool:
    """True when every job is in an end state and every webhook has left the outbox."""
    pipe = client.pipeline(transaction=False)
    for job_id in ids:
        pipe.hget(keys.job(JobType.CSM, job_id), "status")
    pipe.zcard(keys.outbox(JobType.CSM))
    *statuses, outbox = pipe.execute(raise_on_error=False)
    return outbox == 0 and all(s in {"success", "failed", "cancelled", "timed_out"} for s in statuses)


def settings_for_chaos(redis_url: str, data_dir: Path) -> dict[str, str]:
    """Test-speed leases and retries for the chaos workers (validated like production)."""
    load_settings(redis_url=redis_url, heartbeat_seconds=0.5, liveness_seconds=1.5,
                  reclaim_idle_seconds=10)
    return {
        "C3_REDIS_URL": redis_url, "C3_DATA_DIR": str(data_dir),
        "C3_HEARTBEAT_SECONDS": "0.5", "C3_LIVENESS_SECONDS": "1.5",
        "C3_RECLAIM_IDLE_SECONDS": "10", "C3_SHUTDOWN_GRACE_SECONDS": "1",
        "C3_RETRY_BACKOFF_SECONDS": "0.2", "C3_MAX_RETRIES": "5",
        "C3_WEBHOOK_TIMEOUT": "2", "C3_ENGINES": "csm=tests.fixtures.engines:scripted_csm",
    }


def run_chaos(plan: ChaosPlan, env: dict[str, str], peer: Peer, logs: Path,
              restart_redis: Callable[[], None] | None = None) -> ChaosReport:
    """Submit the jobs, run the workers under the killer until every job ended, audit."""
    settings = load_settings(redis_url=env["C3_REDIS_URL"], data_dir=Path(env["C3_DATA_DIR"]))
    client = redis.Redis.from_url(env["C3_REDIS_URL"], decode_responses=True)
    store = JobStore(client, settings)
    store.ensure_groups()
    report = ChaosReport()
    started = time.monotonic()
    receiver(peer)
    ids = submit_jobs(store, plan, peer.url("/hook"))
    pool = WorkerPool(env, plan.workers, plan.concurrency, logs)
    stop, redis_due = threading.Event(), threading.Event()
    killer = threading.Thread(target=_killer, args=(pool, plan, stop, report, redis_due))
    killer.start()
    try:
        while time.monotonic() - started < plan.timeout:
            if redis_due.is_set() and restart_redis is not None:
                redis_due.clear()
                restart_redis()
                report.kills["redis restart"] += 1
            try:
                if all_done(client, ids):
                    break
            except redis.ConnectionError:
                pass
            time.sleep(0.5)
    finally:
        stop.set()
        killer.join()
        pool.stop()
    report.seconds = time.monotonic() - started
    audit(client, ids, Path(env["C3_DATA_DIR"]), webhooks_by_job(peer), report)
    return report


@contextmanager
def restartable_redis(workdir: Path) -> Iterator[tuple[str, Callable[[], None]]]:
    """An append-only redis-server, and a function that shuts it down (flushing the AOF)
    and starts it again on the same port and files."""
    restarted: list[subprocess.Popen[bytes]] = []
    with redis_server(workdir, appendonly=True) as url:
        port = url.rsplit(":", 1)[1].split("/")[0]

        def restart() -> None:
            redis.Redis.from_url(url).shutdown(nosave=False)
            time.sleep(1.0)
            restarted.append(subprocess.Popen(
                ["redis-server", "--port", port, "--bind", "127.0.0.1", "--dir", str(workdir),
                 "--appendonly", "yes", "--save", ""], stdout=subprocess.DEVNULL,
            ))

        try:
            yield url, restart
        finally:
            for process in restarted:
                process.terminate()
                process.wait()
