"""The vision-language engine on a tiny random-weight LLaVA built and saved here (CPU, offline)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data

from c3render.engines.base import EngineJob
from c3render.engines.registry import create_engine
from c3render.engines.vision.vlm import CAPTION_PROMPT, VisionLanguageEngine
from c3render.errors import EngineUnavailable, InputError
from c3render.job import JobType
from c3render.settings import Settings

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

WORDS = ("a woman man cat dog photo of the in with sky red blue green smiling face person "
         "space suit flag text page outdoor indoor is there and on user assistant describe "
         "this image ? :").split()
SPECIALS = ["<unk>", "<s>", "</s>", "<pad>", "<image>"]


def tiny_tokenizer() -> transformers.PreTrainedTokenizerFast:
    """A word-level tokenizer built offline with the ``tokenizers`` library."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

    vocab = {token: i for i, token in enumerate(SPECIALS + WORDS)}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="<unk>", bos_token="<s>", eos_token="</s>",
        pad_token="<pad>", extra_special_tokens={"image_token": "<image>"},
    )


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random LLaVA (49 k parameters) and its processor, saved with save_pretrained."""
    torch.manual_seed(0)
    tokenizer = tiny_tokenizer()
    image_id = tokenizer.convert_tokens_to_ids("<image>")
    config = transformers.LlavaConfig(
        vision_config=transformers.CLIPVisionConfig(
            hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
            image_size=32, patch_size=8),
        text_config=transformers.LlamaConfig(
            vocab_size=len(SPECIALS) + len(WORDS), hidden_size=32, intermediate_size=64,
            num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2,
            max_position_embeddings=512, bos_token_id=1, eos_token_id=2, pad_token_id=3),
        image_token_index=image_id, image_seq_length=16,
        vision_feature_select_strategy="default", vision_feature_layer=-1,
    )
    model = transformers.LlavaForConditionalGeneration(config)
    with torch.no_grad():  # keep specials out of greedy answers so the text is never empty
        model.lm_head.weight[: len(SPECIALS)] = 0.0
        model.lm_head.weight[len(SPECIALS):] += 0.5 * model.lm_head.weight[len(SPECIALS):].sign()
    processor = transformers.LlavaProcessor(
        image_processor=transformers.CLIPImageProcessor(
            size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}),
        tokenizer=tokenizer, patch_size=8, vision_feature_select_strategy="default",
        image_token="<image>", num_additional_image_tokens=1,
    )
    folder = tmp_path_factory.mktemp("tiny-llava")
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def engine(model_dir: Path) -> VisionLanguageEngine:
    """The engine as the worker gets it: through the registry, then load()."""
    built = create_engine(JobType.ANALYZE, Settings(vlm_model_dir=model_dir, device="cpu"))
    assert isinstance(built, VisionLanguageEngine)
    built.max_new_tokens = 8
    built.load()
    return built


def job_for(path: Path, **params: object) -> EngineJob:
    """An analyze job on a local image file."""
    return EngineJob(id="v", type=JobType.ANALYZE, params=dict(params),
                     inputs={"image_url": path}, workdir=path.parent)


@pytest.fixture
def astronaut_png(tmp_path: Path) -> Path:
    """The skimage astronaut portrait as a PNG file."""
    path = tmp_path / "astronaut.png"
    Image.fromarray(data.astronaut()).save(path)
    return path


def test_caption_from_local_weights(engine, astronaut_png, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = engine.run(job_for(astronaut_png))
    words = result.text.split()
    assert 1 <= len(words) <= 8 and set(words) <= set(WORDS)  # generated from the tiny vocabulary
    assert result.extra["model"] == f"vlm:{engine.model_dir.name}"
    assert result.extra["task"] == "caption" and result.extra["prompt"] == CAPTION_PROMPT
    assert (result.extra["width"], result.extra["height"]) == (512, 512)
    json.dumps(result.extra)


def test_question_changes_the_prompt_and_answer_is_repeatable(engine, astronaut_png):
    first = engine.run(job_for(astronaut_png, prompt="is there a person ?"))
    again = engine.run(job_for(astronaut_png, prompt="is there a person ?"))
    assert first.extra["task"] == "question" and first.extra["prompt"] == "is there a person ?"
    assert first.text == again.text  # greedy decoding


def test_different_images_reach_the_model(engine, tmp_path):
    answers = set()
    for name, rgb in [("a", data.astronaut()), ("b", np.zeros((64, 64, 3), np.uint8)),
                      ("c", np.full((64, 64, 3), 255, np.uint8))]:
        path = tmp_path / f"{name}.png"
        Image.fromarray(rgb).save(path)
        answers.add(engine.answer(Image.open(path).convert("RGB"), CAPTION_PROMPT))
    assert len(answers) >= 2  # the pixels change what the random model says


def test_bad_image_is_input_error(engine, tmp_path):
    path = tmp_path / "x.png"
    path.write_text("nope")
    with pytest.raises(InputError, match="image_url"):
        engine.run(job_for(path))


def test_missing_weights_and_missing_gpu_are_explained(tmp_path, model_dir):
    empty = VisionLanguageEngine(Settings(vlm_model_dir=tmp_path / "nothing"))
    with pytest.raises(EngineUnavailable, match="config.json"):
        empty.load()
    if not torch.cuda.is_available():
        gpu = VisionLanguageEngine(Settings(vlm_model_dir=model_dir, device="cuda"))
        with pytest.raises(EngineUnavailable, match="CUDA"):
            gpu.load()


CHAT_TEMPLATE = (
    "{% for message in messages %}{{ message['role'] }} : {% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}<image> {% else %}{{ part['text'] }} {% endif %}{% endfor %}"
    "{% endfor %}{% if add_generation_prompt %}assistant :{% endif %}"
)


def test_chat_template_is_used_when_the_model_has_one(model_dir, astronaut_png, tmp_path):
    processor = transformers.AutoProcessor.from_pretrained(model_dir, local_files_only=True)
    processor.chat_template = CHAT_TEMPLATE
    chat_dir = tmp_path / "chat"
    processor.save_pretrained(chat_dir)
    transformers.AutoModelForImageTextToText.from_pretrained(
        model_dir, local_files_only=True).save_pretrained(chat_dir)
    engine = VisionLanguageEngine(Settings(vlm_model_dir=chat_dir), max_new_tokens=4)
    engine.load()
    from c3render.engines.vision.vlm import build_prompt

    assert build_prompt(engine._processor, "is there a cat ?") == "user : <image> is there a cat ? assistant :"
    result = engine.run(job_for(astronaut_png, prompt="is there a cat ?"))
    assert result.text and result.extra["model"] == "vlm:chat"


def test_images_are_shrunk_to_the_processors_size(engine):
    from PIL import Image

    from c3render.engines.vision.vlm import expected_scale, fit_for_processor

    big = Image.new("RGB", (4000, 3000))
    assert fit_for_processor(big, engine._processor).size == (43, 32)  # shortest_edge 32
    assert expected_scale({"longest_edge": 512}, None, 4000, 3000) == 512 / 4000
    assert round(expected_scale({}, 1_000_000, 4000, 3000) ** 2 * 12e6) == 1_000_000
    assert expected_scale({"height": 384, "width": 384}, None, 200, 100) == 1.0  # never enlarged
    assert expected_scale({}, None, 4000, 3000) == 1024 / 4000
