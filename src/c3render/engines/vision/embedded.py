"""The embedded image analyzer: offline CPU detectors composed into a description."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from c3render.config import Settings
from c3render.engines.base import EngineJob, EngineResult
from c3render.engines.vision.describe import describe
from c3render.errors import InputError
from c3render.images import load_rgb
from c3render.models import JobType


class EmbeddedAnalyzer:
    """Faces, people, hands (mediapipe), text (rapidocr), safety (nudenet), image properties."""

    job_type: ClassVar[JobType] = JobType.ANALYZE
    name = "embedded:mediapipe+rapidocr+nudenet"

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings
        self._faces: Any = None
        self._bodies: Any = None
        self._text: Any = None
        self._safety: Any = None

    def load(self) -> None:
        """Create every detector once (their models ship inside the wheels)."""
        from c3render.engines.vision.bodies import BodyFinder
        from c3render.engines.vision.faces import FaceFinder
        from c3render.engines.vision.ocr import TextReader
        from c3render.engines.vision.safety import SafetyChecker

        self._faces = FaceFinder()
        self._bodies = BodyFinder()
        self._text = TextReader()
        self._safety = SafetyChecker()

    def analyze(self, rgb: np.ndarray, path: Path | None = None) -> dict[str, Any]:
        """Every finding about an upright RGB image, as a JSON-able dict."""
        from c3render.engines.vision.properties import measure

        if self._faces is None:
            self.load()
        faces = self._faces.find(rgb)
        person = self._bodies.pose(rgb)
        return {
            "image": measure(rgb, path),
            "faces": faces,
            "person": person,
            "people_count": max(len(faces), 1 if person else 0),
            "hands": self._bodies.hands(rgb),
            "text": self._text.read(rgb),
            "safety": self._safety.check(rgb),
        }

    def run(self, job: EngineJob) -> EngineResult:
        """Analyze ``job.inputs["image_url"]`` and describe it."""
        path = job.inputs.get("image_url")
        if path is None:
            raise InputError("image_url is required")
        rgb = load_rgb(path)
        job.progress(0.1)
        analysis = self.analyze(rgb, path)
        prompt = (job.params.get("prompt") or "").strip()
        if prompt:
            analysis["prompt"] = {"question": prompt, "answered": False}
        job.progress(0.9)
        return EngineResult(text=describe(analysis), extra={"analysis": analysis, "engine": self.name})
