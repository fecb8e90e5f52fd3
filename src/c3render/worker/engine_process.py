"""The engine process: one per job type and slot, models loaded once and kept.

The slot talks to it over a ``multiprocessing`` pipe with the typed messages of
``messages.py``. The process loads its engine, answers ``Ready``, then runs each
``RunJob`` (or ``RunBatch``: several jobs, one outcome each) through the ``JobPipeline``
(fetch → engine → store) until ``Stop`` or a closed pipe. To cancel or time out a job the
slot first asks the run to stop (``StopRun``, honoured at the run's next progress report,
``engine_inbox.py``), so the models stay loaded; it kills the process when the run has not
stopped within ``C3_STOP_GRACE_SECONDS`` (a job of a batch is dropped instead, see
``batch_run.py``).
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import resource
import signal
import threading
import time
from multiprocessing.connection import Connection

from c3render.engines.base import Engine
from c3render.engines.registry import create_engine
from c3render.errors import C3Error, EngineCrashed
from c3render.job import JobType
from c3render.settings import Settings
from c3render.settings.logs import configure_logging, job_logging
from c3render.worker.engine_inbox import Inbox
from c3render.worker.messages import (
    Done,
    Failed,
    FromEngine,
    LogLine,
    Ready,
    RunBatch,
    RunJob,
    Stop,
    Stopped,
    StopRun,
)
from c3render.worker.pipeline import JobPipeline
from c3render.worker.run_audio import AudioSender

log = logging.getLogger(__name__)
_CONTEXT = multiprocessing.get_context("spawn")
PR_SET_PDEATHSIG = 1
SECRET_ENVIRONMENT = ("C3_API_KEYS", "C3_REDIS_URL", "REDIS_URL", "C3_WEBHOOK_SECRET",
                      "FLASK_SECRET_KEY")
"""Variables an engine process drops from its environment (its Settings copy has what it needs)."""
STORAGE_ENVIRONMENT = ("C3_S3_ACCESS_KEY_ID", "C3_S3_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID",
                       "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
"""Dropped too with local storage; with S3 the engine uploads results and needs them."""


def engine_settings(settings: Settings) -> Settings:
    """The settings an engine process gets: no API keys, Redis URL or webhook secret.

    It keeps what storing a result and recognising our own links need: the link-signing
    key (as ``FLASK_SECRET_KEY``, or the data dir's generated one) and the S3 credentials.
    """
    update: dict[str, object] = {"api_keys": [], "webhook_secret": None, "redis_url": None}
    if settings.storage == "local":
        update["flask_secret_key"] = settings.secret_key.decode()
        update.update(s3_access_key_id=None, s3_secret_access_key=None)
    else:
        update["flask_secret_key"] = None
    copy = settings.model_copy(update=update)
    for cached in set(vars(copy)) - set(type(copy).model_fields):
        del vars(copy)[cached]  # cached properties (redis_dsn, key_names) held the originals
    return copy


def _confine(settings: Settings) -> None:
    """Drop secrets from the environment and cap the address space (RLIMIT_AS) on a CPU."""
    dropped = SECRET_ENVIRONMENT + (STORAGE_ENVIRONMENT if settings.storage == "local" else ())
    for name in dropped:
        os.environ.pop(name, None)
    limit = settings.engine_memory_mb * 1024 * 1024
    if not limit or not settings.device.startswith("cpu"):
        return  # CUDA reserves far more address space than it uses: no RLIMIT_AS there
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


class EngineHandle:
    """The slot's side of one engine process (started lazily, restarted after a kill)."""

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
            args=(child, self.job_type, engine_settings(self.settings), os.getpid()),
            name=f"c3-engine-{self.job_type.value}",
            daemon=True,
        )
        self.process.start()
        child.close()
        self.conn = parent

    def send(self, job: RunJob | RunBatch) -> None:
        """Hand a job (or a batch) to the process (starting it first if needed)."""
        self.start()
        assert self.conn is not None
        self.last_used = time.monotonic()
        self.conn.send(job)

    def poll(self, timeout: float) -> FromEngine | None:
        """The next message, or None after ``timeout``; ``EngineCrashed`` if the process died."""
        assert self.conn is not None and self.process is not None
        try:
            if self.conn.poll(timeout):
                message: FromEngine = self.conn.recv()
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

    def stop_run(self, run_id: str, grace: float) -> bool:
        """Ask the process to stop ``run_id`` and wait up to ``grace`` seconds for the run's
        end (``Stopped``, or a ``Done``/``Failed`` that came first: either is dropped);
        kill the process if it does not come. True when the process, models loaded, is kept."""
        deadline = time.monotonic() + grace
        if grace > 0 and self.conn is not None and self.alive:
            try:
                self.conn.send(StopRun(run_id))
                while (left := deadline - time.monotonic()) > 0:
                    message = self.poll(left)
                    if isinstance(message, (Stopped, Done, Failed)) and message.run_id == run_id:
                        return True
            except (EngineCrashed, OSError):
                pass  # it died meanwhile: nothing left to stop
        self.kill()
        return False

    def kill(self) -> None:
        """Stop the process at once; the next job starts a fresh one."""
        if self.process is not None and self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=5)
        self.close()

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the process to exit, killing it if it does not within ``timeout``."""
        if self.conn is not None and self.alive:
            try:
                self.conn.send(Stop())
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
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return  # not Linux: the closed pipe still ends the loop after the current job
    if os.getppid() != parent:  # the supervisor died before the request took effect
        os._exit(1)


def _ignore_stop_signals() -> None:
    """Leave SIGTERM and SIGINT to the supervisor. systemd (KillMode=control-group), ``up``
    and Ctrl-C in a terminal signal every process of the worker at once; the supervisor then
    lets the running job finish (or hands it back) and stops this process itself (``Stop``,
    else SIGKILL). Had the signal killed it, the job would fail as an engine crash."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _load(job_type: JobType, settings: Settings) -> tuple[Engine | None, str | None]:
    """The loaded engine, or None and why it is unavailable (a broken install never kills
    the worker: its jobs fail with the reason instead)."""
    try:
        engine = create_engine(job_type, settings)
        engine.load()
        return engine, None
    except C3Error as exc:
        return None, str(exc)
    except Exception as exc:
        log.exception("loading the %s engine failed", job_type.value)
        return None, f"the {job_type.value} engine failed to load: {type(exc).__name__}: {exc}"


