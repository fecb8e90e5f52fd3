"""The embedded /csm engine (piper + joe), checked by ear with our own Whisper engine."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from c3render.api.schemas import CsmRequest
from c3render.engines.base import EngineJob, EngineResult
from c3render.engines.registry import create_engine
from c3render.engines.stt import WhisperEngine
from c3render.engines.stt.catalog import installed_models
from c3render.engines.tts.audio import shift_pitch
from c3render.engines.tts.piper import CALIBRATION, CLONE_NOTE, PiperEngine
from c3render.engines.tts.speaker import SpeakerEncoder, similarity
from c3render.engines.tts.text import split_sentences
from c3render.errors import InputError
from c3render.job import JobType
from c3render.media.audio import decode_audio, encode_audio
from c3render.media.streaming import STREAM_RATE, PcmConverter
from c3render.settings import Settings
from tests.support.wer import wer

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
needs_encoder = pytest.mark.skipif(
    importlib.util.find_spec("resemblyzer") is None,
    reason="resemblyzer (requirements/engines-nodeps.txt, --no-deps) is not installed")
SENTENCE = "Please bring the blue folder to the meeting room before noon on Thursday."


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(data_dir=tmp_path_factory.mktemp("data"), whisper_cpu_threads=2)


@pytest.fixture(scope="module")
def engine(settings: Settings) -> PiperEngine:
    built = create_engine(JobType.CSM, settings)
    assert isinstance(built, PiperEngine)
    built.load()
    return built


@pytest.fixture(scope="module")
def listen(settings: Settings) -> Any:
    """Transcribe an audio file with Whisper base."""
    model = WhisperEngine(settings).model_for(installed_models(settings)["base"])

    def transcribe(path: Path) -> str:
        segments, _ = model.transcribe(decode_audio(path), language="en", beam_size=1)
        return " ".join(segment.text for segment in segments)

    return transcribe


def render(engine: PiperEngine, tmp_path: Path, inputs: dict[str, Path] | None = None,
           job_id: str = "job-1", **fields: Any) -> tuple[EngineResult, list[float]]:
    """Validate ``fields`` like the API does, then run the engine."""
    request = CsmRequest(**{"reference_audio_url": "http://x/r.wav"} if inputs else {}, **fields)
    params = request.params()
    progress: list[float] = []
    workdir = tmp_path / job_id
    workdir.mkdir()
    job = EngineJob(job_id, JobType.CSM, params, inputs or {}, workdir, progress.append)
    return engine.run(job), progress


@pytest.mark.parametrize("voice", ["conversational_a", "conversational_b"])
def test_each_voice_is_intelligible(engine: PiperEngine, listen: Any, tmp_path: Path,
                                    voice: str) -> None:
    result, progress = render(engine, tmp_path, text=SENTENCE, voice=voice)
    assert result.extra["voice"] == voice and result.extra["engine"].startswith("piper:joe")
    assert result.media_type == "audio/mpeg" and result.file and result.file.name == "speech.mp3"
    assert wer(SENTENCE, listen(result.file)) < 0.25
    assert progress and progress[-1] <= 1


@needs_encoder
def test_voices_are_different_speakers_and_random_picks_one(engine: PiperEngine, tmp_path: Path) -> None:
    encoder = SpeakerEncoder()
    heard = {}
    for voice in ("conversational_a", "conversational_b"):
        result, _ = render(engine, tmp_path, job_id=voice, text=SENTENCE, voice=voice, format="wav")
        heard[voice] = encoder.embed(decode_audio(result.file, 16000))
    assert engine.name == "piper:joe+kokoro:jm_kumo"
    # two takes of one speaker score above 0.85 with this encoder; joe vs jm_kumo about 0.55
    assert similarity(heard["conversational_a"], heard["conversational_b"]) < 0.75
    chosen = {render(engine, tmp_path, job_id=f"r{i}", text="Hi there.")[0].extra["voice"]
              for i in range(8)}
    assert chosen == {"conversational_a", "conversational_b"}


def test_monologue_is_longer_by_its_pauses(engine: PiperEngine, tmp_path: Path) -> None:
    lines = ["The first line is short.", "The second one too.", "And a third."]
    tight, progress = render(engine, tmp_path, job_id="tight", monologue=lines,
                             voice="conversational_a", temperature=0.0, pause_duration=0)
    loose, _ = render(engine, tmp_path, job_id="loose", monologue=lines,
                      voice="conversational_a", temperature=0.0, pause_duration=500)
    assert loose.extra["duration"] - tight.extra["duration"] == pytest.approx(1.0, abs=0.02)
    assert len(progress) == 3 and progress == sorted(progress)


def test_max_audio_length_caps_each_sentence(engine: PiperEngine, tmp_path: Path) -> None:
    long = "This sentence goes on and on, far longer than one second could ever hold."
    result, _ = render(engine, tmp_path, text=long, voice="conversational_a",
                       max_audio_length=1000, format="wav")
    samples = decode_audio(result.file, 22050)
    assert result.extra["duration"] <= 1.0 and samples.size <= 22050 + 64
    assert np.abs(samples[-50:]).max() < 0.05  # faded out, not cut mid-wave


@pytest.mark.parametrize("fmt", ["mp3", "wav", "ogg"])
def test_formats_decode_back(engine: PiperEngine, tmp_path: Path, fmt: str) -> None:
    result, _ = render(engine, tmp_path, text="Short and sweet.", voice="conversational_a",
                       format=fmt)
    assert result.file and result.file.suffix == f".{fmt}"
    duration = decode_audio(result.file).size / 16000
    assert duration == pytest.approx(result.extra["duration"], abs=0.1)


@needs_encoder
@pytest.mark.parametrize("factor", [1.5, 0.8])
def test_clone_says_how_it_was_rendered(engine: PiperEngine, tmp_path: Path, factor: float) -> None:
    clip = decode_audio(LIBRIVOX / "sense_and_sensibility_01_austen_64kb-0870.wav")
    reference = tmp_path / "reference.wav"
    encode_audio(shift_pitch(clip, factor), 16000, reference, "wav")
    result, _ = render(
        engine, tmp_path, {"reference_audio_url": reference}, text=SENTENCE, voice="clone",
        reference_text="and mister john dashwood had then leisure to consider how much there "
        "might be prudently in his power to do for them", format="wav",
    )
    assert result.extra["voice"] == "clone" and result.extra["voice_note"].startswith(CLONE_NOTE)
    assert result.extra["clone_base_voice"] in result.extra["voice_note"]
    assert 0 < result.extra["clone_similarity"] <= 1


class _FakeVoices:
    """Scores a candidate by what its rendering says it is: a blend of a and b, pitched up,
    its spectrum matched half-way, fits best."""

    def __init__(self, flat: bool = False) -> None:
        self.flat = flat
        self.rendered: list[object] = []

    def render(self, candidate):
        self.rendered.append(candidate)
        return np.array([len(candidate.blend or {}), 1.0, 0.0])

    def adapt(self, audio, pitch):
        return np.array([audio[0], pitch, audio[2]])

    def match_spectrum(self, audio, strength):
        return np.array([audio[0], audio[1], strength])

    def similarity(self, audio):
        if self.flat:
            return 0.1
        blend, pitch, spectrum = audio
        return 0.7 + 0.1 * (blend == 2) + 0.05 * (pitch > 1.1) + {0.5: 0.04, 1.0: 0.01}.get(spectrum, 0)


def test_clone_search_keeps_the_best_and_tries_blends_pitch_and_spectrum() -> None:
    from c3render.engines.tts.clone import search

    voices = _FakeVoices()
    best = search(voices, 200.0, {"joe": 0.5, "a": 0.6, "b": 0.55}, [110.0, 150.0, 160.0], (0.7, 1.5))
    assert best.blend and set(best.blend) == {"a", "b"} and best.pitch > 1.1
    assert best.spectrum == 0.5 and best.score == pytest.approx(0.89)
    assert best.describe().endswith("spectrum matched 50%")
    assert len(voices.rendered) == 3  # two blends and the winner: moves and matches are not synthesised
    worse = search(_FakeVoices(flat=True), None, {"joe": 0.5, "a": 0.6, "b": 0.55}, [110.0, 150.0, 160.0], (0.7, 1.5))
    assert worse.blend == {"a": 1.0} and worse.score == 0.6  # never below the nearest voice
    assert worse.spectrum == 0.0 and "spectrum" not in worse.describe()


def test_a_clone_plan_with_a_spectrum_curve_filters_every_sentence(engine: PiperEngine) -> None:
    """The curve the search chose is applied to the job's own sentences, not only to the
    test sentence it was measured on."""
    from c3render.engines.tts.base import VoicePlan
    from c3render.engines.tts.spectrum import BANDS, band_levels

    curve = np.linspace(-6, 6, BANDS)
    plain = VoicePlan("clone", settings={"pitch": 1.0, "length": 1.0})
    matched = VoicePlan("clone", settings={"pitch": 1.0, "length": 1.0, "spectrum": curve})
    before = engine.speak(SENTENCE, plain, {"temperature": 0.0})
    after = engine.speak(SENTENCE, matched, {"temperature": 0.0})
    change = band_levels(after, engine.sample_rate) - band_levels(before, engine.sample_rate)
    assert np.abs((change - np.median(change)) - curve).max() < 1.5
    assert after.shape == before.shape


@needs_encoder
def test_a_restarted_engine_reuses_the_clone_measurements(
    engine: PiperEngine, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The voices' profiles and the search's renders are kept in the data dir: a new engine
    process on the same installation renders no test sentence and chooses the same voice."""
    clip = LIBRIVOX / "sense_and_sensibility_01_austen_64kb-0880.wav"
    fields = {"text": SENTENCE, "voice": "clone", "format": "wav",
              "reference_text": "a reference", "temperature": 0}
    first, _ = render(engine, tmp_path, {"reference_audio_url": clip}, job_id="first", **fields)
    again = PiperEngine(settings)
    again.load()
    spoken: list[str] = []
    speak = again.speak
    monkeypatch.setattr(again, "speak", lambda sentence, *rest: spoken.append(sentence) or speak(sentence, *rest))
    second, _ = render(again, tmp_path, {"reference_audio_url": clip}, job_id="second", **fields)
    assert CALIBRATION not in spoken and spoken  # only the job's own sentence was rendered
    assert second.extra["clone_base_voice"] == first.extra["clone_base_voice"]
    assert list((settings.data_dir / "models").glob("clone-voices-*.npz"))


