"""Several /whisper jobs in one batched decode: faster-whisper's ``BatchedInferencePipeline``
across jobs.

Each job's recording is cut by the VAD into speech chunks of at most 30 s, as the batched
pipeline does for one file. The chunks of every job of a group (same model, task and
language: one tokenizer, one prompt) are stacked and encoded and decoded
``C3_WHISPER_BATCH_SIZE`` at a time; each job's segments are then put back on its own
timeline. A job that cannot be read, is silent or needs a model that is missing fails
alone; a group whose batched decode raises is run again one job at a time, so one bad
job never fails the others. A recording longer than one window (``WINDOW_SECONDS``) runs
alone through the plain path, which holds only a window in memory at a time.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from c3render.engines.base import EngineJob, EngineResult
from c3render.engines.stt.catalog import WhisperModelInfo
from c3render.engines.stt.engine import (
    SAMPLE_RATE,
    Transcript,
    WhisperEngine,
    probe_duration,
    windows,
    words_of,
)
from c3render.errors import JobError
from c3render.job import JobType

if TYPE_CHECKING:
    from faster_whisper.tokenizer import Tokenizer
    from faster_whisper.transcribe import TranscriptionOptions

log = logging.getLogger(__name__)
CHUNK_SECONDS = 30
"""Whisper's window: the VAD merges speech into chunks of at most this length."""
NO_SPEECH_THRESHOLD = 0.6
LOG_PROB_THRESHOLD = -1.0
"""A chunk decoded as likely no speech, with low confidence, is dropped: the plain path's
rule (faster-whisper's defaults), which the batched pipeline does not apply itself."""

Outcome = EngineResult | Exception


@dataclass
class Prepared:
    """One job of a batch, read and cut into speech chunks, waiting for the decode."""

    job: EngineJob
    info: WhisperModelInfo
    task: str
    language: str | None
    transcript: Transcript
    speech: list[dict[str, int]] = field(default_factory=list)
    """The VAD's speech spans (samples), to map chunk times back to the recording."""
    metadata: list[dict[str, Any]] = field(default_factory=list)
    features: list[np.ndarray] = field(default_factory=list)
    done: int = 0
    """Chunks decoded so far (progress)."""
    segments: list[Any] = field(default_factory=list)

    def key(self) -> Hashable:
        """Jobs with equal keys decode together (one tokenizer, one prompt, one model).

        Word timestamps keep a running "last speech" time across the chunks they align,
        so a job that asks for them is decoded only with its own chunks.
        """
        alone = self.job.id if self.job.params.get("word_timestamps") else ""
        return (str(self.info.path), self.task, self.language, alone)


