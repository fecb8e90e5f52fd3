"""The engine process: one per job type and slot, models loaded once and kept.

The supervisor talks to it over a ``multiprocessing`` pipe. Parent → child: a job
description (dict) or ``None`` to stop. Child → parent: ``("ready", name)``, then per job
``("progress", run, fraction)``, ``("done", run, result)`` or ``("failed", run, message)``
where ``run`` is ``"{job id}/{attempt}"``, so a message can never be taken for another job's. The child
downloads the job's inputs, runs the engine and stores a media result itself, so large
files never cross the pipe. The supervisor kills the process to cancel or time out a job.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import signal
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from c3render.config import Settings
from c3render.engines.base import Engine, EngineJob, EngineResult
from c3render.engines.registry import create_engine
from c3render.errors import C3Error, EngineCrashed, JobError
from c3render.models import INPUT_FIELDS, JobType

if TYPE_CHECKING:
    from c3render.storage import Storage

log = logging.getLogger(__name__)
_CONTEXT = multiprocessing.get_context("spawn")
PROGRESS_INTERVAL = 0.2


class EngineHandle:
    """The supervisor's side of one engine process (started lazily, restarted after a kill)."""

    def __init__(self, job_type: JobType, settings: Settings) -> None:
        self.job_type = job_type
        self.settings = settings
        self.process: multiprocessing.process.BaseProcess | None = None
        self.conn: Connection | None = None
        self.last_used = time.monotonic()

    @property
    def alive(self) -> bool:
        """True while the process runs."""
        return self.process is not None and self.process.is_alive()

    def start(self) -> None:
        """Start the process if it is not running (models load in the background)."""
        if self.alive:
            return
        self.close()
        parent, child = _CONTEXT.Pipe(duplex=True)
        self.process = _CONTEXT.Process(
            target=serve,
            args=(child, self.job_type, self.settings, os.getpid()),
            name=f"c3-engine-{self.job_type.value}",
            daemon=True,
        )
        self.process.start()
        child.close()
        self.conn = parent

    def send(self, job: dict[str, Any]) -> None:
        """Hand a job to the process (starting it first if needed)."""
        self.start()
        assert self.conn is not None
        self.last_used = time.monotonic()
        self.conn.send(job)

    def poll(self, timeout: float) -> tuple[Any, ...] | None:
        """The next message, or None after ``timeout``; ``EngineCrashed`` if the process died."""
        assert self.conn is not None and self.process is not None
        try:
            if self.conn.poll(timeout):
                message: tuple[Any, ...] = self.conn.recv()
                return message
        except (EOFError, OSError):
            pass
        else:
            if self.process.is_alive():
                return None
        self.process.join(timeout=1)
        code = self.process.exitcode
        self.close()
        raise EngineCrashed(f"the {self.job_type.value} engine process died (exit code {code})")

    def kill(self) -> None:
        """Stop the process at once (cancel, timeout); the next job starts a fresh one."""
        if self.process is not None and self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=5)
        self.close()

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the process to exit, killing it if it does not within ``timeout``."""
        if self.conn is not None and self.alive:
            try:
                self.conn.send(None)
            except OSError:
                pass
            assert self.process is not None
            self.process.join(timeout)
        self.kill()

    def close(self) -> None:
        """Forget a dead process and its pipe."""
        if self.conn is not None:
            self.conn.close()
        self.conn = None
        self.process = None


def _die_with_parent(parent: int) -> None:
    """Ask Linux to SIGKILL this process when the supervisor dies, so no orphan runs on."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return  # not Linux: the closed pipe still ends the loop after the current job
    if os.getppid() != parent:  # the supervisor died before the request took effect
        os._exit(1)


