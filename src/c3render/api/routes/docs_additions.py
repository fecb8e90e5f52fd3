"""The OpenAPI description of the endpoints for people and hosted-API habits (events,
OpenAI audio, metrics, the dashboard), kept apart from ``docs.py``.

``add_user_facing(paths)`` adds them to a document's ``paths``; ``/openapi.json`` has them.
/events streams until the job ends and /v1/audio/* hold the request until their job ends,
so the schema fuzzer (``tests/integration/test_schemathesis.py``, no worker) reads the
document without them.
"""

from __future__ import annotations

from typing import Any

from c3render.api.openai_shapes import TRANSCRIPT_FORMATS
from c3render.api.routes.openai_audio import SpeechRequest

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


def add_user_facing(paths: dict[str, Any]) -> None:
    """Add /events, /v1/audio/*, /voices, /metrics, /ui, /docs and the submit/status additions."""
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
