"""GET /openapi.json — an OpenAPI 3.1 description of the API, built from the request schemas."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

from c3render import __version__
from c3render.api.schemas import REQUEST_SCHEMAS, ControlRequest
from c3render.job import JobStatus

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
    "webhook": {"type": "object"}}}
_ID = [{"name": "job_id", "in": "path", "required": True,
        "schema": {"type": "string", "format": "uuid"}}]


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _body(model: Any) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": model.model_json_schema()}}}


def openapi_document() -> dict[str, Any]:
    """The whole OpenAPI document (request bodies are the pydantic schemas themselves)."""
    paths: dict[str, Any] = {}
    for job_type, model in REQUEST_SCHEMAS.items():
        paths[f"/{job_type.value}"] = {"post": {
            "summary": model.__doc__, "requestBody": _body(model),
            "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False,
                            "schema": {"type": "string", "maxLength": 255}}],
            "responses": {"200": _json(_STATUS_DOC, "queued"), "400": _ERROR, "413": _ERROR}}}
    paths["/status/{job_id}"] = {"get": {"parameters": _ID, "responses": {
        "200": _json(_STATUS_DOC), "400": _ERROR, "404": _ERROR}}}
    paths["/result/{job_id}"] = {"get": {"parameters": _ID, "responses": {
        "200": _json({"type": "object"}, "result_url or text, with additions"),
        "400": _ERROR, "404": _ERROR}}}
    paths["/job/{job_id}"] = {"post": {"parameters": _ID, "requestBody": _body(ControlRequest),
                                       "responses": {"200": _json(_STATUS_DOC), "400": _ERROR,
                                                     "404": _ERROR, "409": _ERROR}}}
    paths["/jobs"] = {"get": {"responses": {"200": _json({"type": "object"}), "400": _ERROR}}}
    paths["/uploads"] = {"post": {"responses": {"201": _json({"type": "object"}), "400": _ERROR,
                                                "413": _ERROR}}}
    paths["/"] = {"get": {"summary": "health", "responses": {"200": _json({"type": "object"}),
                                                            "503": _json({"type": "object"})}}}
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
