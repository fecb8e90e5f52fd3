"""Benchmark of the embedded /portrait engine on the astronaut photo and LibriVox speech.

Prints compute seconds per second of 512×512 video (target ≤ 0.5) and lip-sync: the
Pearson correlation between the mouth opening measured by face mesh on the output frames
and the audio's log-RMS envelope (target ≥ 0.7). Run: ``.venv/bin/python bench/bench_portrait.py``.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from PIL import Image
from skimage import data

from c3render.engines.base import EngineJob
from c3render.engines.portrait.embedded import EmbeddedPortraitEngine
from c3render.job import JobType
from c3render.media.audio import decode_audio
from c3render.settings import Settings
from tests.support.lipsync import lip_sync_correlation

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
CLIPS = ["0870", "0890", "0920"]


def main() -> None:
    """Render each clip once and print speed and lip-sync figures."""
    engine = EmbeddedPortraitEngine(Settings(portrait_size=512))
    started = time.perf_counter()
    engine.load()
    print(f"load: {time.perf_counter() - started:.2f} s")
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        Image.fromarray(data.astronaut()).save(root / "astronaut.png")
        total_compute = total_video = 0.0
        correlations = []
        for clip in CLIPS:
            audio = LIBRIVOX / f"sense_and_sensibility_01_austen_64kb-{clip}.wav"
            work = root / clip
            work.mkdir()
            job = EngineJob(clip, JobType.PORTRAIT, {}, {"image_url": root / "astronaut.png", "audio_url": audio}, work)
            started = time.perf_counter()
            result = engine.run(job)
            compute = time.perf_counter() - started
            seconds = float(result.extra["duration"])
            correlation = lip_sync_correlation(result.file, decode_audio(audio, 16000), 16000)
            total_compute += compute
            total_video += seconds
            correlations.append(correlation)
            print(
                f"clip {clip}: {seconds:.2f} s of video in {compute:.2f} s "
                f"-> {compute / seconds:.3f} s per video second; lip-sync r = {correlation:.3f}"
            )
    print(f"compute seconds per second of 512x512 video: {total_compute / total_video:.3f} (target <= 0.5)")
    print(f"lip-sync correlation (mean): {sum(correlations) / len(correlations):.3f} (target >= 0.7)")


if __name__ == "__main__":
    main()
