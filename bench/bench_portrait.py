"""Benchmark of the embedded /portrait engine: speed, and lip-sync measured so it can fail.

Run: ``.venv/bin/python bench/bench_portrait.py``. Two mouths side by side on the same
inputs (the astronaut photo, 512×512): the current one driven by the words' sounds
(``mouth="visemes"``: Whisper word timing + spelling + an energy aligner) and the previous
one driven by loudness (``mouth="energy"``, the baseline).

- Speed: compute seconds per second of video on three LibriVox clips (target ≤ 0.5).
- Lip-sync: piper speaks three texts full of m/b/p and open vowels and reports when each
  phoneme is said (its alignments; the engine never sees them). Face mesh measures the
  mouth on the output video at every bilabial (smallest opening within ± one frame), open
  vowel (largest) and pause (mean), as the inner-lip gap over the eye-corner distance.
  Printed: those means, ``closure`` = 1 − bilabial/open, the share of bilabials whose lips
  shut (under a fifth of the open-vowel mean), and pause/open, with the sample counts.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data

ROOT = Path(__file__).resolve().parents[1]
for _path in (str(ROOT / "src"), str(ROOT)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from c3render.engines.base import EngineJob  # noqa: E402
from c3render.engines.portrait.embedded import EmbeddedPortraitEngine  # noqa: E402
from c3render.job import JobType  # noqa: E402
from c3render.media.audio import encode_audio  # noqa: E402
from c3render.settings import Settings  # noqa: E402
from tests.support.lipsync import piper_speech, viseme_scores  # noqa: E402

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
CLIPS = ["0870", "0890", "0920"]
TEXTS = [
    "Mama bought a big apple pie. Bob paid for the map, but the mop was bad.",
    "My father parked the boat by the palm tree. Pam may bake a lamb pot pie.",
    "Maybe Bob will box the apples tomorrow. Come back, my man, the bus is parked.",
]
MODES = ("visemes", "energy")


def render(engine: EmbeddedPortraitEngine, image: Path, audio: Path, work: Path) -> tuple[Path, float, float, str]:
    """One job: the video, compute seconds, video seconds and the mouth's source."""
    work.mkdir(parents=True)
    job = EngineJob(work.name, JobType.PORTRAIT, {}, {"image_url": image, "audio_url": audio}, work)
    started = time.perf_counter()
    result = engine.run(job)
    assert result.file is not None
    return result.file, time.perf_counter() - started, float(result.extra["duration"]), str(result.extra["mouth"])


def main() -> None:
    """Render every input with both mouths and print the figures side by side."""
    engines = {mode: EmbeddedPortraitEngine(Settings(portrait_size=512), mouth=mode) for mode in MODES}
    for engine in engines.values():
        engine.load()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        image = root / "astronaut.png"
        Image.fromarray(data.astronaut()).save(image)
        speed = {mode: [0.0, 0.0] for mode in MODES}
        for clip in CLIPS:
            audio = LIBRIVOX / f"sense_and_sensibility_01_austen_64kb-{clip}.wav"
            for mode, engine in engines.items():
                _, compute, seconds, _ = render(engine, image, audio, root / f"{mode}-{clip}")
                speed[mode][0] += compute
                speed[mode][1] += seconds
        scores: dict[str, list[dict[str, float]]] = {mode: [] for mode in MODES}
        for index, text in enumerate(TEXTS):
            samples, rate, phonemes = piper_speech(text)
            audio = root / f"piper-{index}.wav"
            encode_audio(samples, rate, audio, "wav")
            for mode, engine in engines.items():
                video, _, _, source = render(engine, image, audio, root / f"{mode}-piper-{index}")
                scores[mode].append(viseme_scores(video, phonemes))
                print(f"text {index + 1}, {mode:7}: mouth from {source}")
    print(f"\n{'':46}{'visemes (now)':>16}{'energy (before)':>18}")
    print(f"{'compute s per s of 512x512 video (3 clips)':46}"
          + "".join(f"{speed[m][0] / speed[m][1]:>{w}.3f}" for m, w in zip(MODES, (16, 18))))
    rows = [("opening at m/b/p (smaller is better)", "bilabial"), ("opening at open vowels", "open"),
            ("opening in pauses", "pause"), ("closure = 1 - bilabial/open", "closure"),
            ("share of m/b/p with lips shut", "bilabials_shut"), ("pause / open", "pause_ratio")]
    for label, key in rows:
        print(f"{label:46}" + "".join(f"{np.mean([s[key] for s in scores[m]]):>{w}.3f}"
                                      for m, w in zip(MODES, (16, 18))))
    counts = {key: int(sum(s[f"n_{key}"] for s in scores["visemes"])) for key in ("bilabial", "open", "pause")}
    print(f"\nsamples: {counts['bilabial']} bilabials, {counts['open']} open vowels, {counts['pause']} pauses "
          f"in {len(TEXTS)} piper texts; the mean of the per-text figures is shown")


if __name__ == "__main__":
    main()
