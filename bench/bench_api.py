"""API submissions per second: our POST /csm beside a bare Flask app, under gunicorn and granian.

Run: .venv/bin/python bench/bench_api.py [--seconds 8] [--connections 8]
Target: ours >= 60 % of the bare app's req/s under gunicorn sync workers.

Each server runs 2 worker processes with one request at a time each: gunicorn's sync
workers (``--workers 2``) and granian (``--interface wsgi --workers 2 --blocking-threads 1``).
Both apps get POST /csm {"text": "hello"}; the bare app parses the JSON and answers a small
JSON document, ours validates and queues a real job in Redis. The load generator is ``wrk``
(C, one thread, keep-alive connections; gunicorn's sync workers close each connection), run
as a separate process for a warm-up then the timed run. CPU per request is the servers'
processes' utime+stime delta (/proc/<pid>/stat) divided by the requests served; the
Redis server's CPU per request is shown beside it (it shares the 2 cores).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common  # noqa: E402
import redis  # noqa: E402
from flask import Flask, jsonify, request  # noqa: E402

from c3render.job import JobType  # noqa: E402
from c3render.queue import keys  # noqa: E402

WRK_SCRIPT = """wrk.method = "POST"
wrk.body = '{"text": "hello"}'
wrk.headers["Content-Type"] = "application/json"
"""
OURS, BARE = "c3render.wsgi:app", "bench.bench_api:create_bare_app"


def create_bare_app() -> Flask:
    """The peer: a hello-world Flask app with a POST view answering a small JSON document."""
    app = Flask("bare")

    @app.post("/csm")
    def submit() -> object:
        body = request.get_json()
        return jsonify({"id": "00000000-0000-0000-0000-000000000000", "status": "queued",
                        "echo": len(body or {})})

    return app


@dataclass
class Load:
    """What wrk measured, plus the servers' CPU time."""

    server: str
    app: str
    requests: int
    rate: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_s: float
    redis_cpu_s: float


def server_command(server: str, target: str, port: int) -> list[str]:
    """The command line of ``server`` serving ``target`` with 2 single-request workers."""
    if server == "gunicorn":
        if target == BARE:
            target = target + "()"
        return [sys.executable, "-m", "gunicorn", "--workers", "2", "--worker-class", "sync",
                "--bind", f"127.0.0.1:{port}", "--log-level", "warning", target]
    factory = ["--factory"] if target == BARE else []
    return [sys.executable, "-m", "granian", "--interface", "wsgi", "--host", "127.0.0.1",
            "--port", str(port), "--workers", "2", "--blocking-threads", "1", "--no-ws",
            "--log-level", "warning", *factory, target.removesuffix("()")]


def wrk(url: str, script: Path, seconds: int, connections: int) -> str:
    """Run wrk against ``url`` and return its report."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script),
               url]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def parse_wrk(report: str) -> tuple[int, float, float, float, int]:
    """(requests, req/s, p50 ms, p99 ms, non-2xx + socket errors) from a wrk --latency report."""
    requests = int(re.search(r"(\d+) requests in", report).group(1))  # type: ignore[union-attr]
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", report).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", report).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", report).group(1))  # type: ignore[union-attr]
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", report))
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                       report)
    # gunicorn's sync workers close every connection: wrk counts those closes as read errors
    if socket:
        errors += int(socket.group(1)) + int(socket.group(4))
    return requests, rate, p50, p99, errors


def measure(server: str, target: str, env: dict[str, str], work: Path, args: argparse.Namespace,
            script: Path, redis_pids: list[int]) -> Load:
    """Start ``server`` with ``target``, warm up, then one timed wrk run."""
    port = common.free_port()
    label = "ours" if target == OURS else "bare"
    with common.processes([server_command(server, target, port)], env,
                          work / f"{server}-{label}.log") as (process,):
        common.wait_for_port(port, 30)
        url = f"http://127.0.0.1:{port}/csm"
        wrk(url, script, args.warmup, args.connections)
        pids = common.group_pids(process.pid)
        before, redis_before = common.cpu_seconds(pids), common.cpu_seconds(redis_pids)
        report = wrk(url, script, args.seconds, args.connections)
        cpu = common.cpu_seconds(pids) - before
        redis_cpu = common.cpu_seconds(redis_pids) - redis_before
    requests, rate, p50, p99, errors = parse_wrk(report)
    return Load(server, label, requests, rate, p50, p99, errors, cpu, redis_cpu)


def print_results(loads: list[Load], queued: dict[str, int]) -> None:
    """The four combinations, ratios ours/bare per server, and the faster server for `up`."""
    result = common.table(
        "POST /csm through 2 worker processes (wrk: 1 thread, keep-alive connections)",
        ["server", "app", "requests", "req/s", "p50 ms", "p99 ms", "errors", "CPU µs/request",
         "Redis CPU µs/request", "ours / bare"],
    )
    by_key = {(load.server, load.app): load for load in loads}
    for load in loads:
        bare = by_key.get((load.server, "bare"))
        share = common.ratio(load.rate, bare.rate) if bare and load.app == "ours" else ""
        result.add_row(load.server, load.app, str(load.requests), f"{load.rate:.0f}",
                       f"{load.p50_ms:.2f}", f"{load.p99_ms:.2f}", str(load.errors),
                       f"{load.cpu_s / load.requests * 1e6:.0f}",
                       f"{load.redis_cpu_s / load.requests * 1e6:.0f}", share)
    common.console.print(result)
    for server in ("gunicorn", "granian"):
        ours, bare = by_key.get((server, "ours")), by_key.get((server, "bare"))
        if ours and bare:
            target = " (target >= 60 %)" if server == "gunicorn" else ""
            common.console.print(f"{server}: ours = {ours.rate / bare.rate:.0%} of bare{target}; "
                                 f"jobs queued in Redis: {queued.get(server, 0)}")
    gun, gra = by_key.get(("gunicorn", "ours")), by_key.get(("granian", "ours"))
    if gun and gra:
        faster = "granian" if gra.rate > gun.rate else "gunicorn"
        common.console.print(f"faster server for our API (`up`, C3_API_SERVER, default granian): "
                             f"{faster} ({max(gra.rate, gun.rate) / min(gra.rate, gun.rate):.2f}x)")


def main() -> None:
    """Run the four combinations on one Redis and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8, help="timed wrk run per combination")
    parser.add_argument("--warmup", type=int, default=2, help="wrk warm-up per combination")
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    common.print_machine()
    work = Path(tempfile.mkdtemp(prefix="bench-api-"))
    script = work / "post.lua"
    script.write_text(WRK_SCRIPT)
    loads: list[Load] = []
    queued: dict[str, int] = {}
    with common.redis_server(work / "redis") as url:
        client = redis.Redis.from_url(url)
        env = common.bench_env(url, work / "data")
        redis_pids = common.pid_listening(client.connection_pool.connection_kwargs["port"])
        for server in ("gunicorn", "granian"):
            for target in (OURS, BARE):
                client.flushall()
                loads.append(measure(server, target, env, work, args, script, redis_pids))
                if target == OURS:
                    queued[server] = int(client.xlen(keys.queue(JobType.CSM)))
    print_results(loads, queued)
    common.console.print(f"logs: {work}")


if __name__ == "__main__":
    main()