@needs_encoder
def test_clone_is_closer_to_the_reference_than_the_default_voice(
    engine: PiperEngine, tmp_path: Path
) -> None:
    clip = LIBRIVOX / "sense_and_sensibility_01_austen_64kb-0870.wav"
    words = ("and mister john dashwood had then leisure to consider how much there might be "
             "prudently in his power to do for them")
    clone, _ = render(engine, tmp_path, {"reference_audio_url": clip}, job_id="clone",
                      text=SENTENCE, voice="clone", reference_text=words, format="wav",
                      temperature=0)
    # temperature 0: piper's sampling noise moves the plain voice's similarity by ±0.03
    # between renders (0.51–0.56 over 5), enough to make a 0.05 margin flaky.
    plain, _ = render(engine, tmp_path, job_id="plain", text=SENTENCE, voice="conversational_a",
                      format="wav", temperature=0)
    encoder = SpeakerEncoder()
    reference = encoder.embed(decode_audio(clip, 16000))
    to_reference = {name: similarity(encoder.embed(decode_audio(result.file, 16000)), reference)
                    for name, result in (("clone", clone), ("plain", plain))}
    assert to_reference["clone"] > to_reference["plain"] + 0.05, to_reference
    assert clone.extra["clone_similarity"] == pytest.approx(to_reference["clone"], abs=0.05)


