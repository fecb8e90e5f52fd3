"""The production /portrait engine: a talking-head workflow (e.g. SONIC) on a ComfyUI server.

Workflow convention: save the workflow with ComfyUI's "Save (API Format)" and put
placeholders in node inputs; each string input that is exactly or contains

- ``{{image}}``: the uploaded portrait's name (e.g. a ``LoadImage`` node's ``image``),
- ``{{audio}}``: the uploaded speech's name (e.g. a ``LoadAudio`` node's ``audio``),
- ``{{seed}}``: an integer seed derived from the job (whole-string only),
- ``{{job_id}}``: the job id (e.g. inside a ``filename_prefix``),

is filled in per job. ``{{image}}`` and ``{{audio}}`` are required. The first video
output (mp4 preferred) of the finished prompt is the result.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, ClassVar

import av

from c3render.engines.base import EngineJob, EngineResult
from c3render.engines.portrait.comfy_client import ComfyClient
from c3render.engines.portrait.motion import seed_from
from c3render.errors import EngineUnavailable, JobError
from c3render.job import JobType
from c3render.settings import Settings

VIDEO_TYPES = {".mp4": "video/mp4", ".webm": "video/webm", ".mov": "video/quicktime", ".mkv": "video/x-matroska"}
REQUIRED = ("{{image}}", "{{audio}}")
PLACEHOLDER = re.compile(r"\{\{(image|audio|seed|job_id)\}\}")


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

    def __init__(self, url: str, workflow_path: Path) -> None:
        self.url = url
        self.workflow_path = workflow_path
        self.name = f"comfyui:{workflow_path.stem}"
        self._workflow: dict[str, Any] | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> ComfyUIPortraitEngine:
        """Build from settings; ``EngineUnavailable`` when the URL or the workflow is not set."""
        if not settings.comfyui_url or not settings.comfyui_workflow:
            raise EngineUnavailable(
                "C3_PORTRAIT_ENGINE=comfyui needs C3_COMFYUI_URL (the ComfyUI server) and "
                "C3_COMFYUI_WORKFLOW (a workflow in API format with {{image}} and {{audio}} placeholders)"
            )
        return cls(settings.comfyui_url, Path(settings.comfyui_workflow))

    def load(self) -> None:
        """Read and check the workflow file (the server is contacted per job)."""
        self._workflow = load_workflow(self.workflow_path)

    def run(self, job: EngineJob) -> EngineResult:
        """Upload the inputs, run the workflow, download its video."""
        if self._workflow is None:
            self.load()
        client = ComfyClient(self.url)
        image, audio = job.inputs["image_url"], job.inputs["audio_url"]
        values = {
            "image": client.upload(image, f"c3_{job.id}_image{image.suffix or '.png'}"),
            "audio": client.upload(audio, f"c3_{job.id}_audio{audio.suffix or '.wav'}"),
            "seed": seed_from(job.id) % 2**32,
            "job_id": job.id,
        }
        job.progress(0.05)
        ws = client.connect()
        try:
            prompt_id = client.queue(fill_workflow(self._workflow, values))
            client.wait(ws, prompt_id, _scaled(job, 0.05, 0.9))
        finally:
            ws.close(timeout=0.5)
        entry = client.history(prompt_id) or {}
        item = find_video(entry.get("outputs") or {})
        if item is None:
            raise JobError("the ComfyUI workflow finished without a video output")
        suffix = Path(item["filename"]).suffix.lower()
        target = job.workdir / f"portrait{suffix}"
        client.download(item, target)
        job.progress(1.0)
        return EngineResult(file=target, media_type=VIDEO_TYPES[suffix], extra=probe_video(target))


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
