"""Run parts of the service as real processes for tests: workers, the API server, `up`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.servers import wait_for_port

ROOT = Path(__file__).resolve().parents[2]
FIXTURE_ENGINES = (
    "csm=tests.fixtures.engines:scripted_csm,analyze=tests.fixtures.engines:scripted_analyze"
)


def service_env(base: dict[str, str], **extra: str) -> dict[str, str]:
    """The test process's environment plus ``base`` and ``extra``, with the repo importable."""
    env = dict(os.environ)
    env.update(base)
    env.update(extra)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "src"), env.get("PYTHONPATH", "")])
    env["PYTHONUNBUFFERED"] = "1"
    return env


@contextmanager
def worker_process(
    env: dict[str, str], types: str = "csm,analyze", concurrency: int = 1, log: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """A ``c3-render worker`` subprocess; SIGKILLed at the end if still running."""
    out = open(log, "ab") if log else subprocess.DEVNULL
    process = subprocess.Popen(
        [sys.executable, "-m", "c3render.cli", "worker", "--types", types,
         "--concurrency", str(concurrency)],
        env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        if log:
            out.close()  # type: ignore[union-attr]


@contextmanager
def api_and_worker(
    env: dict[str, str], types: str, log: Path
) -> Iterator[str]:
    """A real ``c3-render api`` server (one process, on ``env``'s API_PORT) and a worker of
    ``types`` behind it; yields the API's base URL, stops both at the end."""
    port = int(env["API_PORT"])
    server = subprocess.Popen([sys.executable, "-m", "c3render.cli", "api"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with worker_process(env, types=types, log=log):
        try:
            wait_for_port(port, 30)
            yield f"http://127.0.0.1:{port}"
        finally:
            server.terminate()
            server.wait(timeout=20)


def wait_until(predicate: Callable[[], object], timeout: float = 20.0, interval: float = 0.1) -> object:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")