def serve(
    conn: Connection, job_type: JobType, settings: Settings, parent: int | None = None
) -> None:
    """Entry point of the engine process: load the engine once, then run jobs until told to stop."""
    if parent is not None:
        _die_with_parent(parent)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s engine[%(process)d] %(message)s")
    for name in ("GLOG_minloglevel", "TF_CPP_MIN_LOG_LEVEL"):  # mediapipe's C++ chatter
        os.environ.setdefault(name, "2")
    engine: Engine | None = None
    unavailable: str | None = None
    try:
        engine = create_engine(job_type, settings)
        engine.load()
        conn.send(("ready", engine.name))
    except C3Error as exc:
        unavailable = str(exc)
        conn.send(("ready", None))
    except Exception as exc:  # a broken model install must not kill the worker
        log.exception("loading the %s engine failed", job_type.value)
        unavailable = f"the {job_type.value} engine failed to load: {type(exc).__name__}: {exc}"
        conn.send(("ready", None))
    while True:
        try:
            job = conn.recv()
        except (EOFError, KeyboardInterrupt):
            return
        if job is None:
            return
        kind, payload = _run_one(engine, unavailable, job, settings, conn)
        conn.send((kind, run_id(job), payload))


def _run_one(
    engine: Engine | None,
    unavailable: str | None,
    job: dict[str, Any],
    settings: Settings,
    conn: Connection,
) -> tuple[str, Any]:
    workdir = run_workdir(settings, job)
    try:
        if engine is None:
            raise JobError(unavailable or "no engine")
        workdir.mkdir(parents=True, exist_ok=True)
        engine_job = EngineJob(
            id=job["id"],
            type=JobType(job["type"]),
            params=job["params"],
            inputs=_fetch_inputs(job, workdir, settings),
            workdir=workdir,
            progress=_progress_sender(conn, run_id(job)),
        )
        return "done", _store(engine.run(engine_job), job, settings)
    except JobError as exc:
        return "failed", str(exc)
    except Exception as exc:
        log.exception("job %s failed in the engine", job["id"])
        return "failed", f"internal error in the {job['type']} engine: {type(exc).__name__}: {exc}"
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _fetch_inputs(job: dict[str, Any], workdir: Path, settings: Settings) -> dict[str, Path]:
    fields = {
        name: kind
        for name, kind in INPUT_FIELDS[JobType(job["type"])].items()
        if job["params"].get(name)
    }
    if not fields:
        return {}
    from c3render.fetch import fetch_input

    storage = _storage(settings)
    inputs_dir = workdir / "inputs"
    inputs_dir.mkdir(exist_ok=True)
    return {
        name: fetch_input(job["params"][name], inputs_dir, name, kind, settings, storage)  # type: ignore[arg-type]
        for name, kind in fields.items()
    }


def _store(result: EngineResult, job: dict[str, Any], settings: Settings) -> dict[str, Any]:
    stored: dict[str, Any] = {"extra": result.extra}
    if result.text is not None:
        stored["text"] = result.text
    if result.file is not None:
        key = f"results/{job['id']}/{result.file.name}"
        media_type = result.media_type or "application/octet-stream"
        _storage(settings).put_file(key, result.file, media_type)
        stored.update(file_key=key, media_type=media_type)
    return stored


_STORAGE: list[Storage] = []


def _storage(settings: Settings) -> Storage:
    """This process's storage backend, created on first use."""
    if not _STORAGE:
        from c3render.storage import create_storage

        _STORAGE.append(create_storage(settings))
    return _STORAGE[0]


def run_workdir(settings: Settings, job: dict[str, Any]) -> Path:
    """The private directory of one run of a job (inputs, outputs), removed when it ends."""
    return Path(settings.data_dir) / "work" / f"{job['id']}-{job['attempt']}"


def run_id(job: dict[str, Any]) -> str:
    """``"{job id}/{attempt}"``: tags every message about one run of a job."""
    return f"{job['id']}/{job['attempt']}"


def _progress_sender(conn: Connection, run: str) -> Any:
    last = [0.0]

    def report(fraction: float) -> None:
        now = time.monotonic()
        if now - last[0] >= PROGRESS_INTERVAL:
            last[0] = now
            conn.send(("progress", run, float(fraction)))

    return report
