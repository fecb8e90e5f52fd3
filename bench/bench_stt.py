"""WER and real-time factor of the /whisper engine on the LibriVox clips, per installed model.

Run: .venv/bin/python bench/bench_stt.py   (targets with the default model: WER <= 3 %, RTF <= 0.1)
Each model runs through the real engine (decode, VAD, windows) on every clip, then on the
five clips joined (long-form, where per-call overhead is amortised). RTF = wall time / audio.
"""

from __future__ import annotations

import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from c3render.engines.base import EngineJob  # noqa: E402
from c3render.engines.stt import WhisperEngine  # noqa: E402
from c3render.engines.stt.catalog import choose_model  # noqa: E402
from c3render.job import JobType  # noqa: E402
from c3render.media.audio import decode_audio, encode_audio  # noqa: E402
from c3render.settings import Settings  # noqa: E402
from tests.support.wer import word_errors  # noqa: E402

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")


def clips() -> list[tuple[Path, str]]:
    """(wav path, reference) for every clip."""
    out = []
    for line in (LIBRIVOX / "transcription").read_text().splitlines():
        match = re.match(r"<s>(.*)</s> \((.*)\)", line.strip())
        if match:
            out.append((LIBRIVOX / f"{match.group(2)}.wav", match.group(1).strip()))
    return out


def run(engine: WhisperEngine, path: Path, model: str, work: Path) -> tuple[str, float]:
    job = EngineJob("bench", JobType.WHISPER, {"model": model, "task": "transcribe",
                    "language": "en"}, {"audio_url": path}, work)
    start = time.perf_counter()
    text = engine.run(job).text or ""
    return text, time.perf_counter() - start


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-stt-"))
    engine = WhisperEngine(Settings(data_dir=work / "data"))
    engine.load()
    data = clips()
    joined = work / "joined.wav"
    gap = np.zeros(8000, dtype=np.float32)
    encode_audio(np.concatenate([np.concatenate([decode_audio(p), gap]) for p, _ in data] * 4),
                 16000, joined, "wav")
    joined_seconds = decode_audio(joined).size / 16000
    default = choose_model(engine.catalog, "medium", False).name
    print(f"LibriVox: {len(data)} clips, beam {engine.settings.whisper_beam_size}, "
          f"language=en; default model for a 'medium' request: {default}")
    print(f"{'model':10} {'WER':>7} {'RTF clips':>10} {'RTF long':>9}  (long: clips joined x4, "
          f"{joined_seconds:.0f} s)")
    for name in engine.catalog:
        engine.model_for(engine.catalog[name])
        run(engine, data[0][0], name, work)  # warm-up
        errors = words = 0
        seconds = audio = 0.0
        for path, reference in data:
            text, took = run(engine, path, name, work)
            err, count = word_errors(reference, text)
            errors, words = errors + err, words + count
            seconds, audio = seconds + took, audio + decode_audio(path).size / 16000
        _, long_took = run(engine, joined, name, work)
        print(f"{name:10} {errors / words:7.2%} {seconds / audio:10.3f} "
              f"{long_took / joined_seconds:9.3f}  ({errors}/{words} words)")


if __name__ == "__main__":
    main()
