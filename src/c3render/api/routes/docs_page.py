"""``GET /docs``: the interactive API page (Swagger UI) reading ``/openapi.json``.

Swagger UI's files come from the ``swagger-ui-py`` package on PyPI and are served by us
under ``/docs/assets/``, so the page works with no internet. The page and its assets need
no API key (the document they show is public); requests made from the page carry the
key entered in its Authorize dialog.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import swagger_ui
from flask import Blueprint, Response, send_from_directory

from c3render.api.operations import under_prefix

docs_page_bp = Blueprint("docs_page", __name__)

SWAGGER_ASSETS = Path(swagger_ui.__file__).parent / "static"
PAGE = resources.files("c3render.api").joinpath("static", "docs")
ONE_DAY = 86400


@docs_page_bp.get("/docs")
@docs_page_bp.get("/docs/")
def page() -> Response:
    """GET /docs: the Swagger UI page."""
    return Response(under_prefix(PAGE.joinpath("index.html").read_text()), mimetype="text/html")


@docs_page_bp.get("/docs/start.js")
def start_script() -> Response:
    """The page's own script (a file, not inline: works under a strict CSP)."""
    return Response(PAGE.joinpath("start.js").read_text(), mimetype="text/javascript")


@docs_page_bp.get("/docs/assets/<path:name>")
def asset(name: str) -> Response:
    """Swagger UI's bundled JavaScript, CSS and icons."""
    return send_from_directory(SWAGGER_ASSETS, name, max_age=ONE_DAY)


for _view in (page, start_script, asset):
    _view.public = True  # type: ignore[attr-defined]
