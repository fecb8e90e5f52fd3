"""How every process logs: plain text (the default) or, with ``C3_LOG_FORMAT=json``, one
JSON object per line for a log collector.

``configure_logging(settings, process)`` sets up the root logger once at the start of the
API (``wsgi.py``), a worker (``c3-render worker``) and each engine process. A JSON line
carries ``time`` (ISO 8601, UTC), ``level``, ``logger``, ``message``, ``process`` (api,
worker, engine), ``pid``, any ``extra`` fields, ``exc_info`` for a traceback, and
``job_id`` on every line logged while a job is handled: ``job_logging(job_id)`` marks that
stretch in a ``contextvars`` variable, so each slot thread and each API request has its
own, and a filter on the handler copies it onto every record — a library's lines too.
An engine process runs one job at a time, so there the job also holds process-wide
(``process_wide=True``): lines of the engine's helper threads name it as well. In an
engine process ``capture_native_output`` turns what native libraries write straight to
file descriptor 2 (TFLite, absl, onnxruntime) into JSON lines of logger ``native``.
``server_log_config`` is the same format for the API server's own loggers (granian's or
gunicorn's start-up and access lines), handed to it as a ``dictConfig`` file.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TextIO

from pythonjsonlogger.json import JsonFormatter

from c3render.settings import Settings

TEXT_FORMATS = {
    "api": "%(asctime)s api %(levelname)s %(name)s: %(message)s",
    "worker": "%(asctime)s worker %(message)s",
    "engine": "%(asctime)s engine[%(process)d] %(message)s",
}
"""The text formats each process has always used (the worker's and engine's unchanged)."""

_job_id: ContextVar[str | None] = ContextVar("c3_log_job_id", default=None)
_process_job: list[str | None] = [None]
"""The job of an engine process (one at a time): the fallback for threads and native lines."""
_OUR_HANDLER = "_c3render"
NATIVE_LEVELS = {"I": logging.INFO, "W": logging.WARNING, "E": logging.ERROR,
                 "F": logging.CRITICAL}
"""A native line's level from its first letter (glog's I/W/E/F, absl's INFO:/WARNING:)."""


class JobIdFilter(logging.Filter):
    """Puts the id of the job being handled (or None) on each record as ``job_id``."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Always passes the record on, tagged."""
        if getattr(record, "job_id", None) is None:
            record.job_id = current_job_id()
        return True


class JsonLineFormatter(JsonFormatter):  # type: ignore[misc]
    """python-json-logger's formatter with our field names; ``job_id`` only when set."""

    def __init__(self, process: str = "c3render") -> None:
        super().__init__(
            ["levelname", "name", "message"],
            rename_fields={"levelname": "level", "name": "logger"},
            static_fields={"process": process},
            timestamp="time",
        )

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        """The fields of one line (see the module docstring)."""
        super().add_fields(log_data, record, message_dict)
        log_data["pid"] = record.process
        if log_data.get("job_id") is None:
            log_data.pop("job_id", None)


def current_job_id() -> str | None:
    """The id of the job whose lines are being logged in this context, or None."""
    return _job_id.get() or _process_job[0]


@contextmanager
def job_logging(job_id: str, process_wide: bool = False) -> Iterator[None]:
    """Every line logged inside the block (in this thread or context) names ``job_id``;
    ``process_wide``: in every thread of the process (an engine process: one job at a time)."""
    token = _job_id.set(job_id)
    if process_wide:
        _process_job[0] = job_id
    try:
        yield
    finally:
        _job_id.reset(token)
        if process_wide:
            flush_native_output()  # what native code wrote during the job still names it
            _process_job[0] = None


def bind_job(job_id: str | None) -> None:
    """Name ``job_id`` on the lines logged from now on in this context (None: no job);
    for code that cannot wrap a block in ``job_logging``."""
    _job_id.set(job_id)


def make_formatter(settings: Settings, process: str) -> logging.Formatter:
    """The formatter of ``process``'s lines under ``C3_LOG_FORMAT``."""
    if settings.log_format == "json":
        return JsonLineFormatter(process)
    return logging.Formatter(TEXT_FORMATS.get(process, TEXT_FORMATS["api"]))


