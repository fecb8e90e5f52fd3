"""Speed and round-trip intelligibility of the embedded /csm engine (piper + joe).

Run: .venv/bin/python bench/bench_tts.py   (target: round-trip WER <= 10 %)
For each voice: 10 sentences rendered through the real engine (mp3 out), RTF = wall time /
audio seconds, then every file transcribed by our /whisper engine (base) and scored.
Finally the resident memory of this process, which holds both engines loaded.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from c3render.engines.base import EngineJob  # noqa: E402
from c3render.engines.stt import WhisperEngine  # noqa: E402
from c3render.engines.tts.piper import PiperEngine  # noqa: E402
from c3render.job import JobType  # noqa: E402
from c3render.settings import Settings  # noqa: E402
from tests.support.wer import word_errors  # noqa: E402

SENTENCES = [
    "Please bring the blue folder to the meeting room before noon on Thursday.",
    "The weather was cold, so we stayed inside and read books all afternoon.",
    "Our new service turns written text into clear and natural speech.",
    "She opened the window and listened to the birds singing in the garden.",
    "The train to the city leaves from the second platform every hour.",
    "He forgot his umbrella at the station and walked home in the rain.",
    "A good cup of coffee makes the morning feel a little brighter.",
    "The children built a small wooden boat and sailed it on the lake.",
    "Remember to save your work before you close the laptop tonight.",
    "The museum will open a new exhibition about ancient maps next week.",
]


def rss_mb() -> float:
    """Current resident set size of this process in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-tts-"))
    settings = Settings(data_dir=work / "data")
    tts, stt = PiperEngine(settings), WhisperEngine(settings)
    tts.load()
    stt.load()
    print(f"piper:joe at {tts.sample_rate} Hz; listener: Whisper base (language=en, beam "
          f"{settings.whisper_beam_size}); {len(SENTENCES)} sentences per voice")
    print(f"{'voice':18} {'audio s':>8} {'RTF':>6} {'WER':>7}")
    for voice in ("conversational_a", "conversational_b"):
        errors = words = 0
        took = audio = 0.0
        for index, sentence in enumerate(SENTENCES):
            folder = work / f"{voice}-{index}"
            folder.mkdir()
            job = EngineJob(f"b{index}", JobType.CSM, {"text": sentence, "voice": voice,
                            "temperature": 0.9, "max_audio_length": 30000, "pause_duration": 150,
                            "format": "mp3"}, {}, folder)
            start = time.perf_counter()
            result = tts.run(job)
            took += time.perf_counter() - start
            audio += result.extra["duration"]
            heard = stt.run(EngineJob("l", JobType.WHISPER, {"model": "base", "language": "en",
                            "task": "transcribe"}, {"audio_url": result.file}, folder)).text
            err, count = word_errors(sentence, heard or "")
            errors, words = errors + err, words + count
        print(f"{voice:18} {audio:8.1f} {took / audio:6.3f} {errors / words:7.2%}"
              f"  ({errors}/{words} words)")
    print(f"RSS with both engines loaded (piper:joe + Whisper base): {rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
