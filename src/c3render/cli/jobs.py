"""Talking to a running service: ``c3-render submit``, ``status``, ``result``, ``wait``, ``cancel``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from c3render.cli.client import Client
from c3render.cli.output import console
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
