"""Showing a job as it goes: a live rich progress bar (queue position, progress, the last
log line) on a terminal, a plain line per change otherwise, nothing with ``--json``."""

from __future__ import annotations

from types import TracebackType

from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)

from c3render.cli.events import JobView
from c3render.cli.output import console

PLAIN_STEP = 0.1
"""Without a terminal, a progress line is printed each time the job passes another 10 %."""


def describe(view: JobView) -> str:
    """One short line: the status, the queue position or the last log message."""
    if view.status == "queued" and view.queue_position is not None:
        ahead = view.queue_position
        line = f"queued, {ahead} job{'s' if ahead != 1 else ''} ahead"
        return line if view.starts_in_s is None else f"{line}, starts in ~{view.starts_in_s:.0f} s"
    if view.status == "running" and view.message:
        return f"running: {view.message[:60]}"
    return view.status


class Watcher:
    """A context manager whose ``update(view)`` is the client's ``on_progress`` callback."""

    def __init__(self, job_id: str, quiet: bool = False) -> None:
        self.job_id = job_id
        self.quiet = quiet
        self.live = console.is_terminal and not quiet
        self.bar = Progress(
            SpinnerColumn(), TextColumn("[bold]{task.fields[job]}[/bold]"),
            TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
            TimeElapsedColumn(), console=console, transient=False,
        )
        self.task = self.bar.add_task("submitted", total=1.0, job=job_id[:8])
        self._last_line = ""
        self._last_step = -1

    def __enter__(self) -> Watcher:
        if self.live:
            self.bar.start()
        elif not self.quiet:
            console.print(f"job {self.job_id} submitted", highlight=False)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self.live:
            self.bar.stop()

    def update(self, view: JobView) -> None:
        """Show ``view``."""
        if self.quiet:
            return
        line = describe(view)
        if self.live:
            self.bar.update(self.task, completed=view.progress, description=line)
            return
        step = int(view.progress / PLAIN_STEP)
        status_line = line if not line.startswith("running:") else "running"
        if status_line != self._last_line or step > self._last_step:
            self._last_line, self._last_step = status_line, step
            console.print(f"{view.status} {view.progress:.0%}" if view.status == "running"
                          else status_line, highlight=False)
