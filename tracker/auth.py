"""API tokens: create (shown once), store hashed, verify in constant time, scope, revoke.

A token reads `trk_<prefix>_<secret>`: the prefix (8 hex digits) finds the row, the secret
(256 random bits) proves possession. Only `sha256(secret)` is stored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from sqlmodel import Session, col, select

from tracker.models import ApiToken

TOKEN_PREFIX = "trk"  # noqa: S105 - the fixed first part of every token, not a secret
SCOPES: dict[str, str] = {
    "claims:write": "Create, dry-run, amend and withdraw claims.",
    "resolve": "Record verdicts on claims (resolve judged claims, override automatic ones).",
    "subscriptions": "Create, list, delete and manage webhook subscriptions and deliveries.",
}
# last_used_at is a convenience, not an audit log: write it at most once a minute per token
LAST_USED_GRANULARITY = dt.timedelta(seconds=60)
# The shape of a token; whether a well-shaped one is real is only known by hashing its secret,
# so a wrong secret of any length is "not known", never "malformed".
_TOKEN_RE = re.compile(r"^trk_([0-9a-f]{8})_(\S{1,200})$")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._:@-]{0,119}$")


class TokenError(Exception):
    """Base of token problems; `reason` is safe to show (it never contains the secret)."""

    reason = "invalid token"

    def __init__(self, reason: str | None = None) -> None:
        super().__init__(reason or self.reason)
        if reason:
            self.reason = reason


class MissingToken(TokenError):
    reason = "no bearer token was given"


class MalformedToken(TokenError):
    reason = "the bearer token is not of the form trk_<8 hex digits>_<secret>"


class UnknownToken(TokenError):
    # the same words whether the prefix exists or not (verify_token keeps the timing equal too)
    reason = "the bearer token is not known: no token has this prefix and secret"


class RevokedToken(TokenError):
    reason = "the bearer token was revoked"


class TokenNotFound(LookupError):
    """No token with that name or prefix."""


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A newly created token: the row, and the plaintext that is never available again."""

    row: ApiToken
    plaintext: str


def hash_secret(secret: str) -> str:
    # A plain SHA-256 is the right tool here: the secret is 256 bits from `secrets`, so it
    # cannot be guessed or brute-forced from its hash, and a slow KDF (scrypt/PBKDF2) that
    # protects low-entropy passwords would only add ~50 ms to every authenticated request.
    return "sha256$" + hashlib.sha256(secret.encode()).hexdigest()


def validate_scopes(scopes: Iterable[str]) -> list[str]:
    """The scopes, de-duplicated in order; ValueError naming any unknown one."""
    result: list[str] = []
    for scope in scopes:
        if scope not in SCOPES:
            raise ValueError(f"unknown scope {scope!r}; known scopes: {', '.join(SCOPES)}")
        if scope not in result:
            result.append(scope)
    return result


def create_token(
    session: Session, name: str, scopes: Iterable[str], *, now: dt.datetime
) -> IssuedToken:
    """Add a token (flushes, does not commit); the plaintext is returned once and not stored."""
    if not _NAME_RE.match(name):
        raise ValueError(
            "token name must be 1-120 characters: letters, digits, space and . _ : @ -"
        )
    checked = validate_scopes(scopes)
    while True:  # 32-bit prefixes: a collision is rare but possible, so retry
        prefix = secrets.token_hex(4)
        if session.exec(select(ApiToken.id).where(col(ApiToken.prefix) == prefix)).first() is None:
            break
    secret = secrets.token_urlsafe(32)
    row = ApiToken(
        name=name, prefix=prefix, secret_hash=hash_secret(secret), scopes=checked, created_at=now
    )
    session.add(row)
    session.flush()
    return IssuedToken(row=row, plaintext=f"{TOKEN_PREFIX}_{prefix}_{secret}")


def parse_token(raw: str) -> tuple[str, str]:
    """(prefix, secret) of a token string; MalformedToken otherwise."""
    match = _TOKEN_RE.match(raw.strip())
    if match is None:
        raise MalformedToken()
    return match.group(1), match.group(2)


def verify_token(session: Session, raw: str | None, *, now: dt.datetime) -> ApiToken:
    """The live token row for `raw`, or a TokenError saying why not.

    Updates last_used_at (at most once a minute); the caller commits.
    """
    if not raw:
        raise MissingToken()
    prefix, secret = parse_token(raw)
    row = session.exec(select(ApiToken).where(col(ApiToken.prefix) == prefix)).first()
    expected = row.secret_hash if row is not None else hash_secret("")
    # compare even when the prefix is unknown, so timing does not tell the two cases apart
    matches = hmac.compare_digest(hash_secret(secret), expected)
    if row is None or not matches:
        raise UnknownToken()
    if row.revoked_at is not None:
        raise RevokedToken()
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_GRANULARITY:
        row.last_used_at = now
        session.add(row)
    return row


def has_scope(token: ApiToken, scope: str) -> bool:
    return scope in (token.scopes or [])


def find_tokens(session: Session, name_or_prefix: str) -> list[ApiToken]:
    """Tokens whose name equals the argument, or whose prefix does (with or without `trk_`)."""
    prefix = name_or_prefix.removeprefix(f"{TOKEN_PREFIX}_").split("_")[0]
    rows = session.exec(
        select(ApiToken)
        .where((col(ApiToken.name) == name_or_prefix) | (col(ApiToken.prefix) == prefix))
        .order_by(col(ApiToken.id))
    ).all()
    return list(rows)


def revoke_tokens(session: Session, name_or_prefix: str, *, now: dt.datetime) -> list[ApiToken]:
    """Revoke every live token with that name or prefix; TokenNotFound when none matches."""
    rows = find_tokens(session, name_or_prefix)
    if not rows:
        raise TokenNotFound(f"no token named or prefixed {name_or_prefix!r}")
    for row in rows:
        if row.revoked_at is None:
            row.revoked_at = now
            session.add(row)
    session.flush()
    return rows


def list_tokens(session: Session) -> list[ApiToken]:
    return list(session.exec(select(ApiToken).order_by(col(ApiToken.created_at))).all())