def test_clone_without_reference_and_bad_reference(engine: PiperEngine, tmp_path: Path) -> None:
    job = EngineJob("c", JobType.CSM, {"text": "Hi.", "voice": "clone", "reference_text": "x"},
                    {}, tmp_path)
    with pytest.raises(InputError, match="reference_audio_url"):
        engine.run(job)
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF" + b"\x00" * 100)
    job.inputs = {"reference_audio_url": junk}
    with pytest.raises(InputError, match="reference_audio_url"):
        engine.run(job)


def test_long_text_is_split_into_sentences(engine: PiperEngine, tmp_path: Path) -> None:
    text = " ".join(f"Sentence number {n} is here." for n in range(1, 7))
    result, progress = render(engine, tmp_path, text=text, voice="conversational_a")
    assert result.extra["sentences"] == 6 and len(progress) == 6


def test_split_sentences_handles_any_length() -> None:
    assert split_sentences("One. Two!  Three?\n\nFour") == ["One.", "Two!", "Three?", "Four"]
    pieces = split_sentences("word, " * 400)
    assert len(pieces) > 5 and all(len(piece) <= 260 for piece in pieces)


def test_conversation_speaks_each_turn_in_its_voice(engine: PiperEngine, listen: Any, tmp_path: Path) -> None:
    turns = [{"speaker": "conversational_a", "text": "Good morning. Did you bring the folder?"},
             {"speaker": "conversational_b", "text": "Yes, it is on the table."},
             {"speaker": "conversational_a", "text": "Thank you."}]
    result, _ = render(engine, tmp_path, conversation=turns, format="wav")
    assert result.extra["voice"] == "conversation" and result.extra["sentences"] == 4
    assert result.extra["voices"] == ["conversational_a", "conversational_b"]
    assert result.file is not None
    heard = listen(result.file)
    assert wer("Good morning. Did you bring the folder? Yes, it is on the table. Thank you.", heard) <= 0.15, heard
    samples = decode_audio(result.file, 16000)
    one, _ = render(engine, tmp_path, job_id="one", text="Yes, it is on the table.",
                    voice="conversational_b", format="wav")
    assert one.file is not None
    assert samples.size > 2 * decode_audio(one.file, 16000).size  # all turns are there


