"""API-key authentication, and who a request acts for.

Every endpoint needs a key when keys are configured.
A key is sent as ``X-C3-RENDER-KEY: <key>`` or ``Authorization: Bearer <key>`` and compared
in constant time. View functions marked ``public = True`` (health, the OpenAPI document,
signed file links) and CORS preflight requests need none. ``C3_API_KEYS`` entries may be
named (``name:key``); the name — never the key — is what jobs, uploads and logs record.
"""

from __future__ import annotations

import hmac

from flask import Flask, current_app, g, request

from c3render.errors import Unauthorized
from c3render.settings import Settings


def presented_key() -> str | None:
    """The API key the current request carries, if any."""
    key = request.headers.get("X-C3-RENDER-KEY")
    if key:
        return key
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def key_name(key: str | None, names: dict[str, str]) -> str | None:
    """The name of ``key`` if it is one of ``names`` (compared in constant time), else None."""
    if key is None:
        return None
    found = None
    for candidate, name in names.items():
        if hmac.compare_digest(key.encode(), candidate.encode()):
            found = name
    return found


def key_is_valid(key: str | None, valid_keys: list[str]) -> bool:
    """Constant-time check of ``key`` against every configured key."""
    return key_name(key, {candidate: candidate for candidate in valid_keys}) is not None


def current_owner() -> str:
    """The name of the key the current request was made with ("" without keys)."""
    return str(g.get("key_name") or "")


def init_auth(app: Flask, settings: Settings) -> None:
    """Install the API-key check (a no-op when no keys are configured)."""
    names = {key: name for key, name in settings.key_names.items() if key}
    if not names:
        return

    @app.before_request
    def _require_key() -> None:
        if request.method == "OPTIONS":
            return
        view = current_app.view_functions.get(request.endpoint or "")
        if view is None or getattr(view, "public", False):
            return
        name = key_name(presented_key(), names)
        if name is None:
            raise Unauthorized(
                "a valid API key is required (X-C3-RENDER-KEY header or Authorization: Bearer)"
            )
        g.key_name = name
