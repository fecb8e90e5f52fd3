"""API-key authentication.

Every endpoint needs a key when keys are configured.
A key is sent as ``X-C3-RENDER-KEY: <key>`` or ``Authorization: Bearer <key>`` and compared
in constant time. View functions marked ``public = True`` (health, signed file links) and
CORS preflight requests need none.
"""

from __future__ import annotations

import hmac

from flask import Flask, current_app, request

from c3render.errors import Unauthorized
from c3render.settings import Settings


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
