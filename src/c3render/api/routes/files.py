"""Signed file links: ``GET /files/<key>``.

It needs no API key — the signed link is the credential — so its view is marked
``public = True`` for the app's auth hook. It serves local storage with the right
Content-Type, Content-Length and HTTP Range support (206) so browsers can seek media.
"""

from __future__ import annotations

import time

from flask import Blueprint, Response, request, send_file

from c3render.api.services import services
from c3render.errors import Forbidden, NotFound
from c3render.storage.local import LocalStorage

files_bp = Blueprint("files", __name__)


@files_bp.get("/files/<path:key>")
def get_file(key: str) -> Response:
    """Serve a stored file when the link's signature is ours and it has not expired."""
    storage = services().storage
    if not isinstance(storage, LocalStorage):
        raise NotFound("files are served by the object store's own links")
    expires = request.args.get("expires", "")
    if not (expires.isascii() and expires.isdigit() and len(expires) <= 12):  # '²'.isdigit()
        raise Forbidden("this link is not valid (bad expiry)")
    if int(expires) < time.time():
        raise Forbidden("this link has expired")
    if not storage.verify(key, expires, request.args.get("signature")):
        raise Forbidden("this link is not valid (bad signature)")
    meta = storage.metadata(key)
    response = send_file(
        storage.path(key), mimetype=meta["media_type"], conditional=True,
        download_name=key.rsplit("/", 1)[-1], max_age=None,
    )
    response.headers["Accept-Ranges"] = "bytes"
    if "Content-Disposition" not in response.headers:
        response.headers["Content-Disposition"] = "inline"
    return response


get_file.public = True  # type: ignore[attr-defined]
