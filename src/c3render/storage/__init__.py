"""Result and upload storage: local files with HMAC-signed links, or S3 with presigned URLs."""

from __future__ import annotations

from c3render.settings import Settings
from c3render.storage.base import NotFound, Storage, safe_filename, validate_key
from c3render.storage.local import LocalStorage
from c3render.storage.s3 import S3Storage

__all__ = ["NotFound", "Storage", "create_storage", "safe_filename", "validate_key"]


def create_storage(settings: Settings) -> Storage:
    """The backend ``settings.storage`` names: ``local`` (default) or ``s3``."""
    if settings.storage == "s3":
        return S3Storage(settings)
    return LocalStorage(settings)
