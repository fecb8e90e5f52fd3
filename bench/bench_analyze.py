"""Benchmark of the embedded /analyze engine against the previous engine on the same photos.

Run: ``.venv/bin/python bench/bench_analyze.py [--baseline REV]``. The labelled set is every
real photo with a main subject available offline here: skimage's sample photos and
matplotlib's Grace Hopper portrait (13 photos). For each the truth is written below as the
words that would name its main subject and whether a person is in it. The current engine
describes each photo in this process; the previous engine (git revision ``--baseline``,
default 437ae32, before the classifier) describes the same files in a subprocess from a
``git archive`` of that revision. Printed per engine: the share of photos whose description
names the main subject, wrong subjects claimed, false and missed persons, and seconds per
megapixel (whole job: decode, every model, description; median of 3 at 1 MP and 12 MP).
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import matplotlib
import numpy as np
from PIL import Image
from skimage import data

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from c3render.engines.base import EngineJob  # noqa: E402
from c3render.engines.vision.embedded import EmbeddedAnalyzer  # noqa: E402
from c3render.job import JobType  # noqa: E402

SKIMAGE = Path(data.__file__).parent
MATPLOTLIB = Path(matplotlib.get_data_path()) / "sample_data"
# name: (file, words naming the main subject, a person is in it, words that would be wrong)
PHOTOS: dict[str, tuple[Path, list[str], bool]] = {
    "astronaut": (SKIMAGE / "astronaut.png", ["person", "woman", "astronaut"], True),
    "coffee": (SKIMAGE / "coffee.png", ["coffee", "cup"], False),
    "chelsea (cat)": (SKIMAGE / "chelsea.png", ["cat"], False),
    "rocket": (SKIMAGE / "rocket.jpg", ["rocket"], False),
    "cameraman": (SKIMAGE / "camera.png", ["person", "man", "camera", "tripod"], True),
    "coins": (SKIMAGE / "coins.png", ["coin"], False),
    "moon": (SKIMAGE / "moon.png", ["moon"], False),
    "hubble deep field": (SKIMAGE / "hubble_deep_field.jpg", ["galax", "star", "space"], False),
    "retina": (SKIMAGE / "retina.jpg", ["retina", "eye"], False),
    "page": (SKIMAGE / "page.png", ["text", "page"], False),
    "motorcycle": (SKIMAGE / "motorcycle_left.png", ["motorbike", "motorcycle", "scooter"], False),
    "clock": (SKIMAGE / "clock_motion.png", ["clock"], False),
    "grace hopper": (MATPLOTLIB / "grace_hopper.jpg", ["person", "woman"], True),
}
NOT_RECOGNISED = "not recognised"
PROPERTIES_OPENINGS = ("a sharp", "a soft", "a blurry")
"""How the previous engine began when it named no subject ("A sharp, dim 640×427 image...")."""
BASELINE = "437ae32"

BASELINE_SCRIPT = """
import json, sys, time
from pathlib import Path
from c3render.engines.base import EngineJob
from c3render.engines.vision.embedded import EmbeddedAnalyzer
from c3render.job import JobType
engine = EmbeddedAnalyzer(); engine.load()
out = {}
for path in sys.argv[1:]:
    times = []
    for _ in range(int(path.startswith("speed:")) * 3 + 1):
        p = Path(path.removeprefix("speed:"))
        job = EngineJob(id="b", type=JobType.ANALYZE, params={}, inputs={"image_url": p}, workdir=p.parent)
        start = time.perf_counter(); result = engine.run(job); times.append(time.perf_counter() - start)
        extra = result.extra["analysis"]
    out[path] = {"text": result.text, "people": extra["people_count"], "seconds": sorted(times)[len(times) // 2]}
print("JSON" + json.dumps(out))
"""


def rgb_file(source: Path, folder: Path) -> Path:
    """The photo as an RGB PNG (both engines read the same file)."""
    target = folder / (source.stem + ".png")
    Image.open(source).convert("RGB").save(target)
    return target


def speed_files(folder: Path) -> dict[str, Path]:
    """The cat photo scaled to 1 MP and 12 MP (JPEG, as a phone would send)."""
    files = {}
    for label, size in {"1 MP": (1155, 866), "12 MP": (4000, 3000)}.items():
        path = folder / f"speed-{size[0]}.jpg"
        Image.open(SKIMAGE / "chelsea.png").convert("RGB").resize(size, Image.BICUBIC).save(path, quality=90)
        files[label] = path
    return files


def run_current(engine: EmbeddedAnalyzer, path: Path, repeats: int = 1) -> dict:
    """The current engine's description, people count and median seconds for one file."""
    times = []
    for _ in range(repeats):
        job = EngineJob(id="b", type=JobType.ANALYZE, params={}, inputs={"image_url": path},
                        workdir=path.parent)
        start = time.perf_counter()
        result = engine.run(job)
        times.append(time.perf_counter() - start)
    return {"text": result.text, "people": result.extra["analysis"]["people_count"],
            "seconds": statistics.median(times)}


def run_baseline(revision: str, paths: list[str]) -> dict[str, dict]:
    """The previous engine (from ``git archive revision``) on the same files, in a subprocess."""
    with tempfile.TemporaryDirectory() as tree:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision, "src"],
                                 check=True, capture_output=True).stdout
        tarfile.open(fileobj=io.BytesIO(archive)).extractall(tree, filter="data")
        done = subprocess.run([sys.executable, "-c", BASELINE_SCRIPT, *paths], check=True,
                              capture_output=True, text=True,
                              env={"PYTHONPATH": str(Path(tree) / "src"), "PATH": "/usr/bin:/bin",
                                   "HF_HUB_OFFLINE": "1"})
    line = next(x for x in done.stdout.splitlines() if x.startswith("JSON"))
    return json.loads(line[4:])


