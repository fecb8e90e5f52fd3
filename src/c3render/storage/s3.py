"""S3-compatible storage (AWS S3, MinIO, ...): objects under ``{s3_prefix}{key}``.

Links are SigV4 presigned GET URLs (at most 7 days: the SigV4 limit). ``key_for_url``
recognises our own presigned URLs — same endpoint, bucket and access key — and checks
their signature and expiry itself, so a result link can feed another job.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from calendar import timegm
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from c3render.errors import ConfigError, NotFound
from c3render.settings import Settings
from c3render.storage.base import MAX_PRESIGN_SECONDS, Storage, validate_key

_MISSING = {"404", "NoSuchKey", "NotFound", "NoSuchBucket"}


class S3Storage(Storage):
    """Objects in an S3 bucket with presigned links."""

    def __init__(self, settings: Settings) -> None:
        if not settings.s3_bucket:
            raise ConfigError("C3_STORAGE=s3 needs C3_S3_BUCKET")
        self.settings = settings
        self.bucket = settings.s3_bucket
        self.prefix = settings.s3_prefix
        self.session = boto3.session.Session(
            aws_access_key_id=settings.s3_access_key_id,
            aws_secret_access_key=settings.s3_secret_access_key,
            region_name=settings.s3_region or "us-east-1",
        )
        style = "path" if settings.s3_endpoint_url else "auto"
        self.client = self.session.client(
            "s3", endpoint_url=settings.s3_endpoint_url,
            config=Config(signature_version="s3v4", s3={"addressing_style": style}),
        )
        self._bucket_ready = False
        self._lock = threading.Lock()
        self._url_shape: tuple[str, str] | None = None

    def _ensure_bucket(self) -> None:
        """Create the bucket on first use if it does not exist (handy for local MinIO)."""
        if self._bucket_ready:
            return
        with self._lock:
            try:
                self.client.head_bucket(Bucket=self.bucket)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in _MISSING:
                    raise
                region = self.session.region_name
                extra: dict[str, Any] = {}
                if region != "us-east-1":
                    extra["CreateBucketConfiguration"] = {"LocationConstraint": region}
                self.client.create_bucket(Bucket=self.bucket, **extra)
            self._bucket_ready = True

    def _full(self, key: str) -> str:
        return self.prefix + validate_key(key)

    # --- objects ---------------------------------------------------------------------

    def put_file(self, key: str, path: Path, media_type: str) -> None:
        """Upload ``path`` with its ContentType (multipart for big files, by boto3)."""
        self._ensure_bucket()
        self.client.upload_file(str(path), self.bucket, self._full(key),
                                ExtraArgs={"ContentType": media_type})

    def get_to_file(self, key: str, dest: Path) -> None:
        """Download the object to ``dest``; NotFound when there is none."""
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self._full(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING:
                raise NotFound(f"no file {key}") from None
            raise
        dest.parent.mkdir(parents=True, exist_ok=True)
        with dest.open("wb") as out:
            for chunk in answer["Body"].iter_chunks(1 << 20):
                out.write(chunk)

    def delete_prefix(self, prefix: str) -> None:
        """Delete every object under ``prefix`` (list, then delete_objects in batches)."""
        validate_key(prefix, prefix=True)
        self._delete_where(self.prefix + prefix, lambda _obj: True)

    def purge_older_than(self, seconds: float) -> int:
        """Delete objects last modified more than ``seconds`` ago; return the count."""
        cutoff = time.time() - seconds
        return self._delete_where(self.prefix, lambda obj: obj["LastModified"].timestamp() < cutoff)

    def _delete_where(self, prefix: str, wanted: Any) -> int:
        self._ensure_bucket()
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix)
        count = 0
        for page in pages:
            keys = [{"Key": obj["Key"]} for obj in page.get("Contents", []) if wanted(obj)]
            for start in range(0, len(keys), 1000):
                batch = keys[start:start + 1000]
                self.client.delete_objects(Bucket=self.bucket,
                                           Delete={"Objects": batch, "Quiet": True})
                count += len(batch)
        return count

    # --- links -----------------------------------------------------------------------

    def link(self, key: str, base_url: str) -> str:
        """A presigned GET URL valid for ``link_seconds`` (capped at SigV4's 7 days)."""
        return str(self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": self._full(key)},
            ExpiresIn=min(self.settings.link_seconds, MAX_PRESIGN_SECONDS),
        ))

    def _shape(self) -> tuple[str, str]:
        """(netloc, path before the object key) of our presigned URLs."""
        if self._url_shape is None:
            sample = urlsplit(self.client.generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": "k"}, ExpiresIn=60))
            self._url_shape = (sample.netloc.lower(), sample.path[:-1])
        return self._url_shape

    def key_for_url(self, url: str) -> str | None:
        """The key of a presigned URL of ours whose signature is valid and unexpired."""
        try:
            parts = urlsplit(url)
            netloc, path_prefix = self._shape()
        except ValueError:
            return None
        if parts.netloc.lower() != netloc or not parts.path.startswith(path_prefix):
            return None
        full = unquote(parts.path[len(path_prefix):])
        if not full.startswith(self.prefix) or not self._signature_ok(parts):
            return None
        key = full[len(self.prefix):]
        try:
            return validate_key(key)
        except ValueError:
            return None

    def _signature_ok(self, parts: Any) -> bool:
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        try:
            credential = query["X-Amz-Credential"].split("/")
            stamp = query["X-Amz-Date"]
            issued = timegm(time.strptime(stamp, "%Y%m%dT%H%M%SZ"))
            lifetime = int(query["X-Amz-Expires"])
            given = query.pop("X-Amz-Signature")
        except (KeyError, ValueError):
            return False
        creds = self.session.get_credentials()
        if creds is None or query.get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256":
            return False
        frozen = creds.get_frozen_credentials()
        if len(credential) != 5 or credential[0] != frozen.access_key:
            return False
        if issued + lifetime < time.time() or query.get("X-Amz-SignedHeaders") != "host":
            return False
        expected = _sigv4_query_signature(parts, query, credential, stamp, frozen.secret_key)
        return hmac.compare_digest(expected, given)


def _sigv4_query_signature(parts: Any, query: dict[str, str], credential: list[str],
                           stamp: str, secret: str) -> str:
    """The SigV4 signature of a presigned GET (signed header: host; unsigned payload)."""
    canonical_query = "&".join(
        f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(query.items()))
    canonical = "\n".join(["GET", parts.path, canonical_query, f"host:{parts.netloc}", "",
                           "host", "UNSIGNED-PAYLOAD"])
    scope = "/".join(credential[1:])
    to_sign = "\n".join(["AWS4-HMAC-SHA256", stamp, scope,
                         hashlib.sha256(canonical.encode()).hexdigest()])
    key = f"AWS4{secret}".encode()
    for part in credential[1:]:
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
