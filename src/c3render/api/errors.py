"""One place that turns errors into JSON responses ``{"error": ...}``."""

from __future__ import annotations

import logging

import redis
from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from c3render.errors import C3Error, RequestError, TooManyRequests

log = logging.getLogger(__name__)


def error_response(status: int, message: str, field: str | None = None) -> tuple[Response, int]:
    """A JSON error body; with ``field``, also the original /portrait's ``errors`` shape."""
    body: dict[str, object] = {"error": message}
    if field:
        body["errors"] = {field: message}
    return jsonify(body), status


def init_error_handlers(app: Flask) -> None:
    """Register handlers so no client input ever produces an HTML page or a bare 500."""

    @app.errorhandler(C3Error)
    def _c3(error: C3Error) -> tuple[Response, int]:
        field = error.field if isinstance(error, RequestError) else None
        response, status = error_response(error.http_status, error.message, field)
        if isinstance(error, TooManyRequests):
            response.headers["Retry-After"] = str(error.retry_after)
        return response, status

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> tuple[Response, int]:
        messages = {
            404: f"no such endpoint: {request.path}",
            405: f"method {request.method} is not allowed on {request.path}",
            413: "the request body is too large",
        }
        code = error.code or 500
        return error_response(code, messages.get(code, error.description or error.name))

    @app.errorhandler(redis.RedisError)
    def _redis(error: redis.RedisError) -> tuple[Response, int]:
        log.error("Redis error: %s", error)
        return error_response(503, "the job store (Redis) is not reachable; try again shortly")

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> tuple[Response, int]:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return error_response(500, "internal error; it has been logged")
