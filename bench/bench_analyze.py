"""Benchmark of the embedded /analyze engine: speed at 1 MP and 12 MP, and truth on known photos.

Run: ``.venv/bin/python bench/bench_analyze.py``. Prints seconds per image (whole job: decode,
detectors, description; median of 3) with a per-stage split, then the description of real
photos of known content and whether it names what is there.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from skimage import data

from c3render.engines.base import EngineJob
from c3render.engines.vision import create_engine
from c3render.engines.vision.embedded import EmbeddedAnalyzer
from c3render.engines.vision.properties import measure
from c3render.job import JobType
from c3render.settings import Settings

REPEATS = 3


def composed(width: int, height: int) -> Image.Image:
    """The astronaut scaled up to the full height, on a blue-to-green background."""
    rows = np.linspace(0, 1, height)[:, None, None]
    back = np.array([80, 140, 220]) * (1 - rows) + np.array([60, 130, 50]) * rows
    canvas = Image.fromarray(np.repeat(back, width, axis=1).astype(np.uint8))
    canvas.paste(Image.fromarray(data.astronaut()).resize((height, height), Image.BICUBIC),
                 ((width - height) // 2, 0))
    return canvas


def sign_photo() -> Image.Image:
    """A printed notice rendered with Pillow's default font (content known exactly)."""
    image = Image.new("RGB", (800, 600), (245, 245, 240))
    draw = ImageDraw.Draw(image)
    draw.text((120, 60), "CLOSED ON SUNDAY", fill="black", font=ImageFont.load_default(size=56))
    draw.text((120, 480), "Opening hours 9 to 5", fill="black", font=ImageFont.load_default(size=40))
    return image


def run_job(engine: EmbeddedAnalyzer, path: Path) -> tuple[float, str]:
    """Seconds for one whole job and its description."""
    job = EngineJob(id="b", type=JobType.ANALYZE, params={}, inputs={"image_url": path},
                    workdir=path.parent)
    start = time.perf_counter()
    result = engine.run(job)
    return time.perf_counter() - start, result.text or ""


def stages(engine: EmbeddedAnalyzer, rgb: np.ndarray) -> dict[str, float]:
    """Seconds per detector on one image."""
    steps = {
        "properties": lambda: measure(rgb),
        "faces": lambda: engine._faces.find(rgb),
        "pose": lambda: engine._bodies.pose(rgb),
        "hands": lambda: engine._bodies.hands(rgb),
        "ocr": lambda: engine._text.read(rgb),
        "safety": lambda: engine._safety.check(rgb),
    }
    times = {}
    for name, step in steps.items():
        start = time.perf_counter()
        step()
        times[name] = time.perf_counter() - start
    return times


def speed(engine: EmbeddedAnalyzer, folder: Path) -> None:
    """Seconds per image at 1 MP and 12 MP."""
    sizes = {"1 MP (1155x866)": (1155, 866), "12 MP (4000x3000)": (4000, 3000)}
    for label, (width, height) in sizes.items():
        path = folder / f"{width}.jpg"
        composed(width, height).save(path, quality=90)
        run_job(engine, path)  # warm-up
        times = [run_job(engine, path)[0] for _ in range(REPEATS)]
        rgb = np.asarray(Image.open(path).convert("RGB"))
        split = ", ".join(f"{k} {v:.3f}" for k, v in stages(engine, rgb).items())
        print(f"{label}: {statistics.median(times):.3f} s per image "
              f"(min {min(times):.3f}, max {max(times):.3f}); stages: {split}")


KNOWN = {
    # name: (image, [(what is there, words that would name it)])
    "astronaut (portrait photo)": (
        lambda: Image.fromarray(data.astronaut()),
        [("one person", ["one person"]), ("smiling", ["smiling"]),
         ("facing the camera", ["facing the camera"]), ("an astronaut / space suit", ["astronaut", "suit"])]),
    "coffee (cup on a wooden table)": (
        lambda: Image.fromarray(data.coffee()),
        [("no people", ["no people"]), ("a cup of coffee", ["cup", "coffee"]),
         ("wood colours", ["orange", "brown"])]),
    "chelsea (a cat)": (
        lambda: Image.fromarray(data.chelsea()),
        [("no people", ["no people"]), ("a cat", ["cat"]), ("brown fur", ["brown"])]),
    "page (printed text)": (
        lambda: Image.fromarray(data.page()).convert("RGB"),
        [("printed text", ["lines of text"]), ("its first line", ["Region-based segmentation"])]),
    "sign (rendered notice)": (
        sign_photo,
        [("the words CLOSED ON SUNDAY", ["CLOSED ON SUNDAY"]), ("opening hours", ["Opening hours"])]),
    "rocket (launch pad at dusk)": (
        lambda: Image.fromarray(data.rocket()),
        [("dark blue sky", ["like sky"]), ("a rocket", ["rocket"]), ("no people", ["no people"])]),
}


def truth(engine: EmbeddedAnalyzer, folder: Path) -> None:
    """Describe photos of known content; say which true facts the description names."""
    named = total = 0
    for name, (make, facts) in KNOWN.items():
        path = folder / f"{name.split()[0]}.png"
        make().save(path)
        seconds, text = run_job(engine, path)
        print(f"\n{name} ({seconds:.2f} s): {text}")
        for fact, words in facts:
            found = any(word.lower() in text.lower() for word in words)
            named += found
            total += 1
            print(f"  names {fact}: {'yes' if found else 'no'}")
    print(f"\nfacts named: {named}/{total} (the embedded engine has no object classes: "
          "cups, cats and rockets need the vision-language engine)")


def main() -> None:
    """Run the benchmark."""
    engine = create_engine(Settings(vlm_model_dir=None))
    assert isinstance(engine, EmbeddedAnalyzer)
    start = time.perf_counter()
    engine.load()
    print(f"load: {time.perf_counter() - start:.2f} s")
    with tempfile.TemporaryDirectory() as tmp:
        speed(engine, Path(tmp))
        truth(engine, Path(tmp))


if __name__ == "__main__":
    main()
