"""The OpenAPI description of the endpoints for people and hosted-API habits (events,
OpenAI audio, streamed speech, metrics, the dashboard), kept apart from ``docs.py``.

``add_user_facing(paths)`` adds them to a document's ``paths``; ``/openapi.json`` has them.
/events and /stream stream until the job ends and /v1/audio/* hold the request until their job ends,
so the schema fuzzer (``tests/integration/test_schemathesis.py``, no worker) reads the
document without them.
"""

from __future__ import annotations

from typing import Any

from c3render.api.openai_shapes import TRANSCRIPT_FORMATS
from c3render.api.routes.openai_audio import SpeechRequest
from c3render.media.streaming import STREAM_FORMATS

_ID = {"name": "job_id", "in": "path", "required": True,
       "schema": {"type": "string", "format": "uuid"}}
_OPENAI_ERROR = {"description": "error in OpenAI's shape", "content": {"application/json": {
    "schema": {"type": "object", "properties": {"error": {"type": "object", "properties": {
        "message": {"type": "string"}, "type": {"type": "string"},
        "param": {"type": ["string", "null"]}, "code": {"type": ["string", "null"]}}}}}}}}
_TRANSCRIBE_FORM = {"type": "object", "required": ["file", "model"], "properties": {
    "file": {"type": "string", "format": "binary"},
    "model": {"type": "string", "examples": ["whisper-1", "base"]},
    "language": {"type": "string"}, "prompt": {"type": "string"},
    "temperature": {"type": "number"},
    "response_format": {"type": "string", "enum": list(TRANSCRIPT_FORMATS), "default": "json"},
    "timestamp_granularities[]": {"type": "array",
                                  "items": {"type": "string", "enum": ["word", "segment"]}}}}


def _transcription(summary: str) -> dict[str, Any]:
    return {"post": {"summary": summary, "requestBody": {"required": True, "content": {
        "multipart/form-data": {"schema": _TRANSCRIBE_FORM}}}, "responses": {
        "200": {"description": "the transcript in response_format", "content": {
            "application/json": {"schema": {"type": "object"}},
            "text/plain": {"schema": {"type": "string"}}}},
        "400": _OPENAI_ERROR, "401": _OPENAI_ERROR, "504": _OPENAI_ERROR}}}


def _stream() -> dict[str, Any]:
    """``GET /stream/{id}``: a /csm job's audio while it renders."""
    def error(text: str) -> dict[str, Any]:
        return {"description": text, "content": {"application/json": {"schema": {
            "type": "object", "properties": {"error": {"type": "string"}}}}}}

    return {"get": {
        "summary": "A /csm job's audio as it is rendered, sentence by sentence (chunked)",
        "description": "Waits (C3_STREAM_WAIT_SECONDS) for a queued job to start. The body "
                       "ends early when the job fails mid-stream. Resume after a disconnect "
                       "with offset = the bytes already received (same format).",
        "parameters": [
            _ID,
            {"name": "format", "in": "query", "required": False,
             "description": "mp3 (24 kHz mono), wav (16-bit 24 kHz mono, unknown length) or "
                            "pcm (s16le 24 kHz mono); default: the job's format (ogg → mp3)",
             "schema": {"type": "string", "enum": list(STREAM_FORMATS)}},
            {"name": "offset", "in": "query", "required": False,
             "description": "start at this byte of the stream (resume)",
             "schema": {"type": "integer", "minimum": 0}},
            {"name": "run", "in": "query", "required": False,
             "description": "the X-Stream-Run being resumed: 409 when the job has moved on "
                            "to another run (retried), instead of mixing two runs' audio",
             "schema": {"type": "integer", "minimum": 1}}],
        "responses": {
            "200": {"description": "the audio, chunked; headers X-Stream-Run, X-Stream-Offset",
                    "content": {media: {"schema": {"type": "string", "format": "binary"}}
                                for media in STREAM_FORMATS.values()}},
            "400": error("bad id, format or offset, or not a /csm job"),
            "404": error("no such job"),
            "409": error("the job ended without success, or is on another run"),
            "410": error("the job's audio stream is no longer kept (see /result)"),
            "504": error("the job did not start in time")}}}


def add_user_facing(paths: dict[str, Any]) -> None:
    """Add /events, /stream, /v1/audio/*, /voices, /metrics, /ui, /docs and the submit/status
    additions."""
    for path, item in paths.items():
        if path in ("/csm", "/portrait", "/whisper", "/analyze"):
            item["post"].setdefault("parameters", []).append(
                {"name": "Prefer", "in": "header", "required": False,
                 "description": "wait=N: hold the request up to N s (capped) and answer the "
                                "result document when the job ends in time",
                 "schema": {"type": "string", "examples": ["wait=30"]}})
    status = paths.get("/status/{job_id}", {}).get("get")
    if status is not None:
        status.setdefault("parameters", []).append(
            {"name": "logs", "in": "query", "required": False,
             "description": "1: add the job's log lines", "schema": {"type": "string",
                                                                   "enum": ["0", "1"]}})
    paths["/events/{job_id}"] = {"get": {
        "summary": "Live events (Server-Sent Events): status, queue, progress, log, result",
        "parameters": [_ID, {"name": "Last-Event-ID", "in": "header", "required": False,
                             "schema": {"type": "string"}}],
        "responses": {"200": {"description": "an event stream",
                              "content": {"text/event-stream": {"schema": {"type": "string"}}}},
                      "400": {"description": "bad id"}, "404": {"description": "no such job"}}}}
    paths["/stream/{job_id}"] = _stream()
    paths["/v1/audio/transcriptions"] = _transcription("OpenAI-compatible speech to text")
    paths["/v1/audio/translations"] = _transcription("OpenAI-compatible translation to English")
    paths["/v1/audio/speech"] = {"post": {
        "summary": "OpenAI-compatible text to speech",
        "requestBody": {"required": True, "content": {
            "application/json": {"schema": SpeechRequest.model_json_schema()}}},
        "responses": {"200": {"description": "audio in response_format", "content": {
            "audio/*": {"schema": {"type": "string", "format": "binary"}}}},
            "400": _OPENAI_ERROR, "401": _OPENAI_ERROR, "504": _OPENAI_ERROR}}}
    paths["/voices"] = {"get": {
        "summary": "The /csm voices: built-in, and named ones from C3_VOICES_DIR",
        "responses": {"200": {"description": "the voices", "content": {"application/json": {
            "schema": {"type": "object", "properties": {"voices": {"type": "array", "items": {
                "type": "object", "required": ["name", "kind"], "properties": {
                    "name": {"type": "string"}, "kind": {"enum": ["built-in", "named"]},
                    "text": {"type": "string"}, "description": {"type": "string"}}}},
                "also": {"type": "object"}}},
            "example": {"voices": [{"name": "conversational_a", "kind": "built-in"},
                                   {"name": "alice", "kind": "named", "text": "Hello."}]}}}},
            "401": {"description": "missing or wrong API key"}}}}
    paths["/metrics"] = {"get": {"summary": "Prometheus metrics", "responses": {"200": {
        "description": "text exposition format",
        "content": {"text/plain": {"schema": {"type": "string"}}}}}}}
    for path, summary in (("/ui", "the web dashboard"), ("/docs", "this page")):
        paths[path] = {"get": {"summary": summary, "security": [], "responses": {"200": {
            "description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}}}}}
