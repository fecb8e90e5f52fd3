"""Chaos, short version (the long one is ``bench/bench_chaos.py``): fixture jobs of random
lengths on three workers while a killer SIGKILLs workers and engine processes, SIGTERMs and
freezes them, with Redis (append-only) restarted in the middle. Every job must end exactly
once: none lost, none ended twice, one run's files kept, one webhook id announced."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.chaos import (
    ChaosPlan,
    restartable_redis,
    run_chaos,
    settings_for_chaos,
)
from tests.support.http_peers import http_peer
from tests.support.service import service_env

SHORT = ChaosPlan(jobs=100, workers=3, concurrency=2, longest_job=2.0, kill_every=1.0,
                  restart_redis_at=10.0, timeout=240.0)
LONG = ChaosPlan(jobs=500, workers=4, concurrency=2, longest_job=2.0, kill_every=1.0,
                 restart_redis_at=60.0, timeout=1200.0)


@pytest.mark.parametrize(
    "plan", [SHORT, pytest.param(LONG, marks=pytest.mark.long)], ids=["short", "long"]
)
def test_every_job_ends_exactly_once_through_kills_freezes_and_a_redis_restart(
    tmp_path: Path, plan: ChaosPlan
) -> None:
    with restartable_redis(tmp_path / "redis") as (url, restart), http_peer() as peer:
        env = service_env(
            settings_for_chaos(url, tmp_path / "data"), C3_WEBHOOK_ALLOW="127.0.0.1",
            C3_FETCH_ALLOW="127.0.0.1", FLASK_SECRET_KEY="chaos-test-secret-0123456789abcdef",
        )
        report = run_chaos(plan, env, peer, tmp_path, restart)
    print(f"chaos ({plan.jobs} jobs): {dict(report.kills)}; statuses {dict(report.statuses)}; "
          f"error types {dict(report.error_types)}; {report.seconds:.0f} s")
    assert sum(report.kills.values()) >= (50 if plan is LONG else 10)
    assert report.kills["redis restart"] == 1
    assert report.lost == 0, report.unfinished
    assert report.duplicated == 0, (report.ended_twice, report.extra_result_files,
                                    report.webhook_ids_twice)
    assert report.webhooks_missing == []
    assert set(report.error_types) <= {"engine", "worker_lost"}
