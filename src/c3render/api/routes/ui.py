"""``GET /ui``: the web dashboard — plain HTML, JavaScript and CSS shipped as package data
(``api/static/ui``), no build step. It uses only the public API (the key a person enters
is kept in the browser's localStorage and sent as ``X-C3-RENDER-KEY``), so the page itself
needs no key."""

from __future__ import annotations

from importlib import resources

from flask import Blueprint, Response, redirect, request

from c3render.api.operations import under_prefix

ui_bp = Blueprint("ui", __name__)

FILES = resources.files("c3render.api").joinpath("static", "ui")
TYPES = {"app.js": "text/javascript", "app.css": "text/css", "index.html": "text/html"}


@ui_bp.get("/ui")
def index() -> Response:
    """GET /ui: the dashboard page."""
    return Response(under_prefix(FILES.joinpath("index.html").read_text()), mimetype="text/html")


@ui_bp.get("/ui/")
def slash() -> Response:
    """GET /ui/ → /ui."""
    return redirect(request.script_root + "/ui", code=308)  # type: ignore[return-value]


@ui_bp.get("/ui/<name>")
def asset(name: str) -> Response:
    """The dashboard's script and style sheet."""
    if name not in TYPES:
        return Response("not found", status=404, mimetype="text/plain")
    return Response(FILES.joinpath(name).read_text(), mimetype=TYPES[name])


for _view in (index, slash, asset):
    _view.public = True  # type: ignore[attr-defined]