def score(results: dict[str, dict]) -> dict[str, int]:
    """Named subjects, wrong subjects (a claim that names none of the truth), persons."""
    tally = {"named": 0, "wrong": 0, "false_person": 0, "missed_person": 0}
    for name, (_, words, person) in PHOTOS.items():
        text = results[name]["text"].lower()
        first = text.split(". ")[0]
        named = any(word in first for word in words)
        tally["named"] += named
        says_nothing = NOT_RECOGNISED in first or first.startswith(PROPERTIES_OPENINGS)
        tally["wrong"] += not named and not says_nothing and results[name]["people"] == 0
        tally["false_person"] += results[name]["people"] > 0 and not person
        tally["missed_person"] += results[name]["people"] == 0 and person
    return tally


def main() -> None:
    """Run the benchmark."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline", default=BASELINE, help="git revision of the previous engine")
    args = parser.parse_args()
    engine = EmbeddedAnalyzer()
    start = time.perf_counter()
    engine.load()
    print(f"load: {time.perf_counter() - start:.2f} s (current engine)")
    with tempfile.TemporaryDirectory() as tmp:
        files = {name: rgb_file(path, Path(tmp)) for name, (path, _, _) in PHOTOS.items()}
        speeds = speed_files(Path(tmp))
        current = {name: run_current(engine, path) for name, path in files.items()}
        current_speed = {label: run_current(engine, path, 3) for label, path in speeds.items()}
        old = run_baseline(args.baseline, [str(p) for p in files.values()]
                           + [f"speed:{p}" for p in speeds.values()])
    baseline = {name: old[str(path)] for name, path in files.items()}
    baseline_speed = {label: old[f"speed:{path}"] for label, path in speeds.items()}
    for name in PHOTOS:
        print(f"\n{name}\n  now:    {current[name]['text']}\n  before: {baseline[name]['text']}")
    now, before = score(current), score(baseline)
    count = len(PHOTOS)
    print(f"\n{'':34}{'current':>12}{'baseline ' + args.baseline:>22}")
    print(f"{'names the main subject':34}{now['named']:>7}/{count} ({now['named'] / count:.0%})"
          f"{before['named']:>11}/{count} ({before['named'] / count:.0%})")
    for key, label in [("wrong", "names a wrong subject"), ("false_person", "false persons"),
                       ("missed_person", "missed persons")]:
        print(f"{label:34}{now[key]:>12}{before[key]:>22}")
    for label, path_size in [("1 MP", 1155 * 866), ("12 MP", 4000 * 3000)]:
        mp = path_size / 1e6
        print(f"{'s per MP at ' + label + ' (median of 3)':34}{current_speed[label]['seconds'] / mp:>12.3f}"
              f"{baseline_speed[label]['seconds'] / mp:>22.3f}")
    print(f"\n{count} photos ({sum(p[2] for p in PHOTOS.values())} with a person); "
          "'wrong' = the first sentence claims a subject and none of the truth's words; "
          "the subjects of coins, moon, galaxies and retina are not among ImageNet's 1,000 classes")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
