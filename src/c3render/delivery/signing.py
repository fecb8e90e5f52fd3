"""Standard Webhooks signing (https://www.standardwebhooks.com).

Headers ``webhook-id`` (``{job}.{status}``, the same on every retry), ``webhook-timestamp``
and ``webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``. The key
is ``C3_WEBHOOK_SECRET`` in the standard ``whsec_<base64>`` form (any other string is used
as raw UTF-8 bytes). Without it, the key is derived from the service's secret key;
:func:`signing_secret` prints it as a ``whsec_`` string for receivers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from c3render.settings import Settings


def signing_key(settings: Settings) -> bytes:
    """The HMAC key: C3_WEBHOOK_SECRET (``whsec_`` + base64, or raw), else derived."""
    secret = settings.webhook_secret
    if secret:
        if secret.startswith("whsec_"):
            return base64.b64decode(secret[len("whsec_"):])
        return secret.encode()
    return hmac.new(settings.secret_key, b"c3render webhook signing key", hashlib.sha256).digest()


def signing_secret(settings: Settings) -> str:
    """The secret a receiver configures, in the Standard Webhooks ``whsec_...`` form."""
    return "whsec_" + base64.b64encode(signing_key(settings)).decode()


def sign(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value: ``v1,<base64 HMAC-SHA256>``."""
    content = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()
