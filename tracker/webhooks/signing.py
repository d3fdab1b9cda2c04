"""Standard Webhooks signing: `whsec_<base64 key>` secrets and v1 HMAC-SHA256 signatures over
"<webhook-id>.<webhook-timestamp>.<body>"."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"  # noqa: S105 - the spec's fixed prefix, not a secret


def new_secret() -> str:
    """A fresh signing secret (32 random bytes), as the spec writes it."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _key(secret: str) -> bytes:
    raw = secret.removeprefix(SECRET_PREFIX)
    return base64.b64decode(raw + "=" * (-len(raw) % 4))


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `v1,<base64 signature>` of one message."""
    digest = hmac.new(_key(secret), f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256)
    return "v1," + base64.b64encode(digest.digest()).decode()


def signature_header(secrets_: list[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """The webhook-signature header: one signature per secret (during a rotation, the new and
    the previous one), space-separated."""
    return " ".join(sign(s, msg_id, timestamp, body) for s in secrets_)
