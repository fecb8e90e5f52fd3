"""Chained jobs: /csm → /whisper chained server-side vs two submits with a client-side wait.

Run: .venv/bin/python bench/bench_chain.py [-n 7] [--sleep 0.5] [--seed 14]

The real service: redis-server, the API (`c3-render api`, one process) and one worker
(`--types csm,whisper --concurrency 2 --preload`) with the scripted test engines
(`tests/fixtures/engines.py`: the /csm one writes a 0.1 s WAV after sleeping; the /whisper
one decodes its audio input), so what is measured is the service, not a model. The /csm
sleep of each round is drawn from [``--sleep``, ``--sleep`` + 0.5 s) (seeded) and used by
both modes: a fixed length would lock onto the client's 0.5 s polling phase (a 1.0 s job is
always seen at the third poll, just after it ended) and hide the wait a client really has.

* chained: POST /csm, then at once POST /whisper ``{"audio_url": "job:<csm id>"}``;
* baseline: POST /csm, poll GET /status every 0.5 s until it ends, GET /result, POST /whisper
  with the result link (our own link: read from storage too).

Each round runs both, alternating which goes first. Figures per mode over N rounds (median,
min, max): end to end = the /whisper job's ``finished_at`` minus the time just before the
first submit (Redis's clock and this host's: one machine), and the hand-off = the /whisper
job's ``started_at`` minus the /csm job's ``finished_at``; and per round (same engine time in
both modes) the baseline's end to end minus the chained one's. The end of a job is read from its
status document (polled every 20 ms only to notice it; the times come from the job).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common  # noqa: E402

from c3render.cli.client import Client  # noqa: E402

ENGINES = ("csm=tests.fixtures.engines:scripted_csm,"
           "whisper=tests.fixtures.engines:scripted_whisper")
WORKER = [sys.executable, "-m", "c3render.cli", "worker", "--types", "csm,whisper",
          "--concurrency", "2", "--preload"]
API = [sys.executable, "-m", "c3render.cli", "api"]
CLIENT_POLL = 0.5


def _time(doc: dict, name: str) -> float:
    return datetime.fromisoformat(doc[name]).timestamp()


def _ended(client: Client, job_id: str, interval: float) -> dict:
    doc = client.wait(job_id, timeout=120, interval=interval)
    if doc["status"] != "success":
        raise RuntimeError(f"job {job_id} ended {doc['status']}: {doc.get('error')}")
    return doc


def chained(client: Client, text: str) -> tuple[float, float]:
    """Both jobs submitted at once; (end to end, hand-off) in seconds."""
    started = time.time()
    speech = client.submit("csm", {"text": text})
    heard = client.submit("whisper", {"audio_url": f"job:{speech}"})
    last = _ended(client, heard, 0.02)
    first = client.status(speech)
    return _time(last, "finished_at") - started, _time(last, "started_at") - _time(first, "finished_at")


def baseline(client: Client, text: str) -> tuple[float, float]:
    """Submit, poll every 0.5 s, submit the next with the result link."""
    started = time.time()
    speech = client.submit("csm", {"text": text})
    first = _ended(client, speech, CLIENT_POLL)
    link = client.result(speech)["result_url"]
    heard = client.submit("whisper", {"audio_url": link})
    last = _ended(client, heard, 0.02)
    return _time(last, "finished_at") - started, _time(last, "started_at") - _time(first, "finished_at")


def main() -> None:
    """Run the rounds and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=7, help="rounds (each runs both modes)")
    parser.add_argument("--sleep", type=float, default=0.5,
                        help="shortest /csm engine time in seconds (each round adds 0..0.5 s)")
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args()
    common.print_machine()
    draw = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        with common.redis_server(work / "redis") as url:
            port = common.free_port()
            env = common.bench_env(url, work / "data", C3_ENGINES=ENGINES, API_PORT=str(port),
                                   C3_API_WORKERS="1", C3_FETCH_ALLOW="127.0.0.1,localhost")
            with common.processes([API, WORKER], env, work / "service.log"):
                common.wait_for_port(port, 60)
                client = Client(f"http://127.0.0.1:{port}")
                common.wait_for(lambda: client.health().get("workers") == 1, 60, "worker up")
                chained(client, "ok"), baseline(client, "ok")  # warm-up, not counted
                figures: dict[str, list[tuple[float, float]]] = {"chained": [], "baseline": []}
                for index in range(args.n):
                    text = f"sleep:{args.sleep + draw.uniform(0, 0.5):.3f}"
                    order = (chained, baseline) if index % 2 == 0 else (baseline, chained)
                    for mode in order:
                        figures[mode.__name__].append(mode(client, text))
    _report(figures, args.n, args.sleep)


def _report(figures: dict[str, list[tuple[float, float]]], rounds: int, sleep: float) -> None:
    title = f"/csm → /whisper, {rounds} rounds per mode (csm engine {sleep:g}..{sleep + 0.5:g} s)"
    table = common.table(title,
                         ["mode", "end to end median", "min", "max", "hand-off median", "min", "max"])
    medians = {}
    for mode, values in figures.items():
        ends, gaps = [v[0] for v in values], [v[1] for v in values]
        medians[mode] = statistics.median(ends)
        table.add_row(mode, *(f"{x:.3f} s" for x in (statistics.median(ends), min(ends), max(ends),
                                                     statistics.median(gaps), min(gaps), max(gaps))))
    common.console.print(table)
    saved = [b[0] - c[0] for b, c in zip(figures["baseline"], figures["chained"])]
    common.console.print(f"chained / baseline end to end (medians): "
                         f"{common.ratio(medians['chained'], medians['baseline'])}; the same "
                         f"round's baseline minus chained: median {statistics.median(saved):.3f} s "
                         f"(min {min(saved):.3f}, max {max(saved):.3f})")


if __name__ == "__main__":
    main()
