"""Running the service: ``c3-render up``, ``api``, ``worker`` and ``webhook-secret``."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import time

import requests

from c3render.cli.launcher import (
    api_command,
    child_env,
    redis_reachable,
    start_redis,
    stop_all,
)
from c3render.cli.output import console
from c3render.delivery.signing import signing_secret
from c3render.errors import C3Error
from c3render.job import JobType
from c3render.settings import Settings, load_settings, require_strong_secret
from c3render.settings.logs import configure_logging
from c3render.worker import Worker


def cmd_api(args: argparse.Namespace) -> int:
    """Serve the API in the foreground (replaces this process with the server)."""
    settings = load_settings()
    require_strong_secret(settings)
    command = api_command(settings)
    os.execv(command[0], command)
    return 0  # not reached


def cmd_worker(args: argparse.Namespace) -> int:
    """Run a worker until SIGTERM/SIGINT."""
    try:
        types = tuple(JobType(name.strip()) for name in args.types.split(",") if name.strip())
    except ValueError as exc:
        raise C3Error(f"--types: {exc}") from None
    settings = load_settings()
    configure_logging(settings, "worker")
    require_strong_secret(settings)
    logging.getLogger(__name__).info("worker: Redis at %s", settings.redis_display)
    Worker(settings, types, max(1, args.concurrency), preload=args.preload).run()
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    """Start everything for local use; Ctrl-C stops it all."""
    settings = load_settings()
    require_strong_secret(settings)
    if "api_host" not in settings.model_fields_set:  # local use: not on every interface
        settings = settings.model_copy(update={"api_host": "127.0.0.1"})
    processes: list[subprocess.Popen[bytes]] = []
    redis_process = None
    # Ctrl-C, or a supervisor stopping `up`: from here on, whenever it comes (while Redis,
    # the worker or the API is still starting too), everything started so far is stopped
    _interrupt_on(signal.SIGINT, signal.SIGTERM)
    try:
        if redis_reachable(settings.redis_dsn):
            console.print(f"Redis: using the server at {settings.redis_display}")
        elif settings.redis_url:
            raise C3Error(f"no Redis answers at the configured {settings.redis_display}")
        else:
            redis_process = start_redis(settings)
            console.print(f"Redis: started redis-server (append-only) in {settings.data_dir}/redis")
        env = child_env(settings)
        worker_cmd = [sys.executable, "-m", "c3render.cli", "worker", "--preload",
                      "--concurrency", str(args.concurrency)]
        # own sessions: Ctrl-C reaches only `up`, which then stops the others in order
        processes.append(subprocess.Popen(worker_cmd, env=env, start_new_session=True))
        processes.append(subprocess.Popen(api_command(settings), env=env, start_new_session=True))
        if not _wait_for_api(settings, processes):
            _print_ready(settings)
            while all(process.poll() is None for process in processes):
                time.sleep(0.5)
            console.print("[red]a process of the service exited; stopping the rest[/red]")
    except KeyboardInterrupt:
        console.print("stopping …")
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stop_all(list(reversed(processes)) + ([redis_process] if redis_process else []))
    return 0


def _interrupt_on(*signals: signal.Signals) -> None:
    """Turn ``signals`` into KeyboardInterrupt, even when the shell that started us ignored
    SIGINT (as a background job's is)."""
    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    for signum in signals:
        signal.signal(signum, interrupt)


def cmd_webhook_secret(args: argparse.Namespace) -> int:
    """Print the Standard Webhooks secret of this installation."""
    print(signing_secret(load_settings()))
    return 0


def _wait_for_api(settings: Settings, processes: list[subprocess.Popen[bytes]]) -> bool:
    url = f"http://127.0.0.1:{settings.api_port}/"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if any(process.poll() is not None for process in processes):
            return True
        try:
            requests.get(url, timeout=1)
            return False
        except requests.RequestException:
            time.sleep(0.2)
    return True


def _print_ready(settings: Settings) -> None:
    base = f"http://localhost:{settings.api_port}"
    console.print(f"[green]C3 Render is up[/green] at {base}  (Ctrl-C stops it)")
    console.print(f"  try: curl -s -X POST {base}/csm -H 'Content-Type: application/json' "
                  "-d '{\"text\": \"Hello from C3 Render.\"}'")
