"""The installation's secret key: which values are too weak, making one, redacting URLs."""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

WEAK_SECRETS = frozenset({
    "change-me", "changeme", "change_me", "secret", "secret-key", "secret_key", "password",
    "flask-secret-key", "your-secret-key", "test-secret", "cli-test", "bench-secret", "dev",
})
"""FLASK_SECRET_KEY values that ship in samples, docs and tests: never accepted at start."""
MIN_SECRET_LENGTH = 16
MAKE_SECRET = 'python -c "import secrets; print(secrets.token_hex(32))"'


def weak_secret_reason(value: str) -> str | None:
    """Why ``value`` is not an acceptable FLASK_SECRET_KEY, or None when it is."""
    text = value.strip()
    if not text:
        return "is empty"
    if text.lower() in WEAK_SECRETS:
        return f"is the published sample value {text!r}"
    if len(text) < MIN_SECRET_LENGTH:
        return f"is shorter than {MIN_SECRET_LENGTH} characters"
    return None


def redact_url(url: str) -> str:
    """``url`` with its password (if any) replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def create_secret_file(path: Path) -> None:
    """Write a new random key to ``path`` unless another process wins the race.

    The key is written to a private temporary file first and hard-linked into place, so
    a reader never sees a half-written file and a concurrent winner is never overwritten.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".secret_key.")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
        os.link(temp, path)
    except FileExistsError:
        pass  # another process created it first: use theirs
    finally:
        os.unlink(temp)
