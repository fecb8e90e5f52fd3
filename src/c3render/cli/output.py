"""What the commands write: people-facing lines on stderr, results on stdout, and the exit
codes every client command answers with (documented in the README)."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console

console = Console(stderr=True, soft_wrap=True)

EXIT_OK = 0
"""The command did what it said (the job succeeded)."""
EXIT_JOB_FAILED = 1
"""The job ended failed."""
EXIT_USAGE = 2
"""Bad arguments, or the API refused the request (a 4xx answer)."""
EXIT_UNREACHABLE = 3
"""No API answers at the URL, or it answered 5xx (Redis down, ...)."""
EXIT_JOB_STOPPED = 4
"""The job was cancelled or timed out."""
EXIT_INTERRUPTED = 130
"""Ctrl-C."""


def exit_code(status: str) -> int:
    """The exit code for a job that ended with ``status``."""
    if status == "success":
        return EXIT_OK
    if status == "failed":
        return EXIT_JOB_FAILED
    return EXIT_JOB_STOPPED


def print_json(doc: Any) -> None:
    """A document on stdout, as indented JSON."""
    print(json.dumps(doc, indent=2, ensure_ascii=False))
