"""Conditional GET (ETag / Last-Modified → 304) and the in-process cache of claim status bodies.

The cache holds each claim's serialized JSON keyed by slug and stamped with (claim id, version,
status evaluation id, updated_at, newest verdict, and its variant links: api._claim_stamp); a
read checks the stamp with one indexed query, so an evaluation, revision or verdict written by
any process, or a variant of the claim added or changed, is seen at once.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from fastapi import Response
from starlette.requests import HTTPConnection

from tracker.i18n import SUPPORTED
from tracker.web import compression

CACHE_CONTROL = "no-cache"  # clients may store but must revalidate (cheap with the ETag)


def make_etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def http_date(value: dt.datetime) -> str:
    return email.utils.format_datetime(value.astimezone(dt.UTC).replace(microsecond=0), usegmt=True)


def _etag_matches(header: str, etag: str) -> bool:
    if header.strip() == "*":
        return True
    bare = etag.removeprefix("W/")
    return any(part.strip().removeprefix("W/") == bare for part in header.split(","))


def not_modified(request: HTTPConnection, etag: str, last_modified: dt.datetime | None) -> bool:
    """RFC 9110 §13.1: If-None-Match wins; If-Modified-Since only when it is absent."""
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        return _etag_matches(if_none_match, etag)
    since = request.headers.get("if-modified-since")
    if since and last_modified is not None:
        try:
            parsed = email.utils.parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)
        return last_modified.replace(microsecond=0) <= parsed
    return False


def conditional_response(
    request: HTTPConnection,
    body: bytes,
    media_type: str,
    *,
    last_modified: dt.datetime | None = None,
    etag: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """200 with ETag/Last-Modified, or an empty 304 when the client's copy is current."""
    etag = etag or make_etag(body)
    out = {"ETag": etag, "Cache-Control": CACHE_CONTROL, **(headers or {})}
    if last_modified is not None:
        out["Last-Modified"] = http_date(last_modified)
    if not_modified(request, etag, last_modified):
        return Response(status_code=304, headers=out)
    return Response(content=body, media_type=media_type, headers=out)


@dataclass(frozen=True, slots=True)
class CachedBody:
    stamp: tuple[Any, ...]
    body: bytes
    etag: str
    last_modified: dt.datetime | None
    # the headers of a 200 JSON answer (conditional_response's), made once: ASGI header pairs;
    # and the gzip representation Compression would send, with its headers (empty: too small)
    json_headers: tuple[tuple[bytes, bytes], ...] = ()
    gzip_body: bytes = b""
    gzip_headers: tuple[tuple[bytes, bytes], ...] = ()
    language: str = "en"  # the language of its text (Content-Language; Vary: Accept-Language)


class StatusCache:
    """A bounded, thread-safe LRU of serialized claim bodies, validated by stamp on each read."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self._entries: OrderedDict[str, CachedBody] = OrderedDict()
        self._lock = threading.Lock()
        self.max_entries = max_entries
        self.hits = 0
        self.misses = 0

    def get(self, slug: str, stamp: tuple[Any, ...]) -> CachedBody | None:
        with self._lock:
            entry = self._entries.get(slug)
            if entry is None or entry.stamp != stamp:
                self.misses += 1
                return None
            self._entries.move_to_end(slug)
            self.hits += 1
            return entry

    def put(
        self,
        slug: str,
        stamp: tuple[Any, ...],
        body: bytes,
        last_modified: dt.datetime | None,
        *,
        language: str = "en",
    ) -> CachedBody:
        etag = make_etag(body)
        headers = [
            (b"content-length", str(len(body)).encode()),
            (b"content-type", b"application/json"),
            (b"etag", etag.encode()),
            (b"cache-control", CACHE_CONTROL.encode()),
            (b"content-language", language.encode()),
            (b"vary", b"Accept-Language"),
        ]
        if last_modified is not None:
            headers.append((b"last-modified", http_date(last_modified).encode()))
        gzip_body = b""
        gzip_headers: tuple[tuple[bytes, bytes], ...] = ()
        if len(body) >= compression.MINIMUM_SIZE:
            gzip_body = compression.compress(body)
            gzip_headers = (
                (b"content-length", str(len(gzip_body)).encode()),
                (b"content-type", b"application/json"),
                (b"etag", compression.gzip_etag(etag).encode()),
                *headers[3:],
                (b"content-encoding", b"gzip"),
            )
        entry = CachedBody(
            stamp=stamp,
            body=body,
            etag=etag,
            last_modified=last_modified,
            json_headers=tuple(headers),
            gzip_body=gzip_body,
            gzip_headers=gzip_headers,
            language=language,
        )
        with self._lock:
            self._entries[slug] = entry
            self._entries.move_to_end(slug)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return entry

    def invalidate(self, slug: str | None = None) -> None:
        """Drop one slug (or everything); the stamp check makes this optional, never harmful."""
        with self._lock:
            if slug is None:
                self._entries.clear()
            else:
                self._entries.pop(slug, None)
                for lang in SUPPORTED:  # the slug's bodies in other languages
                    self._entries.pop(f"{slug}\x00{lang}", None)
