"""A small Python client for the C3 Render API (used by the CLI and the tests).

Local file paths are accepted wherever a job takes a URL: they are uploaded first
(``POST /uploads``) and the signed link is sent instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from c3render.cli.events import JobEvent, JobView, iter_events
from c3render.job import INPUT_FIELDS, JobType

ProgressCallback = Callable[[JobView], None]


class ApiError(Exception):
    """The API answered an error; ``status`` is the HTTP status, the message its ``error``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status


class Client:
    """Talks to one C3 Render API."""

    def __init__(self, base_url: str, api_key: str | None = None, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.headers = {"X-C3-RENDER-KEY": api_key} if api_key else {}
        """Sent to the API only, never to the hosts result links point at (S3, a CDN)."""
        self.timeout = timeout

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        raw = kwargs.pop("raw", False)
        headers = {**self.headers, **kwargs.pop("headers", {})}
        response = self.session.request(
            method, self.base_url + path, timeout=kwargs.pop("timeout", self.timeout),
            headers=headers, **kwargs,
        )
        self._check(response)
        return response.text if raw else response.json()

    @staticmethod
    def _check(response: requests.Response) -> None:
        if response.status_code >= 400:
            try:
                message = response.json().get("error", response.text)
            except ValueError:
                message = response.text
            raise ApiError(response.status_code, message)

    def health(self) -> dict[str, Any]:
        """GET /."""
        return self._call("GET", "/")  # type: ignore[no-any-return]

    def upload(self, path: Path) -> str:
        """Upload a local file; return its signed URL."""
        with path.open("rb") as handle:
            reply = self._call("POST", "/uploads", files={"file": (path.name, handle)}, timeout=600)
        return str(reply["url"])

    def submit(
        self, job_type: JobType | str, fields: dict[str, Any], idempotency_key: str | None = None
    ) -> str:
        """Submit a job (uploading local paths in URL fields first); return its id."""
        job_type = JobType(job_type)
        body = dict(fields)
        for name in INPUT_FIELDS[job_type]:
            value = body.get(name)
            linked = str(value).startswith(("http://", "https://", "job:"))  # job: a chained job
            if isinstance(value, (str, Path)) and not linked:
                body[name] = self.upload(Path(value).expanduser())
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        return str(self._call("POST", f"/{job_type.value}", json=body, headers=headers)["id"])

    def status(self, job_id: str) -> dict[str, Any]:
        """GET /status/{id}."""
        return self._call("GET", f"/status/{job_id}")  # type: ignore[no-any-return]

    def result(self, job_id: str) -> dict[str, Any]:
        """GET /result/{id} (raises ApiError 400 while the job is not finished)."""
        return self._call("GET", f"/result/{job_id}")  # type: ignore[no-any-return]

    def cancel(self, job_id: str, remove_data: bool = False) -> dict[str, Any]:
        """POST /job/{id} with status cancelled."""
        body = {"status": "cancelled", "remove_data": remove_data}
        return self._call("POST", f"/job/{job_id}", json=body)  # type: ignore[no-any-return]

    def wait(
        self, job_id: str, timeout: float = 600.0, interval: float = 0.5,
        on_progress: ProgressCallback | None = None,
    ) -> dict[str, Any]:
        """Wait until the job ends; return its status document.

        With ``on_progress``, follow the job's live events and call it with a ``JobView``
        (status, queue position, progress, last log line) after each; else poll.
        """
        if on_progress is not None:
            self.follow(job_id, on_progress)
            return self.status(job_id)
        deadline = time.monotonic() + timeout
        while True:
            doc = self.status(job_id)
            if doc["status"] not in ("queued", "running"):
                return doc
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {doc['status']} after {timeout} s")
            time.sleep(interval)

    def events(self, job_id: str, last_event_id: str | None = None) -> Iterator[JobEvent]:
        """The job's live events (GET /events/{id}) until its ``result`` event."""
        return iter_events(self.session, f"{self.base_url}/events/{job_id}", self.headers,
                           self._check, last_event_id)

    def follow(self, job_id: str, on_progress: ProgressCallback | None = None) -> dict[str, Any]:
        """Follow the job's events to its end; return its result document."""
        view = JobView(job_id)
        for event in self.events(job_id):
            view.update(event)
            if on_progress is not None:
                on_progress(view)
        return view.result

    def run(
        self, job_type: JobType | str, fields: dict[str, Any],
        on_progress: ProgressCallback | None = None,
    ) -> dict[str, Any]:
        """Submit a job and follow it to its end; return its result document."""
        return self.follow(self.submit(job_type, fields), on_progress)

    def tts(self, text: str, on_progress: ProgressCallback | None = None,
            **fields: Any) -> dict[str, Any]:
        """Speak ``text`` (POST /csm); the result document (``result_url``)."""
        return self.run(JobType.CSM, {"text": text, **fields}, on_progress)

    def transcribe(self, audio: str | Path, on_progress: ProgressCallback | None = None,
                   **fields: Any) -> dict[str, Any]:
        """Transcribe a recording (URL or local path; POST /whisper); the result (``text``)."""
        return self.run(JobType.WHISPER, {"audio_url": audio, **fields}, on_progress)

    def portrait(self, image: str | Path, audio: str | Path,
                 on_progress: ProgressCallback | None = None, **fields: Any) -> dict[str, Any]:
        """Animate a portrait with speech (POST /portrait); the result (``result_url``)."""
        return self.run(JobType.PORTRAIT, {"image_url": image, "audio_url": audio, **fields},
                        on_progress)

    def analyze(self, image: str | Path, on_progress: ProgressCallback | None = None,
                **fields: Any) -> dict[str, Any]:
        """Describe an image (POST /analyze); the result (``text`` and the analysis)."""
        return self.run(JobType.ANALYZE, {"image_url": image, **fields}, on_progress)

    def subtitles(self, job_id: str, fmt: str = "srt") -> str:
        """A finished transcript as SRT or WebVTT (GET /result/{id}?format=)."""
        return str(self._call("GET", f"/result/{job_id}", params={"format": fmt}, raw=True))

    def jobs(self, **filters: Any) -> list[dict[str, Any]]:
        """GET /jobs (filters: type, status, limit, offset): newest first."""
        return list(self._call("GET", "/jobs", params=filters)["jobs"])

    def workers(self) -> list[dict[str, Any]]:
        """The live workers (GET /workers)."""
        return list(self._call("GET", "/workers")["workers"])

    def logs(self, job_id: str) -> list[dict[str, Any]]:
        """The job's log lines (GET /status/{id}?logs=1)."""
        return list(self._call("GET", f"/status/{job_id}", params={"logs": 1}).get("logs", []))

    def retry(self, job_id: str) -> dict[str, Any]:
        """POST /job/{id}/retry: queue a failed or timed-out job again."""
        return self._call("POST", f"/job/{job_id}/retry")  # type: ignore[no-any-return]

    def download(self, url: str, dest: Path) -> Path:
        """Save a result link to ``dest``."""
        same_api = urlsplit(url)[:2] == urlsplit(self.base_url)[:2]
        headers = self.headers if same_api else {}
        with self.session.get(url, stream=True, timeout=self.timeout, headers=headers) as response:
            response.raise_for_status()
            with dest.open("wb") as handle:
                for chunk in response.iter_content(1 << 16):
                    handle.write(chunk)
        return dest
