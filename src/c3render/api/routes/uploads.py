"""Uploads: ``POST /uploads`` stores a file any job accepts as an ``*_url`` input.

It takes a multipart field ``file`` or a raw body, streams it to disk under the same size
cap as fetched inputs, sniffs it (audio, image or video) and answers 201 with a signed
link.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from c3render.api.auth import current_owner
from c3render.api.services import base_url, services
from c3render.errors import PayloadTooLarge, RequestError, TooManyRequests
from c3render.inputs.fetch import human_size
from c3render.inputs.size import measure_file
from c3render.inputs.sniff import HEAD, Sniffed, sniff
from c3render.queue import keys
from c3render.storage.base import MAX_PRESIGN_SECONDS, safe_filename
from c3render.storage.local import LocalStorage

uploads_bp = Blueprint("uploads", __name__)

CHUNK = 256 * 1024
MULTIPART_SLACK = 64 * 1024
"""Room for multipart boundaries and part headers above the file size cap."""


@uploads_bp.errorhandler(RequestEntityTooLarge)
def _too_large(_error: RequestEntityTooLarge) -> tuple[Response, int]:
    cap = human_size(services().settings.fetch_max_bytes)
    return jsonify({"error": f"file is larger than {cap}"}), 413


@uploads_bp.post("/uploads")
def upload() -> tuple[Response, int]:
    """Store an uploaded audio, image or video file; answer its id and a signed link."""
    svc = services()
    cap = svc.settings.fetch_max_bytes
    if request.content_length is not None and request.content_length > cap + MULTIPART_SLACK:
        raise PayloadTooLarge(f"file is larger than {human_size(cap)}")
    room, retry_after = _quota_room(current_owner())
    if room is not None and (request.content_length or 0) > room + MULTIPART_SLACK:
        raise _over_quota(retry_after)
    request.max_content_length = cap + MULTIPART_SLACK
    workdir = svc.settings.data_dir / "tmp"
    workdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=workdir) as temp:
        path = Path(temp) / "upload"
        try:
            name, size = _receive(path, cap if room is None else min(cap, room))
        except PayloadTooLarge:
            if room is not None and room < cap:
                raise _over_quota(retry_after) from None
            raise
        found = _sniff_upload(path)
        return jsonify(_store(path, name, size, found)), 201


def _quota_room(owner: str) -> tuple[int | None, float]:
    """Bytes the key may still upload (None: no quota) and the seconds until that grows."""
    svc = services()
    quota = svc.settings.max_upload_bytes
    if not quota:
        return None, 0.0
    used, first_expiry = svc.quotas.upload_bytes(owner)
    if used >= quota:
        raise _over_quota(first_expiry - time.time())
    return quota - used, first_expiry - time.time()


def _over_quota(retry_after: float) -> TooManyRequests:
    quota = human_size(services().settings.max_upload_bytes)
    return TooManyRequests(
        f"file: this key's uploads would exceed its quota of {quota} (C3_MAX_UPLOAD_BYTES); "
        "older uploads count until they expire", min(retry_after, 86400.0))


def _receive(path: Path, cap: int) -> tuple[str | None, int]:
    """Write the multipart field ``file`` or the raw body to ``path``; (filename, size)."""
    if request.mimetype == "multipart/form-data":
        part = request.files.get("file")
        if part is None:
            raise RequestError("file: send the file as multipart field 'file'", field="file")
        return part.filename, _copy_capped(part.stream, path, cap)
    return request.args.get("filename"), _copy_capped(request.stream, path, cap)


def _copy_capped(source: IO[bytes], path: Path, cap: int) -> int:
    size = 0
    with path.open("wb") as out:
        while chunk := source.read(CHUNK):
            size += len(chunk)
            if size > cap:
                raise PayloadTooLarge(f"file is larger than {human_size(cap)}")
            out.write(chunk)
    if size == 0:
        raise RequestError("file: the upload is empty", field="file")
    return size


def _sniff_upload(path: Path) -> Sniffed:
    with path.open("rb") as handle:
        found = sniff(handle.read(HEAD))
    if found is None:
        raise RequestError("file is not an audio, image or video file", field="file")
    return found


def _store(path: Path, name: str | None, size: int, found: Sniffed) -> dict[str, Any]:
    svc = services()
    settings = svc.settings
    upload_id = str(uuid.uuid4())
    stem = safe_filename(name, default="upload").rsplit(".", 1)[0] or "upload"
    key = f"uploads/{upload_id}/{stem}{found.suffix}"
    svc.storage.put_file(key, path, found.media_type)
    lifetime = min(settings.link_seconds, settings.retention_seconds)
    if not isinstance(svc.storage, LocalStorage):
        lifetime = min(lifetime, MAX_PRESIGN_SECONDS)
    expires_at = datetime.fromtimestamp(time.time() + lifetime, timezone.utc)
    owner = current_owner()
    record = {"key": key, "size": size, "media_type": found.media_type,
              "created_at": time.time(), "owner": owner,
              **measure_file(path, found.media_type)}  # a job's size for its ETA
    pipe = svc.redis.pipeline(transaction=False)  # one round trip (a cluster has no MULTI here)
    pipe.hset(keys.upload(upload_id), mapping=record)
    pipe.expire(keys.upload(upload_id), settings.retention_seconds)
    pipe.execute()
    if settings.max_upload_bytes:
        svc.quotas.record_upload(owner, upload_id, size, time.time() + settings.retention_seconds)
    return {
        "id": upload_id,
        "url": svc.storage.link(key, base_url()),
        "size": size,
        "media_type": found.media_type,
        "expires_at": expires_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
    }