def configure_logging(
    settings: Settings, process: str, level: int = logging.INFO, native: bool = False
) -> None:
    """Send the root logger's records (``level`` and up) to stderr in the chosen format;
    ``native``: in JSON, wrap native libraries' raw stderr lines too (``capture_native_output``).

    Safe to call again: the handler it installed before is replaced, others are kept.
    """
    stream = capture_native_output() if native and settings.log_format == "json" else sys.stderr
    handler = logging.StreamHandler(stream)
    setattr(handler, _OUR_HANDLER, True)
    handler.addFilter(JobIdFilter())
    handler.setFormatter(make_formatter(settings, process))
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _OUR_HANDLER, False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    if stream is not sys.stderr:
        logging.getLogger("native").addHandler(handler)
    logging.captureWarnings(True)  # Python warnings become lines of the same format


def capture_native_output() -> TextIO:
    """Point file descriptor 2 at a pipe whose lines become records of logger ``native``;
    the stream of the original stderr, for the handler that writes every line.

    Native code (and anything else writing to fd 2, Python's own ``sys.stderr`` included)
    then no longer breaks the one-JSON-object-per-line format.
    """
    original = os.fdopen(os.dup(2), "w", buffering=1)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)
    native = logging.getLogger("native")
    native.propagate = False  # its lines are not the job's log (/status?logs=1), only output
    threading.Thread(target=_forward_native, args=(read_end, native), name="native-stderr",
                     daemon=True).start()
    _native_marks.capturing = True
    return original


class _NativeMarks:
    """Marks written through fd 2 after the native lines; the reader counts those it saw."""

    def __init__(self) -> None:
        self.capturing = False
        self.sent = 0
        self.seen = 0
        self.changed = threading.Condition()


_native_marks = _NativeMarks()
_MARK = "\x00c3render-mark "


def flush_native_output(timeout: float = 0.5) -> None:
    """Wait (up to ``timeout``) until every line written to fd 2 so far has been logged,
    so the lines of a job are logged while its id is still set. No-op without capture."""
    marks = _native_marks
    if not marks.capturing:
        return
    with marks.changed:
        marks.sent += 1
        wanted = marks.sent
    os.write(2, f"{_MARK}{wanted}\n".encode())
    with marks.changed:
        marks.changed.wait_for(lambda: marks.seen >= wanted, timeout)


def _forward_native(read_end: int, native: logging.Logger) -> None:
    with os.fdopen(read_end, "r", errors="replace") as lines:
        for line in lines:
            text = line.rstrip()
            if text.startswith(_MARK):
                with _native_marks.changed:
                    _native_marks.seen = max(_native_marks.seen, int(text[len(_MARK):] or 0))
                    _native_marks.changed.notify_all()
            elif text:
                native.log(NATIVE_LEVELS.get(text[0], logging.WARNING), text)


def server_log_config(process: str = "api") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for the API server's own loggers, in JSON lines."""
    handler = {"class": "logging.StreamHandler", "formatter": "json",
               "filters": ["job"], "stream": "ext://sys.stderr"}
    own = {"handlers": ["console"], "level": "INFO", "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"job": {"()": f"{__name__}.JobIdFilter"}},
        "formatters": {"json": {"()": f"{__name__}.JsonLineFormatter", "process": process}},
        "handlers": {"console": handler},
        "loggers": {name: dict(own) for name in (
            "_granian", "granian.access", "gunicorn.error", "gunicorn.access")},
        # no root handler here (gunicorn's default has one): the app's own lines reach the
        # root logger that ``wsgi.py`` sets up, once
        "root": {"handlers": [], "level": "INFO"},
    }


def write_server_log_config(settings: Settings) -> Path:
    """Write ``server_log_config()`` under the data directory; its path for the server."""
    path = Path(settings.data_dir).resolve() / "server-logging.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(server_log_config(), indent=1))
    return path
