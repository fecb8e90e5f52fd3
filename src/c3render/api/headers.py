"""Security headers on every response, and no server banner.

Every answer is JSON, a subtitle file or a stored media file: nothing is meant to run in a
browser, so the policy forbids everything (``default-src 'none'``) and media elements still
play a file opened at its link. ``Server`` is set to a plain name, which replaces the WSGI
server's own banner (granian keeps an application's ``Server`` header).
"""

from __future__ import annotations

from flask import Flask, Response

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; sandbox",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "cross-origin",
    "Server": "c3-render",
}


def init_security_headers(app: Flask) -> None:
    """Add ``SECURITY_HEADERS`` to every response the app sends (errors included)."""

    @app.after_request
    def _secure(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers[name] = value
        return response
