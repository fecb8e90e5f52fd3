"""GET /openapi.json — an OpenAPI 3.1 description of the API, built from the request schemas."""

from __future__ import annotations

import copy
from typing import Any

from flask import Blueprint, Response, jsonify

from c3render import __version__
from c3render.api.routes.docs_additions import add_user_facing
from c3render.api.schemas import REQUEST_SCHEMAS, ControlRequest
from c3render.job import JobStatus, JobType

docs_bp = Blueprint("docs", __name__)

_ERROR = {"description": "error", "content": {"application/json": {"schema": {
    "type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]}}}}
_STATUS_DOC = {"type": "object", "required": ["id", "status"], "properties": {
    "id": {"type": "string", "format": "uuid"},
    "status": {"type": "string", "enum": [status.value for status in JobStatus]},
    "error": {"type": "string"}, "type": {"type": "string"},
    "created_at": {"type": "string"}, "started_at": {"type": ["string", "null"]},
    "finished_at": {"type": ["string", "null"]}, "progress": {"type": "number"},
    "queue_position": {"type": "integer"}, "attempts": {"type": "integer"},
    "priority": {"type": "string", "enum": ["high", "normal", "low"]},
    "error_type": {"type": "string", "enum": [
        "input", "engine", "unavailable", "transient", "timeout", "worker_lost", "cancelled",
        "requested", "redis_lost"]},
    "retry_at": {"type": ["string", "null"]}, "last_error": {"type": ["string", "null"]},
    "webhook": {"type": "object"},
    "waiting_for": {"type": "array", "items": {"type": "string", "format": "uuid"}},
    "stage": {"type": "string", "enum": ["speech", "video"]}, "stages": {"type": "object"},
    "eta": {"type": ["object", "null"], "description": (
        "GET /status of a queued or running job: seconds from now until it starts and ends, "
        "predicted from the type's recent run times and input sizes, the jobs ahead and the "
        "live workers serving the type; null (with eta_reason) when it cannot be told"),
        "required": ["start_in_s", "finish_in_s", "basis"], "properties": {
            "start_in_s": {"type": "number"}, "finish_in_s": {"type": "number"},
            "basis": {"type": "object", "description": (
                "how it was estimated: method (size: overhead_s + seconds_per_unit x size; "
                "median: the median run time), samples, sized_samples, size and size_unit, "
                "run_s, jobs_ahead, running, waiting_other_types, delayed, workers, slots; "
                "for a running job elapsed_s and progress")}}},
    "eta_reason": {"type": "string", "description": "why eta is null"}}}
_ID = [{"name": "job_id", "in": "path", "required": True,
        "schema": {"type": "string", "format": "uuid"}}]


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _body(model: Any) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": model.model_json_schema()}}}


def _query(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema}


_KEYED = {"401": _ERROR, "503": _ERROR}
_LIMITED = {"429": {**_ERROR, "headers": {"Retry-After": {"schema": {"type": "integer"}}}}}
_PUBLIC: list[dict[str, Any]] = []  # no API key: an empty security requirement
_LIST_PARAMS = [
    _query("status", {"type": "string", "enum": [status.value for status in JobStatus]}),
    _query("type", {"type": "string", "enum": [job_type.value for job_type in JobType]}),
    _query("limit", {"type": "integer", "minimum": 1, "maximum": 500}),
    _query("offset", {"type": "integer", "minimum": 0, "maximum": 10_000}),
]
_UPLOAD_BODY = {"required": True, "content": {
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
        "file": {"type": "string", "format": "binary"}}}},
    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}
_FILE_PARAMS = [
    {"name": "key", "in": "path", "required": True, "schema": {"type": "string"}},
    _query("expires", {"type": "string"}), _query("signature", {"type": "string"}),
]


def _job_paths() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for job_type, model in REQUEST_SCHEMAS.items():
        paths[f"/{job_type.value}"] = {"post": {
            "summary": model.__doc__, "requestBody": _body(model),
            "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False,
                            "schema": {"type": "string", "maxLength": 255}}],
            "responses": {"200": _json(_STATUS_DOC, "queued"), "400": _ERROR, "413": _ERROR,
                          **_KEYED, **_LIMITED}}}
    paths["/status/{job_id}"] = {"get": {"parameters": _ID, "responses": {
        "200": _json(_STATUS_DOC), "400": _ERROR, "404": _ERROR, **_KEYED}}}
    paths["/result/{job_id}"] = {"get": {
        "parameters": [*_ID, _query("format", {"type": "string", "enum": ["json", "srt", "vtt"]})],
        "responses": {"200": {"description": "result_url or text, with additions; or subtitles",
                              "content": {"application/json": {"schema": {"type": "object"}},
                                          "application/x-subrip": {"schema": {"type": "string"}},
                                          "text/vtt": {"schema": {"type": "string"}}}},
                      "400": _ERROR, "404": _ERROR, **_KEYED}}}
    paths["/job/{job_id}"] = {"post": {"parameters": _ID, "requestBody": _body(ControlRequest),
                                       "responses": {"200": _json(_STATUS_DOC), "400": _ERROR,
                                                     "404": _ERROR, "409": _ERROR, **_KEYED}}}
    paths["/job/{job_id}/retry"] = {"post": {
        "summary": "queue a failed or timed-out job again under the same id",
        "parameters": _ID, "responses": {"200": _json(_STATUS_DOC), "400": _ERROR,
                                         "404": _ERROR, "409": _ERROR, **_KEYED}}}
    paths["/workers"] = {"get": {"summary": "the live workers (counts of running jobs, no ids)",
                                 "responses": {"200": _json({"type": "object", "required": [
                                     "workers"], "properties": {"workers": {
                                         "type": "array", "items": {"type": "object"}}}}),
                                     **_KEYED}}}
    paths["/jobs"] = {"get": {"parameters": _LIST_PARAMS, "responses": {
        "200": _json({"type": "object", "required": ["jobs", "limit", "offset"], "properties": {
            "jobs": {"type": "array", "items": _STATUS_DOC}, "limit": {"type": "integer"},
            "offset": {"type": "integer"}}}), "400": _ERROR, **_KEYED}}}
    return paths


