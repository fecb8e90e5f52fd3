"""Chaos, long version: ≥ 500 fixture jobs of random lengths on four workers (2 slots each)
while a killer SIGKILLs a random worker or engine process every second (≥ 50 kills),
SIGTERMs some, freezes one past its lease, and Redis (append-only) is restarted mid-run.

Run: .venv/bin/python bench/bench_chaos.py [-n JOBS]
Prints the kills, how the jobs ended, and the audit: jobs lost (no end state) and jobs
duplicated (ended twice, two runs' files kept, or two webhook ids announced), counted from
the jobs' end counters, the files on disk and a real webhook receiver.
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import replace
from pathlib import Path

import _common as common  # noqa: E402

from tests.support.chaos import (
    ChaosPlan,
    restartable_redis,
    run_chaos,
    settings_for_chaos,
)
from tests.support.http_peers import http_peer
from tests.support.service import service_env


def main() -> None:
    """Run the long chaos plan once and print its report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--jobs", type=int, default=500)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    plan = replace(ChaosPlan(), jobs=args.jobs, workers=args.workers, concurrency=2,
                   longest_job=2.0, kill_every=1.0, restart_redis_at=60.0, timeout=1800.0)
    common.print_machine()
    work = Path(tempfile.mkdtemp(prefix="bench-chaos-"))
    with restartable_redis(work / "redis") as (url, restart), http_peer() as peer:
        env = service_env(settings_for_chaos(url, work / "data"), C3_FETCH_ALLOW="127.0.0.1",
                          C3_WEBHOOK_ALLOW="127.0.0.1",
                          FLASK_SECRET_KEY="bench-chaos-secret-0123456789abcdef")
        report = run_chaos(plan, env, peer, work, restart)
    table = common.table(f"chaos: {plan.jobs} jobs, {plan.workers} workers × {plan.concurrency} "
                         f"slots, one kill per {plan.kill_every:g} s", ["figure", "value"])
    for kind, count in sorted(report.kills.items()):
        table.add_row(f"kills: {kind}", str(count))
    table.add_row("kills in all", str(sum(report.kills.values())))
    for status, count in sorted(report.statuses.items()):
        table.add_row(f"ended {status}", str(count))
    for kind, count in sorted(report.error_types.items()):
        table.add_row(f"error_type {kind}", str(count))
    table.add_row("jobs lost (no end state)", str(report.lost))
    table.add_row("jobs duplicated (ends, files, webhook ids)", str(report.duplicated))
    table.add_row("webhooks missing", str(len(report.webhooks_missing)))
    table.add_row("seconds", f"{report.seconds:.0f}")
    common.console.print(table)
    common.console.print(f"logs: {work}")


if __name__ == "__main__":
    main()
