"""CORS for browser clients (flask-cors), evaluated only for requests that carry an Origin."""

from __future__ import annotations

from flask import Flask, Response, request
from flask_cors import CORS

from c3render.settings import Settings


def init_cors(app: Flask, settings: Settings) -> None:
    """CORS for browser clients (flask-cors), evaluated only for requests that carry an Origin."""
    CORS(
        app,
        origins=settings.cors_origins,
        allow_headers=["Content-Type", "Authorization", "X-C3-RENDER-KEY", "Idempotency-Key"],
        max_age=600,
    )
    cors_headers = app.after_request_funcs[None].pop()  # the hook CORS() just added
    vary = settings.cors_origins != ["*"]

    @app.after_request
    def _cors(response: Response) -> Response:
        if "Origin" in request.headers:
            return cors_headers(response)
        if vary:
            response.vary.add("Origin")
        return response
