"""Local storage: files under ``{data_dir}/files/{key}``, links signed with HMAC-SHA256.

A link is ``{base_url}/files/{key}?expires=<unix>&signature=<hex>``; the API's files
route serves it (see ``c3render.api.routes.files``). The media type and storage time of each
file sit beside it in a hidden JSON sidecar ``.{name}.json`` (key segments never start
with a dot, so a sidecar can never be mistaken for, or overwrite, a stored file).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from c3render.errors import NotFound
from c3render.settings import Settings
from c3render.storage.base import Storage, validate_key

ROUTE = "/files/"


class LocalStorage(Storage):
    """Files on the local disk (or a shared volume) with HMAC-signed expiring links."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = (settings.data_dir / "files").resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    # --- paths and metadata ----------------------------------------------------------

    def path(self, key: str) -> Path:
        """The file of ``key`` (it may not exist); ValueError for an invalid key."""
        return self.root / validate_key(key)

    @staticmethod
    def _sidecar(path: Path) -> Path:
        return path.with_name(f".{path.name}.json")

    def metadata(self, key: str) -> dict[str, Any]:
        """``{"media_type", "size", "stored_at"}`` of a stored file; NotFound if missing."""
        path = self.path(key)
        if not path.is_file():
            raise NotFound(f"no file {key}")
        try:
            meta: dict[str, Any] = json.loads(self._sidecar(path).read_text())
        except (OSError, ValueError):
            meta = {"media_type": "application/octet-stream", "stored_at": path.stat().st_mtime}
        meta["size"] = path.stat().st_size
        return meta

    # --- the Storage interface -------------------------------------------------------

    def put_file(self, key: str, path: Path, media_type: str) -> None:
        """Copy ``path`` in atomically (temp file + rename) and write its sidecar."""
        dest = self.path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        meta = {"media_type": media_type, "stored_at": time.time()}
        self._write_atomic(self._sidecar(dest), lambda out: out.write(json.dumps(meta).encode()))
        with path.open("rb") as source:
            self._write_atomic(dest, lambda out: shutil.copyfileobj(source, out, 1 << 20))

    @staticmethod
    def _write_atomic(dest: Path, write: Any) -> None:
        try:
            fd, temp = tempfile.mkstemp(dir=dest.parent, prefix=".tmp-")
        except FileNotFoundError:  # a concurrent purge removed the folder just made
            dest.parent.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(dir=dest.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                write(out)
            os.replace(temp, dest)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise

    def get_to_file(self, key: str, dest: Path) -> None:
        """Copy the stored file to ``dest``; NotFound when it does not exist."""
        try:
            source = self.path(key)
        except ValueError:
            raise NotFound(f"no file {key}") from None
        if not source.is_file():
            raise NotFound(f"no file {key}")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, dest)

    def sign(self, key: str, expires: int) -> str:
        """Hex HMAC-SHA256 of the key and expiry time under the service's secret key."""
        message = f"{key}\n{expires}".encode()
        return hmac.new(self.settings.secret_key, message, hashlib.sha256).hexdigest()

    def verify(self, key: str, expires: str | None, signature: str | None) -> bool:
        """True when ``signature`` is ours for ``key`` and ``expires`` is in the future."""
        if (not expires or not signature or not (expires.isascii() and expires.isdigit())
                or len(expires) > 12):
            return False
        if int(expires) < time.time():
            return False
        return hmac.compare_digest(self.sign(key, int(expires)).encode(), signature.encode())

    def link(self, key: str, base_url: str) -> str:
        """``{base_url}/files/{key}?expires=..&signature=..``, valid for link_seconds."""
        validate_key(key)
        expires = int(time.time()) + self.settings.link_seconds
        return (f"{base_url.rstrip('/')}{ROUTE}{quote(key)}"
                f"?expires={expires}&signature={self.sign(key, expires)}")

    def key_for_url(self, url: str) -> str | None:
        """The key of a valid link of ours, whatever host it names (localhost or 127.0.0.1)."""
        try:
            parts = urlsplit(url)
        except ValueError:
            return None
        query = parse_qs(parts.query)
        expires = (query.get("expires") or [""])[0]
        signature = (query.get("signature") or [""])[0]
        path = unquote(parts.path)
        start = path.find(ROUTE)
        while start >= 0:
            key = path[start + len(ROUTE):]
            if self.verify(key, expires, signature):
                return key
            start = path.find(ROUTE, start + 1)
        return None

    def delete_prefix(self, prefix: str) -> None:
        """Delete a whole folder (``results/{id}/``) or the files starting with ``prefix``."""
        validate_key(prefix, prefix=True)
        target = self.root / prefix
        if prefix.endswith("/") or target.is_dir():
            shutil.rmtree(target, ignore_errors=True)
            return
        for path in target.parent.glob(f"{target.name}*"):
            if path.is_file():
                self._remove(path)

    def _remove(self, path: Path) -> None:
        path.unlink(missing_ok=True)
        self._sidecar(path).unlink(missing_ok=True)

    def purge_older_than(self, seconds: float) -> int:
        """Delete files stored longer ago than ``seconds`` and the folders left empty."""
        cutoff = time.time() - seconds
        count = 0
        for folder, _dirs, files in os.walk(self.root, topdown=False):
            for name in files:
                path = Path(folder, name)
                if name.startswith(".tmp-") and path.stat().st_mtime < cutoff:
                    path.unlink(missing_ok=True)
                if name.startswith(".") or path.stat().st_mtime >= cutoff:
                    continue
                self._remove(path)
                count += 1
            if Path(folder) != self.root and not os.listdir(folder):
                with contextlib.suppress(OSError):
                    os.rmdir(folder)
        return count
