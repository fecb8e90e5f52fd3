"""How every process logs: plain text (the default) or, with ``C3_LOG_FORMAT=json``, one
JSON object per line for a log collector.

``configure_logging(settings, process)`` sets up the root logger once at the start of the
API (``wsgi.py``), a worker (``c3-render worker``) and each engine process. A JSON line
carries ``time`` (ISO 8601, UTC), ``level``, ``logger``, ``message``, ``process`` (api,
worker, engine), ``pid``, any ``extra`` fields, ``exc_info`` for a traceback, and
``job_id`` on every line logged while a job is handled: ``job_logging(job_id)`` marks that
stretch in a ``contextvars`` variable, so each slot thread and each API request has its
own, and a filter on the handler copies it onto every record — a library's lines too.
``server_log_config`` is the same format for the API server's own loggers (granian's or
gunicorn's start-up and access lines), handed to it as a ``dictConfig`` file.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from c3render.settings import Settings

TEXT_FORMATS = {
    "api": "%(asctime)s api %(levelname)s %(name)s: %(message)s",
    "worker": "%(asctime)s worker %(message)s",
    "engine": "%(asctime)s engine[%(process)d] %(message)s",
}
"""The text formats each process has always used (the worker's and engine's unchanged)."""

_job_id: ContextVar[str | None] = ContextVar("c3_log_job_id", default=None)
_OUR_HANDLER = "_c3render"


class JobIdFilter(logging.Filter):
    """Puts the id of the job being handled (or None) on each record as ``job_id``."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Always passes the record on, tagged."""
        if getattr(record, "job_id", None) is None:
            record.job_id = _job_id.get()
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
    return _job_id.get()


@contextmanager
def job_logging(job_id: str) -> Iterator[None]:
    """Every line logged inside the block (in this thread or context) names ``job_id``."""
    token = _job_id.set(job_id)
    try:
        yield
    finally:
        _job_id.reset(token)


def bind_job(job_id: str | None) -> None:
    """Name ``job_id`` on the lines logged from now on in this context (None: no job);
    for code that cannot wrap a block in ``job_logging``."""
    _job_id.set(job_id)


def make_formatter(settings: Settings, process: str) -> logging.Formatter:
    """The formatter of ``process``'s lines under ``C3_LOG_FORMAT``."""
    if settings.log_format == "json":
        return JsonLineFormatter(process)
    return logging.Formatter(TEXT_FORMATS.get(process, TEXT_FORMATS["api"]))


def configure_logging(settings: Settings, process: str, level: int = logging.INFO) -> None:
    """Send the root logger's records (``level`` and up) to stderr in the chosen format.

    Safe to call again: the handler it installed before is replaced, others are kept.
    """
    handler = logging.StreamHandler(sys.stderr)
    setattr(handler, _OUR_HANDLER, True)
    handler.addFilter(JobIdFilter())
    handler.setFormatter(make_formatter(settings, process))
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _OUR_HANDLER, False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)  # Python warnings become lines of the same format


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
