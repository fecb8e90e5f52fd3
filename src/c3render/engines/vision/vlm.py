"""Production image analysis: a vision-language model from local weights (transformers).

Any model that ``AutoModelForImageTextToText`` loads (LLaVA, SmolVLM, Qwen2-VL, Idefics,
...) from ``C3_VLM_MODEL_DIR``; never from the Hub. Without a prompt it writes a caption;
with ``params["prompt"]`` it answers the question about the image.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

from c3render.engines.base import EngineJob, EngineResult
from c3render.errors import EngineUnavailable, InputError, JobError
from c3render.job import JobType
from c3render.media.images import open_image
from c3render.settings import Settings

CAPTION_PROMPT = "Describe this image in two or three sentences."
MAX_NEW_TOKENS = 200
FALLBACK_SIDE = 1024
"""The longest side given to a processor that states no size of its own."""


def expected_scale(size: dict[str, Any], max_pixels: int | None, width: int, height: int) -> float:
    """How much to shrink a width×height image for a processor's stated size (≤ 1)."""
    scales = [1.0]
    if size.get("longest_edge"):
        scales.append(size["longest_edge"] / max(width, height))
    if size.get("shortest_edge") and not size.get("longest_edge"):
        scales.append(size["shortest_edge"] / min(width, height))
    if size.get("height") and size.get("width"):
        scales.append(max(size["height"] / height, size["width"] / width))
    pixels = size.get("max_pixels") or max_pixels
    if pixels:
        scales.append((pixels / (width * height)) ** 0.5)
    if len(scales) == 1:
        scales.append(FALLBACK_SIDE / max(width, height))
    return min(scales)


def fit_for_processor(image: Any, processor: Any) -> Any:
    """The image shrunk to the size the model's image processor expects (never enlarged), so
    a 12 MP photo does not become thousands of visual tokens on dynamic-resolution models."""
    from PIL import Image

    image_processor = getattr(processor, "image_processor", processor)
    size = dict(getattr(image_processor, "size", None) or {})
    scale = expected_scale(size, getattr(image_processor, "max_pixels", None), image.width, image.height)
    if scale >= 1.0:
        return image
    target = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(target, Image.Resampling.BICUBIC)


def resolve_device(requested: str) -> str:
    """The torch device to use; ``EngineUnavailable`` when CUDA is asked for but absent."""
    import torch

    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise EngineUnavailable(
            f"C3_DEVICE={requested} but torch sees no CUDA GPU; install a CUDA build of torch "
            "(requirements/gpu.txt) or set C3_DEVICE=cpu"
        )
    return requested


def build_prompt(processor: Any, question: str) -> str:
    """The model's chat template around one image and the question, or a plain fallback."""
    if getattr(processor, "chat_template", None):
        messages = [{"role": "user", "content": [
            {"type": "image"}, {"type": "text", "text": question}]}]
        return processor.apply_chat_template(messages, add_generation_prompt=True)
    image_token = getattr(processor, "image_token", None) or "<image>"
    return f"user : {image_token} {question} assistant :"


class VisionLanguageEngine:
    """Captioning and visual question answering with a local vision-language model."""

    job_type: ClassVar[JobType] = JobType.ANALYZE

    def __init__(self, settings: Settings, max_new_tokens: int = MAX_NEW_TOKENS) -> None:
        if settings.vlm_model_dir is None:
            raise EngineUnavailable("set C3_VLM_MODEL_DIR to a vision-language model folder")
        self.model_dir = Path(settings.vlm_model_dir)
        self.device_name = settings.device
        self.max_new_tokens = max_new_tokens
        self.name = f"vlm:{self.model_dir.name}"
        self._processor: Any = None
        self._model: Any = None

    def load(self) -> None:
        """Load processor and weights from the local folder only."""
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        if not (self.model_dir / "config.json").is_file():
            raise EngineUnavailable(
                f"C3_VLM_MODEL_DIR={self.model_dir} holds no model (config.json missing); "
                "download the weights there first (save_pretrained / huggingface-cli download)"
            )
        import torch
        from transformers import AutoModelForImageTextToText, AutoProcessor

        device = resolve_device(self.device_name)
        dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
        self._processor = AutoProcessor.from_pretrained(self.model_dir, local_files_only=True)
        model = AutoModelForImageTextToText.from_pretrained(
            self.model_dir, local_files_only=True, dtype=dtype
        )
        self._model = model.to(device).eval()
        self._device = device

    def answer(self, image: Any, question: str) -> str:
        """Generate the model's answer about a PIL image (greedy decoding)."""
        import torch

        if self._model is None:
            self.load()
        prompt = build_prompt(self._processor, question)
        image = fit_for_processor(image, self._processor)
        inputs = self._processor(images=[image], text=prompt, return_tensors="pt")
        inputs = inputs.to(self._device)
        if "pixel_values" in inputs:
            inputs["pixel_values"] = inputs["pixel_values"].to(self._model.dtype)
        with torch.inference_mode():
            output = self._model.generate(
                **inputs, max_new_tokens=self.max_new_tokens, do_sample=False
            )
        new_tokens = output[:, inputs["input_ids"].shape[1]:]
        return self._processor.batch_decode(new_tokens, skip_special_tokens=True)[0].strip()

    def run(self, job: EngineJob) -> EngineResult:
        """Caption ``image_url``, or answer ``params["prompt"]`` about it."""
        path = job.inputs.get("image_url")
        if path is None:
            raise InputError("image_url is required")
        image = open_image(path)
        question = (job.params.get("prompt") or "").strip()
        job.progress(0.1)
        text = self.answer(image, question or CAPTION_PROMPT)
        if not text:
            raise JobError(f"the vision-language model {self.name} produced no text")
        job.progress(0.95)
        return EngineResult(text=text, extra={
            "model": self.name,
            "task": "question" if question else "caption",
            "prompt": question or CAPTION_PROMPT,
            "width": image.width,
            "height": image.height,
        })