def serve(
    conn: Connection, job_type: JobType, settings: Settings, parent: int | None = None
) -> None:
    """Entry point of the engine process: load the engine once, then run jobs until told to stop."""
    if parent is not None:
        _die_with_parent(parent)
        _ignore_stop_signals()
        _confine(settings)
    configure_logging(settings, "engine", native=True)
    for name in ("GLOG_minloglevel", "TF_CPP_MIN_LOG_LEVEL"):  # mediapipe's C++ chatter
        os.environ.setdefault(name, "2")
    engine, unavailable = _load(job_type, settings)
    sender = RunSender(conn)
    logging.getLogger().addHandler(sender)
    sender.send(Ready(engine.name if engine else None))
    pipeline = JobPipeline(engine, unavailable, settings)
    inbox = Inbox(conn)
    while True:
        try:
            job = inbox.next()
        except KeyboardInterrupt:
            return
        if isinstance(job, Stop):
            return
        if isinstance(job, RunBatch):
            _run_batch(pipeline, job, sender, inbox)
            continue
        sender.run_id = job.run_id
        audio = AudioSender(sender.send, job.run_id)
        with job_logging(job.id, process_wide=True):
            outcome = pipeline.run(job, inbox.progress_reporter(sender.send, job.run_id), audio)
        sender.run_id = None
        inbox.forget(job.run_id)
        sender.send(outcome)


def _run_batch(pipeline: JobPipeline, batch: RunBatch, sender: RunSender, inbox: Inbox) -> None:
    """Run a batch; each job's outcome is sent as soon as it is known. Log records of the
    batch belong to all of its jobs still running, and go to each of them."""
    sender.batch_ids = [job.run_id for job in batch.jobs]
    try:
        for outcome in pipeline.run_batch(
                batch, lambda job: inbox.progress_reporter(sender.send, job.run_id)):
            sender.send(outcome)
            sender.batch_ids = [run_id for run_id in sender.batch_ids if run_id != outcome.run_id]
    finally:
        sender.batch_ids = []


class RunSender(logging.Handler):
    """Sends messages to the slot, one at a time (engines log from their own threads), and
    forwards every log record of a run (INFO and up) as a ``LogLine``."""

    def __init__(self, conn: Connection) -> None:
        super().__init__(logging.INFO)
        self.conn = conn
        self.run_id: str | None = None
        self.batch_ids: list[str] = []
        """The runs of the batch being run, when it is one."""
        self.sending = threading.Lock()

    def send(self, message: FromEngine) -> None:
        """Send one message to the slot."""
        with self.sending:
            self.conn.send(message)

    def emit(self, record: logging.LogRecord) -> None:
        """Forward a log record of the current run, or of each run of the current batch
        (records between runs are not sent)."""
        run_ids = [self.run_id] if self.run_id is not None else list(self.batch_ids)
        try:
            for run_id in run_ids:
                self.send(LogLine(run_id, record.created, record.levelname, record.getMessage()))
        except Exception:
            self.handleError(record)
