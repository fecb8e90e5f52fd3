"""The embedded /csm engine: intelligibility, speed, how different its voices are, and clone.

Run: ``.venv/bin/python bench/bench_tts.py [voices] [clones] [named]`` (default: all). Two engines side by side: the current one
(joe + Kokoro's jm_kumo as conversational_b, clone choosing among six voices by speaker
embedding) and the previous one (``second_voice=False``: conversational_b and clone are joe
moved in pitch and rate).

- Voices: 10 sentences per voice through the engine (mp3 out); RTF = wall time / audio
  seconds; round-trip WER by our /whisper engine (base); speaker similarity of voice a and b
  (cosine of resemblyzer embeddings; two recordings of one speaker score above 0.8 here).
- Clone, for three real speakers of Debian's pocketsphinx-testdata (a LibriVox reader, the
  "cards" speaker, the speaker of goforward/numbers/something): one clip is the reference
  (its words from Whisper base), and the result is judged against the mean embedding of
  that speaker's *other* clips, so the figure is not the signal the clone chose by. Printed
  per speaker: similarity of the default voice (conversational_a), the previous clone and
  the current clone (target: current ≥ default + 0.15), and the clone's WER and RTF; then
  the clone's RTF for each speaker in a restarted engine (a new ``PiperEngine`` on the same
  data dir, which reads back what the search measured: ``clone_cache.py``).
- Named voices: each reference clip as a voice of ``C3_VOICES_DIR``: RTF of its first job
  (it runs the clone search) and of a later job (the search reused), clone's RTF beside.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from c3render.engines.base import EngineJob  # noqa: E402
from c3render.engines.stt import WhisperEngine  # noqa: E402
from c3render.engines.tts.piper import PiperEngine  # noqa: E402
from c3render.engines.tts.speaker import SpeakerEncoder, similarity  # noqa: E402
from c3render.job import JobType  # noqa: E402
from c3render.media.audio import decode_audio, encode_audio  # noqa: E402
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
DATA = Path("/usr/share/pocketsphinx/test/data")
LIBRIVOX = [DATA / f"librivox/sense_and_sensibility_01_austen_64kb-{n}.wav" for n in ("0870", "0880", "0890", "0920", "0930")]
SPEAKERS = {  # name: (reference clip, the speaker's other clips)
    "librivox reader": (LIBRIVOX[0], LIBRIVOX[1:]),
    "cards speaker": (DATA / "cards/005.wav", [DATA / f"cards/00{i}.wav" for i in range(1, 5)]),
    "goforward speaker": (DATA / "numbers.raw", [DATA / "goforward.raw", DATA / "something.raw"]),
}


def load_16k(path: Path) -> np.ndarray:
    """A clip as 16 kHz float32 (the .raw files are 16 kHz 16-bit PCM)."""
    if path.suffix == ".raw":
        return np.frombuffer(path.read_bytes(), np.int16).astype(np.float32) / 32768
    return decode_audio(path, 16000)


def judge_embedding(encoder: SpeakerEncoder, clips: list[Path]) -> np.ndarray:
    """What a clone is judged against: the unit mean embedding of the speaker's other clips."""
    mean = np.mean([encoder.embed(load_16k(path)) for path in clips], axis=0)
    return mean / np.linalg.norm(mean)


def synth(engine: PiperEngine, folder: Path, fields: dict, inputs: dict | None = None) -> tuple[Path, float, dict]:
    """One /csm job: the file, wall seconds and the result's additions."""
    folder.mkdir(parents=True)
    params = {"voice": "conversational_a", "temperature": 0.9, "max_audio_length": 30000,
              "pause_duration": 150, "format": "mp3", **fields}
    start = time.perf_counter()
    result = engine.run(EngineJob(folder.name, JobType.CSM, params, inputs or {}, folder))
    assert result.file is not None
    return result.file, time.perf_counter() - start, result.extra


def listen(stt: WhisperEngine, path: Path, folder: Path) -> str:
    """What Whisper base hears."""
    return stt.run(EngineJob("l", JobType.WHISPER, {"model": "base", "language": "en", "task": "transcribe"},
                             {"audio_url": path}, folder)).text or ""


def voices(engines: dict[str, PiperEngine], stt: WhisperEngine, encoder: SpeakerEncoder, work: Path) -> None:
    """WER, RTF and a-vs-b speaker similarity for each engine."""
    print(f"{'engine, voice':34} {'audio s':>8} {'RTF':>6} {'WER':>7}")
    for label, engine in engines.items():
        embeddings = {}
        for voice in ("conversational_a", "conversational_b"):
            errors = words = 0
            took = audio = 0.0
            heard_all = []
            for index, sentence in enumerate(SENTENCES):
                path, seconds, extra = synth(engine, work / f"{label}-{voice}-{index}", {"text": sentence, "voice": voice})
                took, audio = took + seconds, audio + extra["duration"]
                err, count = word_errors(sentence, listen(stt, path, path.parent))
                errors, words = errors + err, words + count
                heard_all.append(decode_audio(path, 16000))
            embeddings[voice] = encoder.embed(np.concatenate(heard_all))
            print(f"{label + ', ' + voice:34} {audio:8.1f} {took / audio:6.3f} {errors / words:7.2%}  ({errors}/{words} words)")
        print(f"{label + ': similarity of voice a and b':34} {similarity(*embeddings.values()):8.2f}")


