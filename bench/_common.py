"""Helpers shared by the core benchmarks (queue, API, recovery): Redis, processes, tables.

Each benchmark starts its own ``redis-server`` on a free port (``tests.support.servers``),
runs our system and its peers side by side against it (FLUSHALL between) and prints a
``rich`` table. Nothing here is timed itself; the helpers only start, watch and stop.
"""

from __future__ import annotations

import os
import platform
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for _path in (str(ROOT / "src"), str(ROOT)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import redis  # noqa: E402
import requests  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from c3render.api.schemas import CsmRequest  # noqa: E402
from c3render.job import JobType  # noqa: E402
from c3render.queue import keys  # noqa: E402
from c3render.queue.registry import WorkerRegistry  # noqa: E402
from c3render.queue.store import JobStore  # noqa: E402
from c3render.settings import Settings  # noqa: E402
from tests.support.servers import (  # noqa: E402,F401 - re-exported
    free_port,  # noqa: E402,F401 - re-exported
    redis_server,
    wait_for_port,
)
from tests.support.service import service_env  # noqa: E402

console = Console(width=None if sys.stdout.isatty() else 150)
PEER_PACKAGES = ("redis", "rq", "dramatiq", "flask", "gunicorn", "granian", "rich")


def print_machine(extra: tuple[str, ...] = ()) -> None:
    """Print the machine (cores, CPU) and the versions of what the benchmark compares."""
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    server = subprocess.run(["redis-server", "--version"], capture_output=True, text=True)
    versions = ", ".join(f"{name} {_version(name)}" for name in (*PEER_PACKAGES, *extra))
    console.print(f"machine: {os.cpu_count()} cores ({cpu}), Linux {platform.release()}, "
                  f"Python {platform.python_version()}")
    console.print(f"redis-server {server.stdout.split()[2].removeprefix('v=')}; {versions}")


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def bench_env(redis_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    """Environment for our processes (and the peers'): repo importable, test-style settings."""
    base = {
        "C3_REDIS_URL": redis_url,
        "C3_DATA_DIR": str(data_dir),
        "FLASK_SECRET_KEY": "bench-5c1e9a7d3f2b8e4a6c0d",
        "BENCH_REDIS_URL": redis_url,
    }
    return service_env(base, **extra)


@contextmanager
def processes(commands: list[list[str]], env: dict[str, str], log: Path) -> Iterator[
    list[subprocess.Popen[bytes]]
]:
    """Start each command in its own session (output to ``log``); SIGKILL the groups at the end."""
    out = open(log, "ab")
    started = [
        subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT,
                         start_new_session=True, cwd=ROOT)
        for command in commands
    ]
    try:
        yield started
    finally:
        for process in started:
            kill_group(process)
        out.close()


@contextmanager
def csm_service(work: Path, **settings: str) -> Iterator[str]:
    """Our own ``redis-server``, ``c3-render api`` (granian) and one ``c3-render worker
    --types csm --preload`` with the embedded engine (``settings``: more environment);
    yields the API's base URL once a worker is live."""
    with redis_server(work / "redis") as url:
        port = free_port()
        env = bench_env(url, work / "data", API_PORT=str(port), API_HOST="127.0.0.1", **settings)
        commands = [[sys.executable, "-m", "c3render.cli", "api"],
                    [sys.executable, "-m", "c3render.cli", "worker", "--types", "csm",
                     "--preload"]]
        with processes(commands, env, work / "service.log"):
            wait_for_port(port, 60)
            api = f"http://127.0.0.1:{port}"
            wait_for(lambda: requests.get(f"{api}/", timeout=5).json().get("workers"), 120,
                     "a live worker")
            yield api


NOOP_ENGINE = "csm=bench.noop_engines:noop_csm"
NOOP_REQUEST = CsmRequest(text="hello")


@contextmanager
def our_noop_workers(url: str, work: Path, workers: int, slots: int, warmup: int,
                     **settings: str) -> Iterator[tuple[JobStore, list[subprocess.Popen[bytes]]]]:
    """``workers`` processes of ``c3-render worker --types csm --concurrency slots --preload``
    running the no-op engine (``settings``: more environment); yields the job store to submit
    ``NOOP_REQUEST`` with and the processes, once every worker is live and ``warmup`` jobs ran."""
    env = bench_env(url, work / "data", C3_ENGINES=NOOP_ENGINE, **settings)
    client = redis.Redis.from_url(url, decode_responses=True)
    store = JobStore(client, Settings(redis_url=url, data_dir=work / "data"))
    store.ensure_groups((JobType.CSM,))
    command = [sys.executable, "-m", "c3render.cli", "worker", "--types", "csm",
               "--concurrency", str(slots), "--preload"]
    with processes([command] * workers, env, work / "ours.log") as started:
        wait_for(lambda: len(WorkerRegistry(client).live_workers()) == workers, 60,
                 "our workers up")
        for _ in range(warmup):
            store.submit(JobType.CSM, NOOP_REQUEST)
        wait_for(lambda: client.xlen(keys.queue(JobType.CSM)) == 0, 60, "our warm-up jobs done")
        yield store, started


@contextmanager
def dramatiq_noop_workers(
    url: str, work: Path, workers: int, threads: int, actor: Any, warmup: int, **settings: str
) -> Iterator[tuple[Callable[[], bool], list[subprocess.Popen[bytes]]]]:
    """``dramatiq bench.noop_engines`` with ``workers`` processes x ``threads`` threads on its
    Redis broker (``actor``: the no-op actor, ``settings``: more environment); yields a
    "queue drained" check and the processes, once ``warmup`` messages were processed."""
    env = bench_env(url, work / "data", BENCH_DRAMATIQ="1", **settings)
    client = redis.Redis.from_url(url)
    command = [str(Path(sys.executable).parent / "dramatiq"), "bench.noop_engines",
               "--processes", str(workers), "--threads", str(threads)]

    def drained() -> bool:
        return client.hlen("dramatiq:default.msgs") == 0

    with processes([command], env, work / "dramatiq.log") as started:
        for index in range(warmup):
            actor.send(f"warmup-{index}")
        wait_for(drained, 60, "Dramatiq warm-up jobs done")
        yield drained, started


def run_seconds(doc: dict[str, Any]) -> float:
    """How long a finished job ran: its status document's ``started_at`` → ``finished_at``."""
    return (datetime.fromisoformat(doc["finished_at"])
            - datetime.fromisoformat(doc["started_at"])).total_seconds()


def kill_group(process: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
    """Signal a process's whole group (it was started in a new session) and reap it."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass
    process.wait(timeout=15)


def wait_for(predicate: object, timeout: float, what: str, interval: float = 0.02) -> None:
    """Poll ``predicate()`` until truthy; raise ``TimeoutError`` naming ``what``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(interval)
    raise TimeoutError(f"{what}: not reached within {timeout} s")


def command_stats(client: redis.Redis) -> dict[str, int]:
    """Calls per command name since the server started (INFO commandstats)."""
    stats = client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()}


def group_pids(pid: int) -> list[int]:
    """Every live process whose process group is ``pid`` (a server and its workers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pid:
            found.append(int(entry.name))
    return found


def pid_listening(port: int) -> list[int]:
    """Pids of ``redis-server`` processes started with ``--port port`` (to read their CPU)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = entry.read_bytes().split(b"\0")
        except OSError:
            continue
        # redis-server retitles itself "redis-server 127.0.0.1:PORT"
        named = b"redis-server" in args[0]
        if named and (str(port).encode() in args or args[0].endswith(f":{port}".encode())):
            found.append(int(entry.parent.name))
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds used so far by ``pids`` (from /proc/<pid>/stat)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def table(title: str, columns: list[str]) -> Table:
    """A rich table with right-aligned figure columns after the first one."""
    result = Table(title=title)
    for index, name in enumerate(columns):
        result.add_column(name, justify="left" if index == 0 else "right")
    return result


def ratio(ours: float, theirs: float) -> str:
    """``ours / theirs`` as ``1.23x`` (``-`` when undefined)."""
    return f"{ours / theirs:.2f}x" if theirs > 0 else "-"
