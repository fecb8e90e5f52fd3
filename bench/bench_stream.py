"""Time to the first audio byte of a 5-sentence /csm job: streamed vs whole file.

Through the real service: our own ``redis-server``, ``c3-render api`` (granian) and one
``c3-render worker --types csm --preload`` with the embedded voice (piper's joe, voice
``conversational_a``; ``--voice`` for another). One warm-up job first (engine loaded), then
N rounds, each running both ways one after the other on the same idle worker:

- **streamed**: ``POST /csm`` then at once ``GET /stream/{id}`` (MP3), timed from before
  the submit to the first body byte, and to the last one;
- **whole file** (the baseline, what a client did before): ``POST /csm`` with
  ``Prefer: wait=60`` (held on the event stream until the job ends, no polling), then
  ``GET /result/{id}`` and the first byte of its ``result_url``; and to its last byte.

Also the job's own run time (started → finished, from ``/status``) both ways: what
streaming costs the render on a machine where the API shares the cores with the engine.

Prints the median, min and max of each over the N rounds and the streamed/whole ratios.
Target: first byte ≤ 1 s streamed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import requests  # noqa: E402
from _common import console, csm_service, print_machine, ratio, table  # noqa: E402
from _common import run_seconds as job_run_seconds  # noqa: E402

TEXT = ("The first sentence is short. Then a second one follows it. A third sentence comes "
        "next. The fourth is almost the last. And this is the fifth, which ends the text.")


Timing = tuple[float, float, int, float]
"""Seconds to the first and the last byte, bytes, and the job's run (start to end) in s."""


def run_seconds(api: str, job_id: str) -> float:
    """How long the job ran, once its status document says it finished."""
    for _ in range(100):
        doc = requests.get(f"{api}/status/{job_id}", timeout=30).json()
        if doc.get("finished_at"):
            return job_run_seconds(doc)
        time.sleep(0.1)
    raise TimeoutError(f"job {job_id} did not finish")


def read_timed(response: requests.Response, started: float) -> tuple[float, float, int]:
    """Read a body to its end: seconds from ``started`` to its first and last byte, and its size."""
    first, size = None, 0
    for chunk in response.iter_content(chunk_size=None):
        if first is None:
            first = time.perf_counter() - started
        size += len(chunk)
    assert first is not None, "the body was empty"
    return first, time.perf_counter() - started, size


def streamed(api: str, body: dict[str, object]) -> Timing:
    """Seconds from the submit to the first and the last streamed byte, and the bytes."""
    started = time.perf_counter()
    job_id = requests.post(f"{api}/csm", json=body, timeout=30).json()["id"]
    with requests.get(f"{api}/stream/{job_id}", stream=True, timeout=120) as response:
        response.raise_for_status()
        first, last, size = read_timed(response, started)
    return first, last, size, run_seconds(api, job_id)


def whole_file(api: str, body: dict[str, object]) -> Timing:
    """Seconds from the submit to the first and the last byte of the stored result."""
    started = time.perf_counter()
    job_id = requests.post(f"{api}/csm", json=body, headers={"Prefer": "wait=60"},
                           timeout=90).json()["id"]
    doc = requests.get(f"{api}/result/{job_id}", timeout=30).json()
    assert doc["status"] == "success", doc
    with requests.get(doc["result_url"], stream=True, timeout=30) as response:
        first, last, size = read_timed(response, started)
    return first, last, size, run_seconds(api, job_id)


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=7, help="rounds (each runs both ways)")
    parser.add_argument("--voice", default="conversational_a")
    args = parser.parse_args()
    print_machine(("av", "piper-tts"))
    body = {"text": TEXT, "voice": args.voice}
    with tempfile.TemporaryDirectory() as temp, \
            csm_service(Path(temp), C3_API_WORKERS="2", C3_API_THREADS="8") as api:
        whole_file(api, body)  # warm-up: the voice is loaded and has spoken once
        rounds = [(streamed(api, body), whole_file(api, body)) for _ in range(args.n)]
    report(rounds, args.n, args.voice)


def report(rounds: list[tuple[Timing, Timing]], n: int, voice: str) -> None:
    """Print median / min / max of the first and last byte of both ways."""
    def cell(values: list[float]) -> str:
        return f"{statistics.median(values):.3f} ({min(values):.3f}–{max(values):.3f})"

    stream_first = [s[0] for s, _ in rounds]
    stream_last = [s[1] for s, _ in rounds]
    file_first = [w[0] for _, w in rounds]
    file_last = [w[1] for _, w in rounds]
    out = table(f"5 sentences, voice {voice}, {n} rounds each: seconds from the submit, "
                "median (min–max)", ["", "streamed (GET /stream, mp3)",
                                     "whole file (Prefer: wait → /result → file)",
                                     "streamed / whole (medians)"])
    out.add_row("first audio byte", cell(stream_first), cell(file_first),
                ratio(statistics.median(stream_first), statistics.median(file_first)))
    out.add_row("last audio byte", cell(stream_last), cell(file_last),
                ratio(statistics.median(stream_last), statistics.median(file_last)))
    stream_run, file_run = [s[3] for s, _ in rounds], [w[3] for _, w in rounds]
    out.add_row("job run (started → finished)", cell(stream_run), cell(file_run),
                ratio(statistics.median(stream_run), statistics.median(file_run)))
    out.add_row("bytes", f"{statistics.median([s[2] for s, _ in rounds]):.0f}",
                f"{statistics.median([w[2] for _, w in rounds]):.0f}", "")
    console.print(out)
    target = "met" if statistics.median(stream_first) <= 1.0 else "missed"
    console.print(f"target: first byte streamed ≤ 1 s (median): {target}")


if __name__ == "__main__":
    main()
