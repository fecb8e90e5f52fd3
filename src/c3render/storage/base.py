"""The storage interface shared by the local and S3 backends, and key rules.

Keys are relative, ``/``-separated paths: results are ``results/{job_id}/{filename}``,
uploads ``uploads/{upload_id}/{filename}``. Every segment starts with a letter, digit or
underscore and holds only ``[A-Za-z0-9._-]``, so no key can climb out of its root.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from pathlib import Path

from c3render.errors import NotFound

__all__ = ["NotFound", "Storage", "safe_filename", "validate_key"]

_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,199}$")
MAX_PRESIGN_SECONDS = 7 * 24 * 3600


def validate_key(key: str, prefix: bool = False) -> str:
    """Return ``key`` if it is a safe storage key (a prefix may end with ``/``); else ValueError."""
    body = key[:-1] if prefix and key.endswith("/") else key
    segments = body.split("/")
    if not body or len(key) > 1024 or not all(_SEGMENT.match(s) for s in segments):
        raise ValueError(f"invalid storage key: {key!r}")
    return key


def safe_filename(name: str | None, default: str = "file") -> str:
    """A filename usable as a key segment: the base name, odd characters replaced."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", base).lstrip("._-")[:120]
    return cleaned or default


class Storage(ABC):
    """Where results and uploads live, and how signed links to them are made and checked."""

    @abstractmethod
    def put_file(self, key: str, path: Path, media_type: str) -> None:
        """Store the file at ``path`` under ``key`` with its media type (replacing any)."""

    @abstractmethod
    def get_to_file(self, key: str, dest: Path) -> None:
        """Copy the object ``key`` to ``dest``; raise NotFound when there is none."""

    @abstractmethod
    def link(self, key: str, base_url: str) -> str:
        """A signed link to ``key`` that works for ``settings.link_seconds``."""

    @abstractmethod
    def key_for_url(self, url: str) -> str | None:
        """The key if ``url`` is a valid, unexpired link this service signed; else None."""

    @abstractmethod
    def delete_prefix(self, prefix: str) -> None:
        """Delete every object whose key starts with ``prefix`` (e.g. ``results/{id}/``)."""

    @abstractmethod
    def purge_older_than(self, seconds: float) -> int:
        """Delete objects stored more than ``seconds`` ago; return how many were deleted."""
