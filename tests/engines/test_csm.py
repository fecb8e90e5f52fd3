"""The CSM engine's loading and generation code on a tiny random-weight CSM built here."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from c3render.engines.base import EngineJob  # noqa: E402
from c3render.engines.registry import create_engine  # noqa: E402
from c3render.engines.tts.csm import CsmEngine, generation_kwargs  # noqa: E402
from c3render.errors import EngineUnavailable, InputError  # noqa: E402
from c3render.job import JobType  # noqa: E402
from c3render.media.audio import decode_audio, encode_audio  # noqa: E402
from c3render.settings import Settings  # noqa: E402

os.environ["HF_HUB_OFFLINE"] = "1"

#: CSM's prompt format: "<bos>[speaker]text<eos>" per text, "<|AUDIO|><|audio_eos|>" per audio.
CHAT_TEMPLATE = (
    "{%- for message in messages -%}{%- for item in message['content'] -%}"
    "{%- if item['type'] == 'text' -%}"
    "{{ bos_token + '[' + message['role'] + ']' + item['text'] + eos_token }}"
    "{%- elif item['type'] == 'audio' -%}{{ '<|AUDIO|><|audio_eos|>' }}{%- endif -%}"
    "{%- endfor -%}{%- endfor -%}"
)
SPECIALS = ["<unk>", "<|begin_of_text|>", "<|pad|>", "<|end_of_text|>"]


def tiny_tokenizer() -> transformers.PreTrainedTokenizerFast:
    """A character-level tokenizer with CSM's special tokens at the config's ids."""
    from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers

    chars = list("abcdefghijklmnopqrstuvwxyz0123456789 .,!?'-[]")
    vocab = {token: index for index, token in enumerate(SPECIALS + chars)}
    vocab.update({"<|AUDIO|>": 98, "<|audio_eos|>": 99})
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    tok.add_special_tokens(SPECIALS + ["<|AUDIO|>", "<|audio_eos|>"])
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<|begin_of_text|>", eos_token="<|end_of_text|>",
        pad_token="<|pad|>", unk_token="<unk>",
    )


def tiny_config() -> transformers.CsmConfig:
    """Values from MODELS.md section 8 (1.6 M parameters)."""
    depth = dict(num_codebooks=4, backbone_hidden_size=64, vocab_size=32, hidden_size=64,
                 intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, max_position_embeddings=8)
    codec = dict(model_type="mimi", audio_channels=1, sampling_rate=24000, frame_rate=12.5,
                 hidden_size=32, num_filters=8, num_residual_layers=1,
                 upsampling_ratios=[8, 5, 4, 4, 3], codebook_size=32, codebook_dim=32,
                 vector_quantization_hidden_dimension=32, num_quantizers=4,
                 num_semantic_quantizers=1, upsample_groups=32, num_hidden_layers=2,
                 num_attention_heads=2, num_key_value_heads=2, intermediate_size=64,
                 head_dim=16, sliding_window=16, use_cache=False, chunk_in_sec=None)
    return transformers.CsmConfig(
        depth_decoder_config=depth, codec_config=codec, num_codebooks=4, vocab_size=32,
        text_vocab_size=100, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
        bos_token_id=1, pad_token_id=2, eos_token_id=3, codebook_pad_token_id=31,
        codebook_eos_token_id=0, audio_token_id=98, audio_eos_token_id=99,
    )


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random CSM with its processor, saved like a downloaded CSM-1B folder."""
    folder = tmp_path_factory.mktemp("csm-tiny")
    torch.manual_seed(0)
    transformers.CsmForConditionalGeneration(tiny_config()).save_pretrained(folder)
    extractor = transformers.EncodecFeatureExtractor(feature_size=1, sampling_rate=24000)
    processor = transformers.CsmProcessor(extractor, tiny_tokenizer(), chat_template=CHAT_TEMPLATE)
    processor.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def engine(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> CsmEngine:
    settings = Settings(data_dir=tmp_path_factory.mktemp("data"), csm_model_dir=model_dir)
    built = create_engine(JobType.CSM, settings)
    assert isinstance(built, CsmEngine)
    built.load()
    return built


def job(tmp_path: Path, inputs: dict[str, Path] | None = None, **params: object) -> EngineJob:
    base = {"voice": "conversational_a", "temperature": 0.9, "topk": 50,
            "max_audio_length": 1000, "pause_duration": 150, "format": "wav"}
    return EngineJob("csm-1", JobType.CSM, {**base, **params}, inputs or {}, tmp_path)


def test_generates_speaker_audio_at_24k(engine: CsmEngine, tmp_path: Path) -> None:
    result = engine.run(job(tmp_path, text="Hello there. How are you?", voice="conversational_b"))
    assert result.extra["voice"] == "conversational_b" and result.extra["engine"].startswith("csm:")
    samples = decode_audio(result.file, 24000)
    # two sentences of at most 1 s (13 frames of 1920 samples) plus one pause
    assert 0 < samples.size <= 2 * 13 * 1920 + 3600 + 480
    assert np.abs(samples).max() <= 1.0 and np.abs(samples).max() > 0


def test_clone_uses_the_reference_as_context(engine: CsmEngine, tmp_path: Path) -> None:
    reference = tmp_path / "ref.wav"
    tone = 0.3 * np.sin(2 * np.pi * 180 * np.arange(24000) / 24000).astype(np.float32)
    encode_audio(tone, 24000, reference, "wav")
    plan = engine.plan_voice("clone", job(tmp_path, {"reference_audio_url": reference},
                                          text="x", voice="clone", reference_text="a tone"))
    assert plan.settings and plan.settings["context"][0]["content"][1]["type"] == "audio"
    result = engine.run(job(tmp_path, {"reference_audio_url": reference}, text="Say it.",
                            voice="clone", reference_text="a tone", temperature=0.0))
    assert result.extra["voice"] == "clone" and result.extra["duration"] > 0


def test_generation_kwargs_map_request_fields() -> None:
    kwargs = generation_kwargs({"temperature": 0.7, "topk": 20, "max_audio_length": 2000})
    assert kwargs["max_new_tokens"] == 25 and kwargs["top_k"] == 20
    assert kwargs["depth_decoder_temperature"] == 0.7 and kwargs["do_sample"]
    assert not generation_kwargs({"temperature": 0.0})["do_sample"]


def test_missing_model_dir_is_reported(tmp_path: Path) -> None:
    engine = CsmEngine(Settings(data_dir=tmp_path, csm_model_dir=tmp_path / "absent"))
    with pytest.raises(EngineUnavailable, match="C3_CSM_MODEL_DIR"):
        engine.load()


def test_bfloat16_model_gets_bfloat16_inputs_for_clone(model_dir: Path, tmp_path: Path) -> None:
    """The GPU path's dtype: a bf16 model with a reference context (input_values) generates."""
    settings = Settings(data_dir=tmp_path / "data", csm_model_dir=model_dir)
    built = create_engine(JobType.CSM, settings)
    assert isinstance(built, CsmEngine)
    built.load()
    built._model = built._model.to(torch.bfloat16)
    reference = tmp_path / "ref.wav"
    encode_audio(0.3 * np.sin(np.arange(24000) / 8).astype(np.float32), 24000, reference, "wav")
    result = built.run(job(tmp_path, {"reference_audio_url": reference}, text="Say it.",
                           voice="clone", reference_text="a tone", temperature=0.0))
    assert result.extra["duration"] > 0
    from c3render.engines.tts.csm import to_model

    moved = to_model({"input_values": torch.zeros(2), "input_ids": torch.ones(2, dtype=torch.long)},
                     built._model)
    assert moved["input_values"].dtype == torch.bfloat16 and moved["input_ids"].dtype == torch.long


def test_prompt_recordings_fix_the_named_voices(model_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "with-prompts"
    shutil.copytree(model_dir, folder)
    (folder / "prompts").mkdir()
    encode_audio(0.2 * np.sin(np.arange(12000) / 5).astype(np.float32), 24000,
                 folder / "prompts" / "conversational_a.wav", "wav")
    (folder / "prompts" / "conversational_a.txt").write_text("like a prompt")
    built = create_engine(JobType.CSM, Settings(data_dir=tmp_path / "data", csm_model_dir=folder))
    assert isinstance(built, CsmEngine)
    built.load()
    with_prompt = built.plan_voice("conversational_a", job(tmp_path, text="x"))
    assert with_prompt.note is None and with_prompt.settings
    assert with_prompt.settings["context"][0]["content"][0]["text"] == "like a prompt"
    bare = built.plan_voice("conversational_b", job(tmp_path, text="x"))
    assert bare.settings and bare.settings["context"] == [] and "prompt" in (bare.note or "")


def test_conversation_alternates_speakers(engine: CsmEngine, tmp_path: Path) -> None:
    turns = [{"speaker": "conversational_a", "text": "Hello."},
             {"speaker": "conversational_b", "text": "Hi there."}]
    result = engine.run(job(tmp_path, conversation=turns))
    assert result.extra["voice"] == "conversation"
    assert result.extra["voices"] == ["conversational_a", "conversational_b"]
    assert result.extra["duration"] > 0 and "conversational_a:" in result.extra["voice_note"]


def test_a_configured_voices_folder_is_used(model_dir: Path, tmp_path: Path) -> None:
    voices = tmp_path / "voices"
    voices.mkdir()
    encode_audio(0.2 * np.sin(np.arange(12000) / 7).astype(np.float32), 24000,
                 voices / "conversational_b.wav", "wav")
    (voices / "conversational_b.txt").write_text("a voice of our own")
    built = create_engine(JobType.CSM, Settings(data_dir=tmp_path / "data", csm_model_dir=model_dir,
                                                csm_voices_dir=voices))
    assert isinstance(built, CsmEngine)
    built.load()
    plan = built.plan_voice("conversational_b", job(tmp_path, text="x"))
    assert plan.note is None and plan.settings
    assert plan.settings["context"][0]["content"][0]["text"] == "a voice of our own"
    assert plan.settings["context"][0]["role"] == "1"


def test_named_voices_become_context_turns_with_their_own_speakers(model_dir: Path, tmp_path: Path) -> None:
    voices = tmp_path / "named"
    voices.mkdir()
    for index, name in enumerate(("alice", "bob")):
        encode_audio(0.2 * np.sin(np.arange(12000) / (5 + index)).astype(np.float32), 24000,
                     voices / f"{name}.wav", "wav")
        (voices / f"{name}.txt").write_text(f"I am {name}")
    built = create_engine(JobType.CSM, Settings(data_dir=tmp_path / "data", csm_model_dir=model_dir,
                                                voices_dir=voices))
    assert isinstance(built, CsmEngine)
    built.load()
    alice, bob = (built.plan_voice(name, job(tmp_path, text="x")) for name in ("alice", "bob"))
    assert alice.settings and bob.settings
    assert [alice.settings["speaker"], bob.settings["speaker"]] == [2, 3]
    assert bob.settings["context"][0]["content"][0]["text"] == "I am bob"
    turns = [{"speaker": "alice", "text": "Hello."}, {"speaker": "bob", "text": "Hi."}]
    result = built.run(job(tmp_path, conversation=turns))
    assert result.extra["voices"] == ["alice", "bob"] and result.extra["duration"] > 0
    with pytest.raises(InputError, match="nobody"):
        built.plan_voice("nobody", job(tmp_path, text="x"))
