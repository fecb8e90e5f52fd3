"""Talking to a running service: ``c3-render submit``, ``status``, ``result``, ``wait``,
``cancel``, ``jobs``, ``workers``, ``logs``."""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rich.table import Table

from c3render.cli.client import Client
from c3render.cli.output import console, exit_code
from c3render.cli.watch import Watcher
from c3render.errors import C3Error


def _client(args: argparse.Namespace) -> Client:
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
    with Watcher(job_id) as watcher:
        doc = client.wait(job_id, on_progress=watcher.update)
    result = client.result(job_id) if doc["status"] in ("success", "failed") else doc
    _print(result)
    if output and result.get("result_url"):
        client.download(result["result_url"], output)
        console.print(f"saved {output}")
    return exit_code(result["status"])


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


def cmd_jobs(args: argparse.Namespace) -> int:
    """List the newest jobs."""
    filters = {"type": args.type, "status": args.status, "limit": args.limit}
    found = _client(args).jobs(**{k: v for k, v in filters.items() if v is not None})
    if args.json:
        _print(found)
        return 0
    table = Table("id", "type", "status", "progress", "created", "error")
    for job in found:
        table.add_row(job["id"], job["type"], job["status"], f"{job['progress']:.0%}",
                      (job.get("created_at") or "")[:19], job.get("error", ""))
    console.print(table)
    return 0


def cmd_workers(args: argparse.Namespace) -> int:
    """List the live workers."""
    found = _client(args).workers()
    if args.json:
        _print(found)
        return 0
    table = Table("id", "host", "types", "running")
    for worker in found:
        table.add_row(str(worker.get("id")), str(worker.get("host")),
                      ",".join(worker.get("types") or []), str(worker.get("running")))
    console.print(table)
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    """Print a job's log lines (with --follow, from its live events until it ends)."""
    client = _client(args)
    if args.follow:
        for event in client.events(args.job_id):
            data = event.data
            if event.kind == "log":
                print(f"{_clock(data.get('at'))} {data.get('level', ''):<7} {data.get('message')}")
            elif event.kind == "status":
                print(f"{_clock(data.get('at'))} -- {data['status']} {data.get('error', '')}")
        return 0
    lines = client.logs(args.job_id)
    if args.json:
        _print(lines)
        return 0
    for line in lines:
        print(f"{line['timestamp']} {line['level']:<7} {line['message']}")
    return 0


def _clock(at: Any) -> str:
    if not isinstance(at, (int, float)):
        return ""
    return datetime.fromtimestamp(at, timezone.utc).isoformat(timespec="milliseconds")


def add_commands(commands: Any, client_options: Any) -> None:
    """Add jobs, workers and logs to the ``c3-render`` parser."""
    listing = commands.add_parser("jobs", help="list the newest jobs")
    listing.add_argument("--type", choices=["csm", "portrait", "whisper", "analyze"])
    listing.add_argument("--status")
    listing.add_argument("--limit", type=int, default=20)
    listing.set_defaults(handler=cmd_jobs)
    workers = commands.add_parser("workers", help="list the live workers")
    workers.set_defaults(handler=cmd_workers)
    logs = commands.add_parser("logs", help="show a job's log lines")
    logs.add_argument("job_id")
    logs.add_argument("-f", "--follow", action="store_true", help="then follow its events")
    logs.set_defaults(handler=cmd_logs)
    for command in (listing, workers, logs):
        command.add_argument("--json", action="store_true", help="print JSON")
        client_options(command)
