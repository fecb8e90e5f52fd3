"""A small process that stops a job's ComfyUI prompt when the engine process dies.

Cancel and timeout end a run by SIGKILLing its engine process, so nothing inside that
process can tell ComfyUI to stop; the GPU would go on rendering a video nobody will fetch.
The engine therefore starts this guard (``python -m c3render.engines.portrait.comfy_guard
URL``, in its own session so a signal to the engine's group does not reach it) and tells it
over the guard's stdin what it does, one line each:

- ``prompt <id>``: the prompt was queued;
- ``done``: the prompt finished and its outputs were fetched.

When stdin closes (the engine exited, failed or was killed) without ``done``, the guard
removes the prompt from the queue (``POST /queue {"delete": [id]}``, for a prompt still
waiting) and interrupts it (``POST /interrupt {"prompt_id": id}``; ComfyUI ignores an
interrupt whose id is not the running prompt's, so another job's prompt is never stopped).
Either way it then deletes the prompt's history entry (``POST /history {"delete": [id]}``)
and exits. Stock ComfyUI has no route that deletes uploaded inputs or rendered outputs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

import requests

HTTP_TIMEOUT = 10.0
PACKAGE_ROOT = Path(__file__).resolve().parents[3]
"""The folder holding this ``c3render`` package: the guard runs the same code as the engine."""


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_ROOT), env.get("PYTHONPATH")]))
    return env


class PromptGuard:
    """The engine's handle on its guard process."""

    def __init__(self, base_url: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "c3render.engines.portrait.comfy_guard", base_url],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True, text=True, env=_environment(),
        )

    def _say(self, line: str) -> None:
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(line + "\n")
            self.process.stdin.flush()
        except (BrokenPipeError, ValueError):
            pass

    def watch(self, prompt_id: str) -> None:
        """Tell the guard the prompt to stop should this process die."""
        self._say(f"prompt {prompt_id}")

    def close(self, done: bool) -> None:
        """Hand over: ``done`` when the outputs are fetched, else the prompt is stopped."""
        if done:
            self._say("done")
        assert self.process.stdin is not None
        try:
            self.process.stdin.close()
        except BrokenPipeError:
            pass


def stop_prompt(base_url: str, prompt_id: str, running: bool) -> None:
    """Drop a prompt from the queue and interrupt it if running; forget its history."""
    session = requests.Session()
    calls: list[tuple[str, dict[str, Any]]] = [
        ("/queue", {"delete": [prompt_id]}), ("/interrupt", {"prompt_id": prompt_id})]
    if not running:
        calls = []
    calls.append(("/history", {"delete": [prompt_id]}))
    for path, body in calls:
        try:
            session.post(base_url.rstrip("/") + path, json=body, timeout=HTTP_TIMEOUT)
        except requests.RequestException:
            pass


def guard(base_url: str, lines: IO[str]) -> None:
    """Read the engine's lines until stdin closes, then clean up on the server."""
    prompt_id, done = None, False
    for line in lines:
        word, _, rest = line.strip().partition(" ")
        if word == "prompt":
            prompt_id = rest
        elif word == "done":
            done = True
    if prompt_id:
        stop_prompt(base_url, prompt_id, running=not done)


if __name__ == "__main__":
    # an engine process ignores SIGTERM and SIGINT (its supervisor stops it) and a child
    # inherits that: the guard takes the defaults back, so a plain kill still ends it
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    guard(sys.argv[1], sys.stdin)
