"""Security headers on every response, and no server banner.

Every answer but the two pages (``/ui``, ``/docs``) is JSON, a subtitle file or a stored
media file: nothing is meant to run in a browser, so the policy forbids everything
(``default-src 'none'``) and media elements still play a file opened at its link. ``Server`` is set to a plain name, which replaces the WSGI
server's own banner (granian keeps an application's ``Server`` header).
"""

from __future__ import annotations

from flask import Flask, Response, request

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; sandbox",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "cross-origin",
    "Server": "c3-render",
}


PAGES = ("/ui", "/docs")
"""The two pages meant for a browser (the dashboard and the API docs): they get a policy
that lets their own scripts run, talk to this API and play results, and nothing else."""
PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; media-src 'self' blob: http: https:; "
    "connect-src 'self' http: https:; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'"
)


def init_security_headers(app: Flask) -> None:
    """Add ``SECURITY_HEADERS`` to every response the app sends (errors included)."""

    @app.after_request
    def _secure(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers[name] = value
        if "/" + request.path.lstrip("/").split("/", 1)[0] in PAGES:
            response.headers["Content-Security-Policy"] = PAGE_POLICY
        return response
