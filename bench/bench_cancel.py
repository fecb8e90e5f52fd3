"""After a cancel: how soon the next job is done, with the run asked to stop vs killed.

Through the real service: our own ``redis-server``, ``c3-render api`` (granian) and one
``c3-render worker --types csm --preload`` with the embedded engine (piper's joe, Kokoro,
the speaker encoder). Two configurations, each in a fresh service:

- **asked to stop** (``C3_STOP_GRACE_SECONDS=5``, the default): the run stops at its next
  progress report (the next sentence) and the engine keeps its models;
- **killed** (``C3_STOP_GRACE_SECONDS=0``, what every cancel did before): the engine process
  is SIGKILLed and the next job starts a new one, loading the models again.

One warm-up job, then N rounds: a 12-sentence job is submitted and cancelled once its first
sentence is rendered (``progress > 0``), and at once a one-sentence job is submitted with
``Prefer: wait=60``. Timed: from the cancel to the short job's answer, and the short job's
own run (``started_at`` → ``finished_at``). Prints median (min–max) of each and the ratio.
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
from _common import (  # noqa: E402
    console,
    csm_service,
    print_machine,
    ratio,
    run_seconds,
    table,
    wait_for,
)

LONG = " ".join(f"This is sentence number {n} of a long text that will be cancelled." for n in range(1, 13))
SHORT = "A short sentence after the cancel."
CONFIGURATIONS = {"asked to stop (grace 5 s, default)": "5", "killed (grace 0, as before)": "0"}


def one_round(api: str) -> tuple[float, float]:
    """Cancel a long job mid-run, then time a short one: (cancel → answer, short job's run)."""
    long_id = requests.post(f"{api}/csm", json={"text": LONG}, timeout=30).json()["id"]
    wait_for(lambda: requests.get(f"{api}/status/{long_id}", timeout=10).json()["progress"] > 0,
             120, "the long job's first sentence")
    started = time.perf_counter()
    requests.post(f"{api}/job/{long_id}", json={"status": "cancelled"}, timeout=30)
    short = requests.post(f"{api}/csm", json={"text": SHORT}, headers={"Prefer": "wait=60"},
                          timeout=90).json()
    answered = time.perf_counter() - started
    doc = requests.get(f"{api}/status/{short['id']}", timeout=30).json()
    assert doc["status"] == "success", doc
    return answered, run_seconds(doc)


def measure(grace: str, rounds: int) -> list[tuple[float, float]]:
    """``rounds`` rounds against a fresh service whose worker stops runs with ``grace``."""
    with tempfile.TemporaryDirectory() as temp, \
            csm_service(Path(temp), C3_STOP_GRACE_SECONDS=grace) as api:
        requests.post(f"{api}/csm", json={"text": SHORT}, headers={"Prefer": "wait=60"},
                      timeout=90)  # warm-up: the models are loaded and have spoken once
        return [one_round(api) for _ in range(rounds)]


def main() -> None:
    """Run both configurations and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=5, help="rounds per configuration")
    args = parser.parse_args()
    print_machine(("piper-tts",))
    results = {label: measure(grace, args.n) for label, grace in CONFIGURATIONS.items()}

    def cell(values: list[float]) -> str:
        return f"{statistics.median(values):.3f} ({min(values):.3f}–{max(values):.3f})"

    out = table(f"the job after a cancelled one, {args.n} rounds each: seconds, median (min–max)",
                ["", *CONFIGURATIONS, "asked / killed (medians)"])
    asked, killed = results.values()
    for index, what in enumerate(("cancel → next job answered", "next job's run")):
        mine, theirs = [r[index] for r in asked], [r[index] for r in killed]
        out.add_row(what, cell(mine), cell(theirs),
                    ratio(statistics.median(mine), statistics.median(theirs)))
    console.print(out)


if __name__ == "__main__":
    main()