class BatchWhisperEngine(WhisperEngine):
    """``WhisperEngine`` with ``run_batch``: several jobs through one batched decode."""

    job_type: ClassVar[JobType] = JobType.WHISPER

    def run_batch(self, jobs: list[EngineJob]) -> list[Outcome]:
        """One outcome per job, in order: its result, or the error that failed it alone."""
        outcomes: list[Outcome | None] = [None] * len(jobs)
        groups: dict[Hashable, list[tuple[int, Prepared]]] = {}
        for index, job in enumerate(jobs):
            try:
                prepared = self.prepare(job)
            except Exception as exc:  # noqa: BLE001 - the job's own failure, reported alone
                outcomes[index] = exc
                continue
            if prepared is None:  # longer than a window: the plain path
                outcomes[index] = self._alone(job)
            else:
                groups.setdefault(prepared.key(), []).append((index, prepared))
        for members in groups.values():
            for index, outcome in self._decode_group(members):
                outcomes[index] = outcome
        return [outcome if outcome is not None else RuntimeError("no outcome")
                for outcome in outcomes]

    def _alone(self, job: EngineJob) -> Outcome:
        try:
            return self.run(job)
        except Exception as exc:  # noqa: BLE001 - reported as this job's failure
            return exc

    def prepare(self, job: EngineJob) -> Prepared | None:
        """Read ``job``'s recording and cut it into speech chunks with their features;
        None when it is longer than one window (it then runs alone)."""
        from faster_whisper.vad import VadOptions, collect_chunks, get_speech_timestamps

        info, task, language, path = self.plan(job)
        parts = windows(path, self.window_seconds)
        _offset, audio = next(parts, (0.0, np.zeros(0, dtype=np.float32)))
        if next(parts, None) is not None:
            return None
        transcript = Transcript(total=probe_duration(path))
        transcript.add_window(audio)
        transcript.check_sound()
        model = self.model_for(info)
        vad = VadOptions(max_speech_duration_s=CHUNK_SECONDS, min_silence_duration_ms=160)
        speech = get_speech_timestamps(audio, vad)
        chunks, metadata = collect_chunks(audio, speech, max_duration=CHUNK_SECONDS)
        features = [model.feature_extractor(chunk)[..., :-1] for chunk in chunks] if speech else []
        prepared = Prepared(job, info, task, language, transcript, speech,
                            metadata if speech else [], features)
        if language is None:
            prepared.language = self._detect(prepared)
        else:
            transcript.set_language(language, 1.0)
        return prepared

    def _detect(self, prepared: Prepared) -> str:
        """The recording's language, detected on its speech as the batched pipeline does."""
        model = self.model_for(prepared.info)
        if not model.model.is_multilingual:
            prepared.transcript.set_language("en", 1.0)
            return "en"
        blank = np.full((model.model.n_mels, 1), -1.5, dtype="float32")
        language, probability, _all = model.detect_language(
            features=np.concatenate([*prepared.features, blank], axis=1),
            language_detection_segments=1, language_detection_threshold=0.5,
        )
        prepared.transcript.set_language(language, probability)
        return str(language)

    def _decode_group(self, members: list[tuple[int, Prepared]]) -> list[tuple[int, Outcome]]:
        """Decode a group together; if that raises, each job again on its own."""
        try:
            self.decode([prepared for _index, prepared in members])
        except Exception:
            log.warning("a batched decode of %d job(s) failed; running them one at a time",
                        len(members), exc_info=True)
            return [(index, self._alone(prepared.job)) for index, prepared in members]
        outcomes: list[tuple[int, Outcome]] = []
        for index, prepared in members:
            try:
                outcomes.append((index, self.finish(prepared)))
            except JobError as exc:
                outcomes.append((index, exc))
        return outcomes

    def decode(self, group: list[Prepared]) -> None:
        """Encode and decode every chunk of ``group``, ``C3_WHISPER_BATCH_SIZE`` at a time."""
        from faster_whisper.audio import pad_or_trim
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import BatchedInferencePipeline

        first = group[0]
        model = self.model_for(first.info)
        pipeline = BatchedInferencePipeline(model)
        tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual,
                              task=first.task, language=first.language)
        options = self.options(tokenizer, bool(first.job.params.get("word_timestamps")))
        items = [(prepared, chunk) for prepared in group for chunk in range(len(prepared.features))]
        size = self.settings.whisper_batch_size
        for start in range(0, len(items), size):
            part = items[start:start + size]
            features = np.stack([pad_or_trim(p.features[chunk]) for p, chunk in part])
            pipeline.last_speech_timestamp = 0.0
            outputs = pipeline.forward(features, tokenizer, [p.metadata[c] for p, c in part],
                                       options)
            for (prepared, _chunk), segments in zip(part, outputs):
                prepared.segments.extend(segments)
                prepared.done += 1
            for prepared in {id(p): p for p, _chunk in part}.values():
                prepared.job.progress(min(0.99, prepared.done / len(prepared.features)))

    def finish(self, prepared: Prepared) -> EngineResult:
        """The job's result from its decoded chunks, on the recording's own timeline."""
        from faster_whisper.transcribe import Segment, Word, restore_speech_timestamps

        raw = [
            Segment(id=number, seek=item["seek"], start=round(item["start"], 3),
                    end=round(item["end"], 3), text=item["text"], tokens=item["tokens"],
                    avg_logprob=item["avg_logprob"], no_speech_prob=item["no_speech_prob"],
                    compression_ratio=item["compression_ratio"], temperature=0.0,
                    words=[Word(**word) for word in item["words"]] if "words" in item else None)
            for number, item in enumerate(prepared.segments, start=1)
            if not _no_speech(item)
        ]
        segments = restore_speech_timestamps(raw, prepared.speech, SAMPLE_RATE) if raw else []
        for segment in segments:
            prepared.transcript.add_segment(segment.start, segment.end, segment.text,
                                            words_of(segment.words, 0.0))
        return EngineResult(text=prepared.transcript.text(),
                            extra=prepared.transcript.extra(prepared.info.name))

    def options(self, tokenizer: Tokenizer, word_timestamps: bool) -> TranscriptionOptions:
        """The batched pipeline's decoding options: its defaults and our beam size.

        Without timestamps, as the pipeline does by default: with them, the words after a
        chunk's last complete timestamp are dropped (the plain path decodes them in a second
        pass; measured: the last sentence of each 27 s recording lost, WER 1.4 % → 12.7 %).
        So a batched job's segments are its speech chunks (up to 30 s each)."""
        from faster_whisper.transcribe import (
            TranscriptionOptions,
            get_suppressed_tokens,
        )

        return TranscriptionOptions(
            beam_size=self.settings.whisper_beam_size, best_of=5, patience=1,
            length_penalty=1, repetition_penalty=1, no_repeat_ngram_size=0,
            log_prob_threshold=LOG_PROB_THRESHOLD, no_speech_threshold=NO_SPEECH_THRESHOLD,
            compression_ratio_threshold=2.4,
            condition_on_previous_text=False, prompt_reset_on_temperature=0.5,
            temperatures=[0.0], initial_prompt=None, prefix=None, suppress_blank=True,
            suppress_tokens=get_suppressed_tokens(tokenizer, (-1,)), without_timestamps=True,
            max_initial_timestamp=0.0, word_timestamps=word_timestamps,
            prepend_punctuations="\"'“¿([{-", append_punctuations="\"'.。,，!！?？:：”)]}、",
            multilingual=False, max_new_tokens=None, clip_timestamps="0",
            hallucination_silence_threshold=None, hotwords=None,
        )


def _no_speech(item: dict[str, Any]) -> bool:
    """True for a decoded chunk that is most likely not speech (a hallucination risk)."""
    return bool(item["no_speech_prob"] > NO_SPEECH_THRESHOLD
                and item["avg_logprob"] < LOG_PROB_THRESHOLD)