def openapi_document(user_facing: bool = True) -> dict[str, Any]:
    """The whole OpenAPI document (request bodies are the pydantic schemas themselves).

    ``user_facing=False`` leaves out what holds a request until a job ends (``/events``,
    ``/v1/audio/*``, ``Prefer: wait``), for a fuzzer that runs with no worker.
    """
    paths = _job_paths()
    paths["/uploads"] = {"post": {"requestBody": _UPLOAD_BODY, "parameters": [
        _query("filename", {"type": "string"})], "responses": {
        "201": _json({"type": "object"}), "400": _ERROR, "413": _ERROR, **_KEYED, **_LIMITED}}}
    paths["/files/{key}"] = {"get": {
        "summary": "a signed link (the link is the credential)", "security": _PUBLIC,
        "parameters": _FILE_PARAMS, "responses": {
            "200": {"description": "the file"}, "206": {"description": "a byte range"},
            "304": {"description": "not modified"}, "403": _ERROR, "404": _ERROR,
            "416": {"description": "range not satisfiable"}}}}
    paths["/"] = {"get": {"summary": "health", "security": _PUBLIC, "responses": {
        "200": _json({"type": "object"}), "503": _json({"type": "object"})}}}
    paths["/openapi.json"] = {"get": {"summary": "this document", "security": _PUBLIC,
                                      "responses": {"200": _json({"type": "object"})}}}
    if user_facing:
        paths = copy.deepcopy(paths)  # the additions extend lists shared by every document
        add_user_facing(paths)
    return {
        "openapi": "3.1.0",
        "info": {"title": "C3 Render", "version": __version__},
        "components": {"securitySchemes": {
            "key": {"type": "apiKey", "in": "header", "name": "X-C3-RENDER-KEY"},
            "bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"key": []}, {"bearer": []}],
        "paths": paths,
    }


@docs_bp.get("/openapi.json")
def openapi() -> Response:
    """GET /openapi.json (no API key needed: it describes, it does not serve data)."""
    return jsonify(openapi_document())


openapi.public = True  # type: ignore[attr-defined]
