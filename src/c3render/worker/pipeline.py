"""One run of a job inside the engine process: fetch inputs → engine → store the result.

Large files never cross the process pipe: inputs are downloaded here, into the run's
private directory, and a media result is uploaded to storage from here; the slot only
receives the small result document.
"""

from __future__ import annotations

import logging
import mimetypes
import secrets
import shutil
from collections.abc import Callable, Iterator
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from c3render.engines.base import (
    BatchEngine,
    Engine,
    EngineJob,
    EngineResult,
    ProgressFn,
)
from c3render.errors import InputError, JobError, RunStopped
from c3render.inputs.fetch import fetch_input, fetch_stored
from c3render.inputs.size import measure_size
from c3render.job import INPUT_FIELDS, InputKind, JobType
from c3render.settings import Settings
from c3render.storage import Storage, create_storage
from c3render.worker.messages import Done, Failed, RunBatch, RunJob, Stopped
from c3render.worker.run_audio import AudioSender

log = logging.getLogger(__name__)


def run_workdir(settings: Settings, job: RunJob) -> Path:
    """The private directory of one run of a job (inputs, outputs), removed when it ends."""
    return Path(settings.data_dir) / "work" / f"{job.id}-{job.run}"


def results_prefix(job_id: str, run: int) -> str:
    """Where one run's result files are stored; only the winning run's are kept."""
    return f"results/{job_id}/{run}/"


