"""``GET /metrics``: Prometheus metrics (prometheus-client's text format).

Everything is read from Redis at scrape time — the counters and histograms the job
scripts keep (``queue/stats.py``), queue depths, the oldest waiting job, live workers —
so any API process answers for the whole installation.
"""

from __future__ import annotations

from collections.abc import Iterator

from flask import Blueprint, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from c3render.api.services import Services, services
from c3render.job import JobType
from c3render.queue.stats import oldest_waiting_age, read_stats

metrics_bp = Blueprint("metrics", __name__)

JOB_TYPES = tuple(JobType)


class JobCollector(Collector):
    """Collects the installation's metrics from Redis on each scrape."""

    def __init__(self, svc: Services) -> None:
        self.svc = svc

    def collect(self) -> Iterator[Metric]:
        """The metric families (see the module docstring)."""
        yield from self._counters()
        yield from self._gauges()

    def _counters(self) -> Iterator[Metric]:
        stats = read_stats(self.svc.redis, JOB_TYPES)
        submitted = CounterMetricFamily("c3_jobs_submitted", "Jobs submitted", labels=["type"])
        ended = CounterMetricFamily("c3_jobs_ended", "Jobs ended, by end status",
                                    labels=["type", "status"])
        hooks = CounterMetricFamily("c3_webhook_deliveries", "Webhook delivery attempts",
                                    labels=["type", "event", "outcome"])
        wait = HistogramMetricFamily("c3_job_queue_wait_seconds",
                                     "Submission to first start", labels=["type"])
        run = HistogramMetricFamily("c3_job_run_seconds", "Start to end of the ending run",
                                    labels=["type"])
        for job_type, each in stats.items():
            name = job_type.value
            submitted.add_metric([name], each.submitted)
            for status, count in sorted(each.ended.items()):
                ended.add_metric([name, status], count)
            for (event, outcome), count in sorted(each.webhooks.items()):
                hooks.add_metric([name, event, outcome], count)
            for family, key in ((wait, "wait"), (run, "run")):
                histogram = each.histograms.get(key)
                if histogram is not None:
                    buckets = [(_bound(b), c) for b, c in histogram.buckets]
                    family.add_metric([name], buckets, histogram.total)
        yield from (submitted, ended, hooks, wait, run)

    def _gauges(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily("c3_queue_depth", "Jobs in each queue (queued: waiting for "
                                  "a worker; running: held by one)", labels=["type", "state"])
        for name, states in self.svc.store.queue_depths().items():
            for state, count in states.items():
                depth.add_metric([name, state], count)
        oldest = GaugeMetricFamily("c3_queue_oldest_age_seconds",
                                   "Age of the oldest job waiting for a worker", labels=["type"])
        for job_type in JOB_TYPES:
            oldest.add_metric([job_type.value], oldest_waiting_age(self.svc.redis, job_type))
        workers = self.svc.workers.live_workers()
        live = GaugeMetricFamily("c3_workers_live", "Live workers serving each job type",
                                 labels=["type"])
        for job_type in JOB_TYPES:
            live.add_metric([job_type.value],
                            sum(job_type.value in (w.get("types") or []) for w in workers))
        yield from (depth, oldest, live)


def _bound(value: float) -> str:
    return "+Inf" if value == float("inf") else repr(float(value))


@metrics_bp.get("/metrics")
def metrics() -> Response:
    """GET /metrics: the Prometheus text exposition."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(JobCollector(services()))
    return Response(generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})
