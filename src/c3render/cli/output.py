"""The console the commands write people-facing lines to (stderr; results go to stdout)."""

from __future__ import annotations

from rich.console import Console

console = Console(stderr=True, soft_wrap=True)