class JobPipeline:
    """Runs jobs through one loaded engine (or explains why there is none)."""

    def __init__(self, engine: Engine | None, unavailable: str | None, settings: Settings) -> None:
        self.engine = engine
        self.unavailable = unavailable
        self.settings = settings

    @cached_property
    def storage(self) -> Storage:
        """Result and upload storage, opened on first use (a job with no files needs none)."""
        return create_storage(self.settings)

    def run(self, job: RunJob, progress: ProgressFn, audio: AudioSender | None = None
            ) -> Done | Failed | Stopped:
        """Fetch the job's inputs, run the engine (its audio pieces go to ``audio`` as they
        come), store its result; never raises."""
        workdir = run_workdir(self.settings, job)
        try:
            engine_job = self._engine_job(job, progress)
            assert self.engine is not None
            if audio is not None:
                engine_job.emit_audio = audio
            log.debug("job %s: running the %s engine", job.id, self.engine.name)
            size = measure_size(job.type, job.params, engine_job.inputs)
            result = self.engine.run(engine_job)
            if audio is not None:
                audio.finish()  # the stream is complete before the result is stored
            log.debug("job %s: the engine finished; storing the result", job.id)
            return Done(job.run_id, self._store(result, job, engine_job.inputs), input_size=size)
        except RunStopped:
            log.info("job %s: stopped as the worker asked", job.id)
            return Stopped(job.run_id)
        except Exception as exc:
            return self.failure(job, exc)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def run_batch(
        self, batch: RunBatch, progress: Callable[[RunJob], ProgressFn]
    ) -> Iterator[Done | Failed]:
        """Run several jobs at once: each one's inputs are fetched (a failure ends only that
        job), then the engine's ``run_batch`` (or ``run`` per job) renders them, and each
        result is stored; yields one outcome per job, as soon as it is known."""
        ready: list[tuple[RunJob, EngineJob]] = []
        try:
            for job in batch.jobs:
                try:
                    ready.append((job, self._engine_job(job, progress(job))))
                except Exception as exc:
                    yield self.failure(job, exc)
            if not ready:
                return
            outcomes = self._render_all([engine_job for _job, engine_job in ready])
            for (job, engine_job), outcome in zip(ready, outcomes):
                try:
                    if isinstance(outcome, Exception):
                        raise outcome
                    size = measure_size(job.type, job.params, engine_job.inputs)
                    yield Done(job.run_id, self._store(outcome, job, engine_job.inputs),
                               input_size=size)
                except Exception as exc:
                    yield self.failure(job, exc)
        finally:
            for job in batch.jobs:
                shutil.rmtree(run_workdir(self.settings, job), ignore_errors=True)

    def _render_all(self, jobs: list[EngineJob]) -> list[EngineResult | Exception]:
        """The engine's outcome of each job: batched when it can, else (or when the batch
        as a whole raised) one job at a time."""
        assert self.engine is not None
        if isinstance(self.engine, BatchEngine):
            try:
                return self.engine.run_batch(jobs)
            except Exception:
                log.exception("the batch of %d jobs failed; running them one at a time",
                              len(jobs))
        return [_outcome(self.engine, job) for job in jobs]

    def _engine_job(self, job: RunJob, progress: ProgressFn) -> EngineJob:
        """The job as the engine sees it, its inputs fetched into its private directory."""
        if self.engine is None:
            raise JobError(self.unavailable or "no engine")
        workdir = run_workdir(self.settings, job)  # made when first used (EngineJob.workdir)
        return EngineJob(id=job.id, type=job.type, params=job.params,
                         inputs=self._fetch_inputs(job, workdir), workdir=workdir,
                         progress=progress)

    def failure(self, job: RunJob, exc: Exception) -> Failed:
        """The ``Failed`` message for an exception of ``job``'s run (never raw text: a
        ``JobError``'s message scrubbed of secrets and internal URLs, else a reference)."""
        if isinstance(exc, JobError):
            message = self._scrub(str(exc))
            if message != str(exc):
                log.warning("job %s failed: %s", job.id, self._scrub(str(exc), keep_urls=True))
            return Failed(job.run_id, message, exc.error_type, exc.retryable)
        if isinstance(exc, MemoryError):
            log.warning("job %s ran out of memory in the engine", job.id)
            return Failed(job.run_id, "the job needed more memory than an engine may use "
                                      "(C3_ENGINE_MEMORY_MB); try a smaller input")
        if _out_of_memory(exc):
            message = f"the {job.type.value} engine ran out of GPU memory"
            return Failed(job.run_id, message, "transient", retryable=True)
        reference = secrets.token_hex(4)
        log.error("job %s failed in the engine (reference %s)", job.id, reference,
                  exc_info=(type(exc), exc, exc.__traceback__))
        return Failed(job.run_id, f"internal error in the {job.type.value} engine; it is "
                                  f"logged on the worker under reference {reference}")

    def _scrub(self, message: str, keep_urls: bool = False) -> str:
        """``message`` without secrets and, unless ``keep_urls``, without internal URLs.

        A message that names an internal server (ComfyUI, the object store) keeps only its
        first words: the library's text in parentheses repeats the host, port and path.
        """
        for secret in self.settings.secret_values():
            message = message.replace(secret, "***")
        if keep_urls:
            return message
        for url in (self.settings.comfyui_url, self.settings.s3_endpoint_url):
            parts = urlsplit(url or "")
            names = [text for text in (url, parts.netloc, parts.hostname) if text]
            if names and any(name.rstrip("/") in message for name in names):
                message = message.replace(f" at {url.rstrip('/')}", "")  # type: ignore[union-attr]
                head = message.split(" (", 1)[0]
                for name in names:
                    head = head.replace(name.rstrip("/"), "the server")
                message = f"{head} (details are in the worker's log)"
        return message

    def _fetch_inputs(self, job: RunJob, workdir: Path) -> dict[str, Path]:
        fields = {
            name: kind for name, kind in INPUT_FIELDS[job.type].items() if job.params.get(name)
        }
        if not fields:
            return {}
        inputs_dir = workdir / "inputs"
        inputs_dir.mkdir(parents=True, exist_ok=True)
        log.info("job %s: fetching %s", job.id, ", ".join(fields))
        return {name: self._fetch(job, name, kind, inputs_dir) for name, kind in fields.items()}

    def _fetch(self, job: RunJob, name: str, kind: InputKind, inputs_dir: Path) -> Path:
        """One input: a chained job's output straight from storage, else the URL."""
        value = str(job.params[name])
        if value.startswith("job:"):
            key = job.sources.get(name)
            if key is None:
                raise InputError(f"{name}: the output of the job it names is not known yet")
            return fetch_stored(key, inputs_dir, name, kind, self.storage)
        return fetch_input(value, inputs_dir, name, kind, self.settings, self.storage)

    def _store(self, result: EngineResult, job: RunJob, inputs: dict[str, Path]) -> dict[str, Any]:
        stored: dict[str, Any] = {"extra": result.extra}
        if result.text is not None:
            stored["text"] = result.text
        if result.file is not None:
            # a random part: a result's link cannot be guessed from its job id
            name = f"{result.file.stem}-{secrets.token_urlsafe(12)}{result.file.suffix}"
            key = results_prefix(job.id, job.run) + name
            media_type = result.media_type or "application/octet-stream"
            self.storage.put_file(key, result.file, media_type)
            stored.update(file_key=key, media_type=media_type)
        speech = inputs.get("audio_url")
        if job.type is JobType.PORTRAIT and job.params.get("speech_job") and speech:
            stored["outputs"] = {"speech": self._keep_output(speech, job, "speech")}
        return stored

    def _keep_output(self, path: Path, job: RunJob, output: str) -> dict[str, str]:
        """Store an input as a named output of this run (a portrait's rendered speech)."""
        sniffed = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        key = results_prefix(job.id, job.run) + (
            f"{output}-{secrets.token_urlsafe(12)}{path.suffix}"
        )
        self.storage.put_file(key, path, sniffed)
        return {"file_key": key, "media_type": sniffed}


def _outcome(engine: Engine, job: EngineJob) -> EngineResult | Exception:
    """``engine.run(job)``, or the exception that failed it."""
    try:
        return engine.run(job)
    except Exception as exc:  # noqa: BLE001 - handed back as this job's outcome
        return exc


def _out_of_memory(exc: BaseException) -> bool:
    """True for torch's CUDA out-of-memory error (a passing fault: retried)."""
    return type(exc).__name__ == "OutOfMemoryError" or "CUDA out of memory" in str(exc)
