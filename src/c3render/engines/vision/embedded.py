"""The embedded image analyzer: offline CPU detectors composed into a description."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from c3render.engines.base import EngineJob, EngineResult
from c3render.engines.vision.bodies import BodyFinder
from c3render.engines.vision.classify import SubjectClassifier
from c3render.engines.vision.describe import describe
from c3render.engines.vision.faces import FaceFinder
from c3render.engines.vision.ocr import TextReader
from c3render.engines.vision.people import people
from c3render.engines.vision.properties import measure
from c3render.engines.vision.safety import SafetyChecker
from c3render.errors import InputError
from c3render.job import JobType
from c3render.media.images import load_rgb
from c3render.settings import Settings


@dataclass
class Detectors:
    """The embedded analyzer's models, created once per engine process."""

    faces: FaceFinder
    bodies: BodyFinder
    text: TextReader
    safety: SafetyChecker
    subject: SubjectClassifier


class EmbeddedAnalyzer:
    """Subject (EfficientNet-Lite2), faces, people, hands (mediapipe), text (rapidocr), nudity
    (nudenet) and image properties."""

    job_type: ClassVar[JobType] = JobType.ANALYZE
    name = "embedded:efficientnet-lite2+mediapipe+rapidocr+nudenet"

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings
        self._detectors: Detectors | None = None

    def load(self) -> None:
        """Create every detector once (their models ship inside the wheels)."""
        self._detectors = Detectors(FaceFinder(), BodyFinder(), TextReader(), SafetyChecker(),
                                    SubjectClassifier())

    def analyze(self, rgb: np.ndarray, path: Path | None = None) -> dict[str, Any]:
        """Every finding about an upright RGB image, as a JSON-able dict."""
        if self._detectors is None:
            self.load()
        assert self._detectors is not None
        found = self._detectors
        subject = found.subject.classify(rgb)
        return {
            "image": measure(rgb, path),
            "subject": subject,
            **people(found.faces.find(rgb), found.bodies.pose(rgb), subject["subject"]),
            "hands": found.bodies.hands(rgb),
            "text": found.text.read(rgb),
            "safety": found.safety.check(rgb),
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