def clones(engines: dict[str, PiperEngine], stt: WhisperEngine, encoder: SpeakerEncoder, work: Path) -> None:
    """Similarity to each real speaker: default voice, previous clone, current clone."""
    text = " ".join(SENTENCES[:3])
    print(f"\n{'reference speaker':20} {'default':>8} {'clone before':>13} {'clone now':>10} {'now-default':>12} {'WER now':>8} {'RTF now':>8}  voice used")
    gains: list[float] = []
    misheard = [0, 0]  # words wrong, words said: the clone's WER over every speaker
    references: list[tuple[str, Path, str]] = []
    for name, (reference, others) in SPEAKERS.items():
        judge = judge_embedding(encoder, others)
        ref_wav = work / f"{name.split()[0]}-ref.wav"
        encode_audio(load_16k(reference), 16000, ref_wav, "wav")
        words = listen(stt, ref_wav, work)
        references.append((name, ref_wav, words))
        scores, extra_now, wer_now, rtf_now = {}, {}, 0.0, 0.0
        for label, engine, voice in (("default", engines["now"], "conversational_a"),
                                     ("before", engines["before"], "clone"), ("now", engines["now"], "clone")):
            fields = {"text": text, "voice": voice, "reference_text": words}
            path, seconds, extra = synth(engine, work / f"{name.split()[0]}-{label}", fields,
                                         {"reference_audio_url": ref_wav} if voice == "clone" else None)
            scores[label] = similarity(encoder.embed(decode_audio(path, 16000)), judge)
            if label == "now":
                extra_now, rtf_now = extra, seconds / extra["duration"]
                err, count = word_errors(text, listen(stt, path, path.parent))
                wer_now, misheard = err / count, [misheard[0] + err, misheard[1] + count]
        gains.append(scores["now"] - scores["default"])
        print(f"{name:20} {scores['default']:8.2f} {scores['before']:13.2f} {scores['now']:10.2f} "
              f"{gains[-1]:+12.2f} {wer_now:8.1%} {rtf_now:8.3f}  {extra_now.get('clone_base_voice')}"
              f" (clone_similarity to the reference clip {extra_now.get('clone_similarity')})")
    print(f"mean gain over the default voice: {np.mean(gains):+.3f} (target +0.15), {len(gains)} speakers, "
          f"3 sentences each; clone WER {misheard[0] / misheard[1]:.1%} ({misheard[0]}/{misheard[1]} words)")
    restarted = PiperEngine(engines["now"].settings)  # a new engine process on this installation
    restarted.load()
    rtfs = []
    for name, ref_wav, words in references:
        fields = {"text": text, "voice": "clone", "reference_text": words}
        _path, seconds, extra = synth(restarted, work / f"{name.split()[0]}-restarted", fields,
                                      {"reference_audio_url": ref_wav})
        rtfs.append(f"{name} {seconds / extra['duration']:.3f}")
    print("clone RTF in a restarted engine (the measurements read back from the data dir): "
          + ", ".join(rtfs))


def named(settings: Settings, stt: WhisperEngine, work: Path) -> None:
    """Each speaker's reference clip as a named voice: RTF of its first job (which runs the
    clone search) and of a later one (the plan reused), beside clone's RTF on the same text."""
    folder = work / "voices"
    folder.mkdir()
    for name, (reference, _) in SPEAKERS.items():
        voice = name.split()[0]
        encode_audio(load_16k(reference), 16000, folder / f"{voice}.wav", "wav")
        (folder / f"{voice}.txt").write_text(listen(stt, folder / f"{voice}.wav", work))
    engine = PiperEngine(settings.model_copy(update={"voices_dir": folder}))
    engine.load()
    print(f"\n{'named voice':20} {'RTF clone':>10} {'RTF 1st job':>12} {'RTF later':>10}  (3 sentences each)")
    rtfs = []
    for name in SPEAKERS:
        voice = name.split()[0]
        text = " ".join(SENTENCES[:3])
        inputs = {"reference_audio_url": folder / f"{voice}.wav"}
        _, clone_s, clone_x = synth(engine, work / f"named-{voice}-clone", {
            "text": text, "voice": "clone", "reference_text": (folder / f"{voice}.txt").read_text()}, inputs)
        _, first_s, first_x = synth(engine, work / f"named-{voice}-1", {"text": text, "voice": voice})
        _, later_s, later_x = synth(engine, work / f"named-{voice}-2", {"text": " ".join(SENTENCES[3:6]), "voice": voice})
        rtfs.append(later_s / later_x["duration"])
        print(f"{name:20} {clone_s / clone_x['duration']:10.3f} {first_s / first_x['duration']:12.3f} {rtfs[-1]:10.3f}")
    print(f"named voice after its first job: median RTF {np.median(rtfs):.3f} (target 0.5), {len(rtfs)} voices")


def main() -> None:
    """Run every part."""
    work = Path(tempfile.mkdtemp(prefix="bench-tts-"))
    settings = Settings(data_dir=work / "data")
    engines = {"now": PiperEngine(settings), "before": PiperEngine(settings, second_voice=False)}
    stt = WhisperEngine(settings)
    for engine in engines.values():
        engine.load()
    stt.load()
    encoder = SpeakerEncoder()
    print(f"engines: now = {engines['now'].name}, before = {engines['before'].name}; listener Whisper base")
    parts = sys.argv[1:] or ["voices", "clones", "named"]  # e.g. bench_tts.py named
    if "voices" in parts:
        voices(engines, stt, encoder, work)
    if "clones" in parts:
        clones(engines, stt, encoder, work)
    if "named" in parts:
        named(settings, stt, work)


if __name__ == "__main__":
    main()
