"""The ``c3-render`` command: run the service (up, api, worker) or talk to it (submit, ...)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from c3render.config import Settings, load_settings
from c3render.errors import C3Error
from c3render.models import JobType

console = Console(stderr=True, soft_wrap=True)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``c3-render`` command."""
    import requests

    from c3render.client import ApiError

    args = _parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except (C3Error, ApiError) as exc:
        console.print(f"[red]error:[/red] {exc}", markup=True, highlight=False)
        return 2
    except requests.ConnectionError:
        console.print(f"[red]error:[/red] no C3 Render API answers at {getattr(args, 'url', '?')}")
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="c3-render", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    up = commands.add_parser("up", help="start Redis (if needed), the API and a worker")
    up.add_argument("--concurrency", type=int, default=1, help="worker slots (default 1)")
    up.set_defaults(handler=cmd_up)

    api = commands.add_parser("api", help="serve the API with the production server")
    api.set_defaults(handler=cmd_api)

    worker = commands.add_parser("worker", help="run jobs")
    worker.add_argument("--types", default=",".join(t.value for t in JobType),
                        help="comma-separated job types (default: all)")
    worker.add_argument("--concurrency", type=int, default=1, help="jobs at once (default 1)")
    worker.add_argument("--preload", action="store_true", help="load every engine at start")
    worker.set_defaults(handler=cmd_worker)

    secret = commands.add_parser(
        "webhook-secret", help="print the whsec_ secret webhook receivers verify signatures with"
    )
    secret.set_defaults(handler=cmd_webhook_secret)

    for name, handler, text in (
        ("status", cmd_status, "show a job's status"),
        ("result", cmd_result, "show a finished job's result (and download it with -o)"),
        ("wait", cmd_wait, "wait for a job to end and show its result"),
        ("cancel", cmd_cancel, "cancel a job"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("job_id")
        _client_options(command)
        if name in ("result", "wait"):
            command.add_argument("-o", "--output", type=Path, help="save result_url here")
        if name == "cancel":
            command.add_argument("--remove-data", action="store_true")
        command.set_defaults(handler=handler)

    submit = commands.add_parser(
        "submit", help="submit a job: c3-render submit csm text='Hello there' voice=conversational_b"
    )
    submit.add_argument("type", choices=[t.value for t in JobType])
    submit.add_argument("fields", nargs="*", metavar="NAME=VALUE",
                        help="request fields; values are parsed as JSON when they can be, "
                             "local file paths are uploaded")
    submit.add_argument("--wait", action="store_true", help="wait for the result")
    submit.add_argument("-o", "--output", type=Path, help="with --wait: save result_url here")
    _client_options(submit)
    submit.set_defaults(handler=cmd_submit)
    return parser


def _client_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--url", default=os.environ.get("C3_URL", "http://localhost:5000"),
                         help="API base URL (env C3_URL)")
    command.add_argument("--key", default=os.environ.get("C3_API_KEY"), help="API key (env C3_API_KEY)")


# --- running the service ------------------------------------------------------------------


def cmd_api(args: argparse.Namespace) -> int:
    """Serve the API in the foreground (replaces this process with the server)."""
    from c3render.launcher import api_command

    settings = load_settings()
    command = api_command(settings)
    os.execv(command[0], command)
    return 0  # not reached


def cmd_worker(args: argparse.Namespace) -> int:
    """Run a worker until SIGTERM/SIGINT."""
    from c3render.worker import Worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s worker %(message)s")
    try:
        types = tuple(JobType(name.strip()) for name in args.types.split(",") if name.strip())
    except ValueError as exc:
        raise C3Error(f"--types: {exc}") from None
    Worker(load_settings(), types, max(1, args.concurrency), preload=args.preload).run()
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    """Start everything for local use; Ctrl-C stops it all."""
    from c3render.launcher import api_command, child_env, redis_reachable, start_redis, stop_all

    settings = load_settings()
    if "api_host" not in settings.model_fields_set:  # local use: not on every interface
        settings = settings.model_copy(update={"api_host": "127.0.0.1"})
    processes: list[subprocess.Popen[bytes]] = []
    redis_process = None
    if redis_reachable(settings.redis_dsn):
        console.print(f"Redis: using the server at {settings.redis_dsn}")
    elif settings.redis_url:
        raise C3Error(f"no Redis answers at the configured {settings.redis_dsn}")
    else:
        redis_process = start_redis(settings)
        console.print(f"Redis: started redis-server (append-only) in {settings.data_dir}/redis")
    env = child_env(settings)
    worker_cmd = [sys.executable, "-m", "c3render.cli", "worker", "--preload",
                  "--concurrency", str(args.concurrency)]
    # own sessions: Ctrl-C reaches only `up`, which then stops the others in order
    processes.append(subprocess.Popen(worker_cmd, env=env, start_new_session=True))
    processes.append(subprocess.Popen(api_command(settings), env=env, start_new_session=True))
    stop = _wait_for_api(settings, processes)
    try:
        if not stop:
            _print_ready(settings)
            while all(process.poll() is None for process in processes):
                time.sleep(0.5)
            console.print("[red]a process of the service exited; stopping the rest[/red]")
    except KeyboardInterrupt:
        console.print("stopping …")
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        stop_all(list(reversed(processes)) + ([redis_process] if redis_process else []))
    return 0


def cmd_webhook_secret(args: argparse.Namespace) -> int:
    """Print the Standard Webhooks secret of this installation."""
    from c3render.webhooks import signing_secret

    print(signing_secret(load_settings()))
    return 0


def _wait_for_api(settings: Settings, processes: list[subprocess.Popen[bytes]]) -> bool:
    import requests

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


# --- talking to a running service ---------------------------------------------------------


def _client(args: argparse.Namespace) -> Any:
    from c3render.client import Client

    return Client(args.url, args.key)


def _print(doc: Any) -> None:
    print(json.dumps(doc, indent=2, ensure_ascii=False))


def _parse_fields(pairs: list[str]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep:
            raise C3Error(f"{pair!r}: fields are given as NAME=VALUE")
        try:
            fields[name] = json.loads(raw)
        except ValueError:
            fields[name] = raw
    return fields


def _finish(client: Any, job_id: str, output: Path | None) -> int:
    doc = client.wait(job_id)
    result = client.result(job_id) if doc["status"] in ("success", "failed") else doc
    _print(result)
    if output and result.get("result_url"):
        client.download(result["result_url"], output)
        console.print(f"saved {output}")
    return 0 if result["status"] == "success" else 1


def cmd_submit(args: argparse.Namespace) -> int:
    """Submit a job and print its id (or wait for its result)."""
    client = _client(args)
    job_id = client.submit(args.type, _parse_fields(args.fields))
    if not args.wait:
        _print({"id": job_id, "status": "queued"})
        return 0
    return _finish(client, job_id, args.output)


def cmd_status(args: argparse.Namespace) -> int:
    """Print a job's status document."""
    _print(_client(args).status(args.job_id))
    return 0


def cmd_result(args: argparse.Namespace) -> int:
    """Print a job's result."""
    client = _client(args)
    result = client.result(args.job_id)
    _print(result)
    if args.output and result.get("result_url"):
        client.download(result["result_url"], args.output)
    return 0


def cmd_wait(args: argparse.Namespace) -> int:
    """Wait for a job and print its result."""
    return _finish(_client(args), args.job_id, args.output)


def cmd_cancel(args: argparse.Namespace) -> int:
    """Cancel a job."""
    _print(_client(args).cancel(args.job_id, args.remove_data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
