"""How far the embedded voices can get towards a real speaker at best: the clone's ceiling.

Run: ``.venv/bin/python bench/bench_clone_ceiling.py`` (about 7 minutes on 2 cores).

The clone target of issue #13 (+0.15 cosine over the default voice, judged against the
speaker's *other* clips) rests on what the embedded voices can reach at all. This renders
the bench's 3-sentence text in 46 candidates: joe, Kokoro's five voices, every pair of them
blended 25/50/75 %, and each voice pushed away from the others (×1.5, ×2: its style vector
minus a share of theirs), each unmoved and moved to the reference's pitch (fully, half-way).
For each of ``bench_tts.py``'s three speakers it prints

- the best 3 by similarity to the *reference clip* (what a search can see), and
- the *oracle*: the best 3 by similarity to the judge clips themselves, which no search
  may use; its gain over the default voice is the ceiling of any choice among these
  candidates, against which the clone's figure in ``bench_tts.py clones`` is read.
"""

from __future__ import annotations

import itertools
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]
from bench_tts import SENTENCES, SPEAKERS, judge_embedding, load_16k  # noqa: E402

from c3render.engines.tts.audio import median_pitch, shift_pitch  # noqa: E402
from c3render.engines.tts.base import VoicePlan  # noqa: E402
from c3render.engines.tts.kokoro import VOICES  # noqa: E402
from c3render.engines.tts.piper import PITCH_RANGE, PiperEngine  # noqa: E402
from c3render.engines.tts.speaker import SpeakerEncoder, similarity, to_16k  # noqa: E402
from c3render.settings import Settings  # noqa: E402


def candidates() -> dict[str, dict[str, float] | None]:
    """Every voice, every pair blended, every voice pushed away from the rest."""
    found: dict[str, dict[str, float] | None] = {"joe": None, **{v: {v: 1.0} for v in VOICES}}
    for first, second in itertools.combinations(VOICES, 2):
        for weight in (0.25, 0.5, 0.75):
            found[f"{first} {weight:.0%} + {second}"] = {first: weight, second: 1 - weight}
    for voice in VOICES:
        rest = [v for v in VOICES if v != voice]
        for push in (1.5, 2.0):
            found[f"{voice} ×{push}"] = {voice: push, **{v: (1 - push) / len(rest) for v in rest}}
    return found


def main() -> None:
    """Render every candidate once, then score it for each speaker."""
    engine = PiperEngine(Settings(data_dir=Path(tempfile.mkdtemp(prefix="bench-ceiling-"))))
    engine.load()
    encoder = SpeakerEncoder()
    text = " ".join(SENTENCES[:3])
    renders = {}
    for name, blend in candidates().items():
        plan = VoicePlan("clone", settings={"pitch": 1.0, "length": 1.0, **({"kokoro": blend} if blend else {})})
        renders[name] = engine.speak(text, plan, {"temperature": 0.0})
    print(f"{len(renders)} candidates × up to 3 pitches (unmoved, to the reference, half-way), 3 speakers")
    gains = {"search view": [], "oracle": []}
    for speaker, (reference, others) in SPEAKERS.items():
        clip = load_16k(reference)
        seen, ref_pitch = encoder.embed(clip), median_pitch(clip, 16000)
        judge = judge_embedding(encoder, others)
        rows = []
        for name, audio in renders.items():
            full = float(np.clip(ref_pitch / median_pitch(audio, engine.sample_rate), *PITCH_RANGE))
            for factor in sorted({1.0, full, float(np.sqrt(full))}):
                heard = encoder.embed(to_16k(shift_pitch(audio, factor), engine.sample_rate))
                rows.append((name, factor, similarity(heard, seen), similarity(heard, judge)))
        default = next(r[3] for r in rows if r[0] == "joe" and r[1] == 1.0)
        print(f"\n{speaker}: default voice (joe) {default:.3f} to the judge clips")
        for label, key in (("search view", 2), ("oracle", 3)):
            best = sorted(rows, key=lambda r: -r[key])[:3]
            gains[label].append(best[0][3] - default)
            for name, factor, to_ref, to_judge in best:
                print(f"  {label:11} {name:28} pitch ×{factor:.2f}  reference {to_ref:.3f}  "
                      f"judge {to_judge:.3f}  gain {to_judge - default:+.3f}")
    for label, values in gains.items():
        print(f"mean gain, {label} best: {np.mean(values):+.3f} ({', '.join(f'{v:+.3f}' for v in values)})")


if __name__ == "__main__":
    main()
