"""API-key authentication and CORS.

Every endpoint needs a key when keys are configured.
A key is sent as ``X-C3-RENDER-KEY: <key>`` or ``Authorization: Bearer <key>`` and compared
in constant time. View functions marked ``public = True`` (health, signed file links) and
CORS preflight requests need none.
"""

from __future__ import annotations

import hmac

from flask import Flask, Response, current_app, request
from flask_cors import CORS

from c3render.config import Settings
from c3render.errors import Unauthorized


def presented_key() -> str | None:
    """The API key the current request carries, if any."""
    key = request.headers.get("X-C3-RENDER-KEY")
    if key:
        return key
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def key_is_valid(key: str | None, valid_keys: list[str]) -> bool:
    """Constant-time check of ``key`` against every configured key."""
    if key is None:
        return False
    found = False
    for candidate in valid_keys:
        found |= hmac.compare_digest(key.encode(), candidate.encode())
    return found


def init_auth(app: Flask, settings: Settings) -> None:
    """Install the API-key check (a no-op when no keys are configured)."""
    keys = [key for key in settings.api_keys if key]
    if not keys:
        return

    @app.before_request
    def _require_key() -> None:
        if request.method == "OPTIONS":
            return
        view = current_app.view_functions.get(request.endpoint or "")
        if view is None or getattr(view, "public", False):
            return
        if not key_is_valid(presented_key(), keys):
            raise Unauthorized(
                "a valid API key is required (X-C3-RENDER-KEY header or Authorization: Bearer)"
            )


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