@pytest.mark.parametrize("fields, field", [
    ({"conversation": []}, "conversation"),
    ({"conversation": [{"speaker": "No Body!", "text": "hi"}]}, "conversation.speaker"),
    ({"conversation": [{"speaker": "conversational_a", "text": "  "}]}, "conversation.text"),
    ({"text": "hi", "conversation": [{"speaker": "conversational_a", "text": "hi"}]}, "text"),
    ({"conversation": [{"speaker": "clone", "text": "hi"}]}, "reference_audio_url"),
])
def test_conversation_is_validated(fields: dict[str, Any], field: str) -> None:
    from pydantic import ValidationError

    from c3render.api.validation import describe

    with pytest.raises(ValidationError) as caught:
        CsmRequest(**fields)
    assert describe(caught.value).field == field


@needs_encoder
def test_a_named_voice_is_the_clone_of_its_recording_searched_once(
    settings: Settings, tmp_path: Path
) -> None:
    folder = tmp_path / "voices"
    folder.mkdir()
    encode_audio(decode_audio(LIBRIVOX / "sense_and_sensibility_01_austen_64kb-0870.wav", 22050),
                 22050, folder / "dashwood.wav", "wav")
    (folder / "dashwood.txt").write_text("and mister john dashwood had then leisure to consider how "
                                         "much there might be prudently in his power to do for them")
    engine = PiperEngine(settings.model_copy(update={"voices_dir": folder}))
    engine.load()
    result, _ = render(engine, tmp_path, text="Good morning.", voice="dashwood", format="wav")
    assert result.extra["voice"] == "dashwood" and result.extra["voice_note"].startswith("named voice dashwood")
    assert 0 < result.extra["clone_similarity"] <= 1
    job = EngineJob("again", JobType.CSM, {"text": "x", "voice": "dashwood"}, {}, tmp_path)
    assert engine.plan_voice("dashwood", job) is engine.plan_voice("dashwood", job)  # searched once
    with pytest.raises(InputError, match="voice: no voice named 'nobody'"):
        engine.plan_voice("nobody", job)


def test_each_sentence_is_emitted_as_rendered_and_together_they_are_the_result(
    engine: PiperEngine, tmp_path: Path
) -> None:
    pieces: list[np.ndarray] = []
    workdir = tmp_path / "emit"
    workdir.mkdir()
    params = CsmRequest(monologue=["One line here.", "Then another.", "And the last."],
                        voice="conversational_a", temperature=0.0, pause_duration=300,
                        format="wav").params()
    job = EngineJob("job-emit", JobType.CSM, params, {}, workdir,
                    emit_audio=lambda samples, rate: pieces.append(samples.copy()))
    result = engine.run(job)
    assert len(pieces) == 3 and all(piece.size for piece in pieces)
    # every piece after the first starts with the pause before its sentence
    assert np.abs(pieces[1][: int(engine.sample_rate * 0.3)]).max() == 0.0
    converter = PcmConverter()
    streamed = np.frombuffer(b"".join([converter.convert(p, engine.sample_rate) for p in pieces]
                                      + [converter.flush()]), dtype="<i2") / 32768.0
    stored = decode_audio(result.file, STREAM_RATE)
    assert abs(streamed.size - stored.size) <= 4, (streamed.size, stored.size)
    size = min(streamed.size, stored.size)
    assert np.corrcoef(streamed[:size], stored[:size])[0, 1] > 0.999
