"""Starting the processes of a local installation: redis-server, the API server, a worker."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import redis

from c3render.errors import ConfigError
from c3render.settings import Settings
from c3render.settings.logs import write_server_log_config

WSGI_APP = "c3render.wsgi:app"


def api_command(settings: Settings) -> list[str]:
    """The command line of the production API server chosen by ``C3_API_SERVER``.

    With ``C3_LOG_FORMAT=json`` the server's own lines (start-up, access) are JSON too: it
    gets a ``dictConfig`` file written under the data directory.
    """
    host, port = settings.api_host, str(settings.api_port)
    workers, threads = str(settings.api_workers), str(settings.api_threads)
    json_logs = settings.log_format == "json"
    if settings.api_server == "granian":
        log_options = ["--log-config", str(write_server_log_config(settings))] if json_logs else []
        return [
            sys.executable, "-m", "granian", "--interface", "wsgi", "--host", host,
            "--port", port, "--workers", workers, "--blocking-threads", threads,
            "--no-ws", *log_options, WSGI_APP,
        ]
    if json_logs:
        log_options = ["--log-config-json", str(write_server_log_config(settings))]
    else:
        log_options = ["--access-logfile", "-"]
    return [
        sys.executable, "-m", "gunicorn", "--workers", workers, "--threads", threads,
        "--bind", f"{host}:{port}", *log_options, WSGI_APP,
    ]


def redis_reachable(url: str) -> bool:
    """True when a Redis server answers PING at ``url``."""
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def start_redis(settings: Settings) -> subprocess.Popen[bytes]:
    """Start our own ``redis-server`` with an append-only file under the data directory."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise ConfigError(
            f"no Redis answers at {settings.redis_display} and redis-server is not installed; "
            "run scripts/setup.sh or set C3_REDIS_URL"
        )
    directory = Path(settings.data_dir, "redis").resolve()
    directory.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [
            binary, "--port", str(settings.redis_port), "--bind", "127.0.0.1",
            "--dir", str(directory), "--appendonly", "yes", "--appendfsync", "everysec",
            "--save", "", "--logfile", str(directory / "redis.log"),
        ],
        start_new_session=True,
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if redis_reachable(settings.redis_dsn):
            return process
        if process.poll() is not None:
            break
        time.sleep(0.1)
    process.kill()
    raise ConfigError(f"redis-server did not start; see {directory / 'redis.log'}")


def child_env(settings: Settings) -> dict[str, str]:
    """Environment for child processes: the same settings, with Redis pinned."""
    env = dict(os.environ)
    env["C3_REDIS_URL"] = settings.redis_dsn
    env["C3_DATA_DIR"] = str(Path(settings.data_dir).resolve())
    env["API_HOST"] = settings.api_host  # where the server really listens (`up`: loopback)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def stop_all(processes: list[subprocess.Popen[bytes]], timeout: float = 30.0) -> None:
    """SIGTERM each process's whole group (in the order given) and wait; SIGKILL stragglers.

    Each child runs in its own session, so its group is its pid: a server's own worker
    processes (granian's, gunicorn's) get the signal too and cannot outlive it.
    """
    for process in processes:
        _signal_group(process, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        _signal_group(process, signal.SIGKILL)  # whatever of the group is left
        process.wait()


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    try:
        os.killpg(process.pid, signum)
    except (ProcessLookupError, PermissionError):
        pass
