"""The production /portrait engine: a talking-head workflow (SONIC by default) on ComfyUI.

The default workflow is ``workflows/sonic.json`` next to this module: the graph the
original service ran (Stable Video Diffusion XT + ComfyUI_Sonic + VideoHelperSuite +
ComfyUI_essentials, see the README). Another workflow can be configured with
``C3_COMFYUI_WORKFLOW``: save it with ComfyUI's "Save (API Format)" and put placeholders
in node inputs; each string input that is exactly or contains

- ``{{image}}``: the uploaded portrait's name (e.g. a ``LoadImage`` node's ``image``),
- ``{{audio}}``: the uploaded speech's name, always a mono WAV (``LoadAudio``'s ``audio``),
- ``{{width}}``, ``{{height}}``: the portrait fitted inside 1280×720, keeping its shape,
- ``{{duration}}``: the audio's length rounded up to whole seconds, plus 3,
- ``{{seed}}``: an integer seed derived from the job (whole-string only),
- ``{{job_id}}``: the job id (e.g. inside a ``filename_prefix``),

is filled in per job (the numbers as numbers when the placeholder is the whole string).
``{{image}}`` and ``{{audio}}`` are required. The first video output (mp4 preferred) of
the finished prompt is the result. Should the engine process end before that (cancel,
timeout, crash), ``comfy_guard.py`` stops the prompt on the server.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any, ClassVar

import av
from PIL import Image

from c3render.engines.base import EngineJob, EngineResult
from c3render.engines.portrait.comfy_client import ComfyClient
from c3render.engines.portrait.comfy_guard import PromptGuard
from c3render.engines.portrait.motion import seed_from
from c3render.errors import EngineUnavailable, JobError
from c3render.job import JobType
from c3render.media.audio import decode_audio, encode_audio
from c3render.media.images import load_rgb
from c3render.settings import Settings

VIDEO_TYPES = {".mp4": "video/mp4", ".webm": "video/webm", ".mov": "video/quicktime", ".mkv": "video/x-matroska"}
REQUIRED = ("{{image}}", "{{audio}}")
PLACEHOLDER = re.compile(r"\{\{(image|audio|width|height|duration|seed|job_id)\}\}")
DEFAULT_WORKFLOW = Path(__file__).with_name("workflows") / "sonic.json"
MAX_UPLOAD_SIDE = 2048
"""Portraits larger than this on a side are shrunk before upload."""
FIT = (1280, 720)
"""The box the portrait is fitted into (the workflow's ``{{width}}``×``{{height}}``)."""
EXTRA_SECONDS = 3
"""Added to the audio's whole seconds for ``{{duration}}`` (the video is trimmed to the audio)."""
WAV_RATE = 24000


def load_workflow(path: Path) -> dict[str, Any]:
    """Read and check an API-format workflow; ``EngineUnavailable`` says what is wrong."""
    try:
        workflow = json.loads(Path(path).read_text())
    except OSError as exc:
        raise EngineUnavailable(f"C3_COMFYUI_WORKFLOW {path} cannot be read ({exc.strerror})") from None
    except ValueError as exc:
        raise EngineUnavailable(f"C3_COMFYUI_WORKFLOW {path} is not JSON ({exc})") from None
    if not isinstance(workflow, dict) or "nodes" in workflow or not all(
        isinstance(node, dict) and "class_type" in node for node in workflow.values()
    ):
        raise EngineUnavailable(
            f"C3_COMFYUI_WORKFLOW {path} is not in API format; save it with 'Save (API Format)'"
        )
    text = json.dumps(workflow)
    missing = [name for name in REQUIRED if name not in text]
    if missing:
        raise EngineUnavailable(f"C3_COMFYUI_WORKFLOW {path} has no {' or '.join(missing)} placeholder")
    return workflow


def fill_workflow(workflow: Any, values: dict[str, Any]) -> Any:
    """A copy of ``workflow`` with every ``{{name}}`` placeholder replaced from ``values``."""
    if isinstance(workflow, dict):
        return {key: fill_workflow(value, values) for key, value in workflow.items()}
    if isinstance(workflow, list):
        return [fill_workflow(value, values) for value in workflow]
    if isinstance(workflow, str):
        whole = PLACEHOLDER.fullmatch(workflow)
        if whole:
            return values[whole.group(1)]
        return PLACEHOLDER.sub(lambda match: str(values[match.group(1)]), workflow)
    return workflow


def find_video(outputs: dict[str, Any]) -> dict[str, Any] | None:
    """The first video file among a prompt's outputs, mp4 first."""
    items = [
        item
        for node in outputs.values()
        for files in node.values()
        if isinstance(files, list)
        for item in files
        if isinstance(item, dict) and Path(str(item.get("filename", ""))).suffix.lower() in VIDEO_TYPES
    ]
    items.sort(key=lambda item: Path(item["filename"]).suffix.lower() != ".mp4")
    return items[0] if items else None


class ComfyUIPortraitEngine:
    """Renders portraits by running a ComfyUI workflow on a (GPU) ComfyUI server."""

    job_type: ClassVar[JobType] = JobType.PORTRAIT

    def __init__(self, url: str, workflow_path: Path = DEFAULT_WORKFLOW) -> None:
        self.url = url
        self.workflow_path = workflow_path
        self.name = f"comfyui:{workflow_path.stem}"
        self._workflow: dict[str, Any] | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> ComfyUIPortraitEngine:
        """Build from settings; ``EngineUnavailable`` when the server's URL is not set."""
        if not settings.comfyui_url:
            raise EngineUnavailable(
                "C3_PORTRAIT_ENGINE=comfyui needs C3_COMFYUI_URL (the ComfyUI server; the SONIC "
                "workflow is the default, C3_COMFYUI_WORKFLOW chooses another in API format)"
            )
        return cls(settings.comfyui_url, Path(settings.comfyui_workflow or DEFAULT_WORKFLOW))

    def load(self) -> None:
        """Read and check the workflow file (the server is contacted per job)."""
        self._workflow = load_workflow(self.workflow_path)

    def run(self, job: EngineJob) -> EngineResult:
        """Upload the inputs, run the workflow, download its video."""
        if self._workflow is None:
            self.load()
        assert self._workflow is not None
        client = ComfyClient(self.url)
        image, size = prepare_image(job.inputs["image_url"], job.workdir)
        audio, seconds = prepare_audio(job.inputs["audio_url"], job.workdir)
        values = {
            "image": client.upload(image, f"c3_{job.id}_image{image.suffix or '.png'}"),
            "audio": client.upload(audio, f"c3_{job.id}_audio.wav"),
            "width": size[0], "height": size[1],
            "duration": math.ceil(seconds) + EXTRA_SECONDS,
            "seed": seed_from(job.id) % 2**32,
            "job_id": job.id,
        }
        job.progress(0.05)
        target = self._render(client, fill_workflow(self._workflow, values), job)
        job.progress(1.0)
        return EngineResult(file=target, media_type=VIDEO_TYPES[target.suffix], extra=probe_video(target))

    def _render(self, client: ComfyClient, workflow: dict[str, Any], job: EngineJob) -> Path:
        """Queue, follow and fetch one prompt under a guard that stops it if we die."""
        guard, done = PromptGuard(self.url), False
        try:
            ws = client.connect()
            try:
                prompt_id = client.queue(workflow)
                guard.watch(prompt_id)
                client.wait(ws, prompt_id, _scaled(job, 0.05, 0.9))
            finally:
                ws.close(timeout=0.5)
            item = find_video((client.history(prompt_id) or {}).get("outputs") or {})
            if item is None:
                raise JobError("the ComfyUI workflow finished without a video output")
            target = job.workdir / f"portrait{Path(item['filename']).suffix.lower()}"
            client.download(item, target)
            done = True
            return target
        finally:
            guard.close(done)


def fit_size(width: int, height: int, box: tuple[int, int] = FIT) -> tuple[int, int]:
    """The portrait's size fitted inside ``box`` keeping its shape (never enlarged), even."""
    scale = min(1.0, box[0] / width, box[1] / height)
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def prepare_image(path: Path, workdir: Path) -> tuple[Path, tuple[int, int]]:
    """The portrait to upload (shrunk when over 2048 px on a side) and its fitted size."""
    rgb = load_rgb(path)
    height, width = rgb.shape[:2]
    if max(width, height) > MAX_UPLOAD_SIDE:
        image = Image.fromarray(rgb)
        image.thumbnail((MAX_UPLOAD_SIDE, MAX_UPLOAD_SIDE), Image.Resampling.LANCZOS)
        path = workdir / "comfy_portrait.png"
        image.save(path)
        width, height = image.size
    return path, fit_size(width, height)


def prepare_audio(path: Path, workdir: Path) -> tuple[Path, float]:
    """The speech as a mono 16-bit WAV (whatever container it came in) and its seconds."""
    samples = decode_audio(path, WAV_RATE, field="audio_url")
    target = workdir / "comfy_audio.wav"
    encode_audio(samples, WAV_RATE, target, "wav")
    return target, len(samples) / WAV_RATE


def _scaled(job: EngineJob, start: float, end: float) -> Any:
    """A progress callback mapping 0..1 to start..end, never going backwards."""
    best = [start]

    def report(fraction: float) -> None:
        best[0] = max(best[0], start + (end - start) * min(max(fraction, 0.0), 1.0))
        job.progress(best[0])

    return report


def probe_video(path: Path) -> dict[str, Any]:
    """Duration, frame count and size of a video file; ``JobError`` when it is unreadable."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise JobError("the ComfyUI workflow's output has no video stream")
            stream = container.streams.video[0]
            frames = stream.frames or sum(1 for _ in container.decode(stream))
            duration = container.duration / 1e6 if container.duration else 0.0
            return {"duration": round(duration, 3), "frames": frames, "width": stream.width, "height": stream.height}
    except av.error.FFmpegError as exc:
        raise JobError(f"the ComfyUI workflow's output is not a readable video ({exc})") from None
