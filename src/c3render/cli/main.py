"""The ``c3-render`` command: run the service (up, api, worker) or talk to it (submit, ...)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import requests

from c3render.cli import jobs, render, serve
from c3render.cli.client import ApiError
from c3render.cli.output import EXIT_INTERRUPTED, EXIT_UNREACHABLE, EXIT_USAGE, console
from c3render.errors import C3Error
from c3render.job import JobType


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``c3-render`` command."""
    args = _parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except (C3Error, ApiError) as exc:
        console.print(f"[red]error:[/red] {exc}", markup=True, highlight=False)
        server_side = isinstance(exc, ApiError) and exc.status >= 500
        return EXIT_UNREACHABLE if server_side else EXIT_USAGE
    except requests.ConnectionError:
        console.print(f"[red]error:[/red] no C3 Render API answers at {getattr(args, 'url', '?')}")
        return EXIT_UNREACHABLE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="c3-render", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    up = commands.add_parser("up", help="start Redis (if needed), the API and a worker")
    up.add_argument("--concurrency", type=int, default=1, help="worker slots (default 1)")
    up.set_defaults(handler=serve.cmd_up)

    api = commands.add_parser("api", help="serve the API with the production server")
    api.set_defaults(handler=serve.cmd_api)

    worker = commands.add_parser("worker", help="run jobs")
    worker.add_argument("--types", default=",".join(t.value for t in JobType),
                        help="comma-separated job types (default: all)")
    worker.add_argument("--concurrency", type=int, default=1, help="jobs at once (default 1)")
    worker.add_argument("--preload", action="store_true", help="load every engine at start")
    worker.set_defaults(handler=serve.cmd_worker)

    secret = commands.add_parser(
        "webhook-secret", help="print the whsec_ secret webhook receivers verify signatures with"
    )
    secret.set_defaults(handler=serve.cmd_webhook_secret)
    _job_commands(commands)
    render.add_commands(commands, _client_options)
    jobs.add_commands(commands, _client_options)
    return parser


def _job_commands(commands: Any) -> None:
    for name, handler, text in (
        ("status", jobs.cmd_status, "show a job's status"),
        ("result", jobs.cmd_result, "show a finished job's result (and download it with -o)"),
        ("wait", jobs.cmd_wait, "wait for a job to end and show its result"),
        ("cancel", jobs.cmd_cancel, "cancel a job"),
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
    submit.set_defaults(handler=jobs.cmd_submit)


def _client_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--url", default=os.environ.get("C3_URL", "http://localhost:5000"),
                         help="API base URL (env C3_URL)")
    command.add_argument("--key", default=os.environ.get("C3_API_KEY"), help="API key (env C3_API_KEY)")


if __name__ == "__main__":
    sys.exit(main())
