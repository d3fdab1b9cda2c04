"""gzip for text bodies, with `Vary` and ETags that name what was sent.

`Compression` (pure ASGI) gzips a 200 response whose type is text (HTML, JSON, problem+json,
CSV, XML/Atom, calendar, CSS, JavaScript, SVG) and whose body is at least `MINIMUM_SIZE` bytes,
when the request's Accept-Encoding allows gzip. Every such response carries
`Vary: Accept-Encoding`, compressed or not.

ETags: the gzip body is another representation, so its strong ETag is the identity one with
`-gzip` appended inside the quotes (`"abc"` → `"abc-gzip"`); the two never share a strong ETag.
Conditional requests stay right: a client that accepts gzip and sends back `"abc-gzip"` in
If-None-Match has it read as `"abc"` by the routes (which only know the identity ETag), and a
304 answers with the ETag the client named. A client that does not accept gzip and sends the
gzip ETag gets a full (identity) body.
"""

from __future__ import annotations

import gzip
import re
import zlib

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MINIMUM_SIZE = 1024
LEVEL = 6
SUFFIX = "-gzip"
TEXT_TYPES = (
    "text/",
    "application/json",
    "application/problem+json",
    "application/xml",
    "application/atom+xml",
    "application/javascript",
    "application/yaml",
    "image/svg+xml",
)
_ENTITY_TAG = re.compile(r'(W/)?"([^"]*)"')


def accepts_gzip(header: str | None) -> bool:
    """Accept-Encoding allows gzip: listed (or `*`) without q=0 (RFC 9110 §12.5.3)."""
    if not header:
        return False
    allowed: dict[str, bool] = {}
    for part in header.split(","):
        coding, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        allowed[coding.strip().lower()] = quality > 0
    if "gzip" in allowed:
        return allowed["gzip"]
    return allowed.get("*", False)


def compress(body: bytes) -> bytes:
    """The gzip representation of a whole body (deterministic: no timestamp)."""
    return gzip.compress(body, compresslevel=LEVEL, mtime=0)


def gzip_etag(etag: str) -> str:
    """The ETag of the gzip representation of the body whose ETag is `etag`."""
    match = _ENTITY_TAG.fullmatch(etag.strip())
    if match is None or match.group(2).endswith(SUFFIX):
        return etag
    return f'{match.group(1) or ""}"{match.group(2)}{SUFFIX}"'


def _identity_tags(header: str) -> tuple[str, bool]:
    """If-None-Match with each gzip ETag read as its identity one; and whether any was."""
    named = False

    def strip(match: re.Match[str]) -> str:
        nonlocal named
        opaque = match.group(2)
        if not opaque.endswith(SUFFIX):
            return match.group(0)
        named = True
        return f'{match.group(1) or ""}"{opaque.removesuffix(SUFFIX)}"'

    return _ENTITY_TAG.sub(strip, header), named


def _is_text(content_type: str | None) -> bool:
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media.startswith(TEXT_TYPES) or media.endswith(("+json", "+xml"))


def _add_vary(headers: MutableHeaders) -> None:
    vary = headers.get("vary")
    if vary is None:
        headers["Vary"] = "Accept-Encoding"
    elif "accept-encoding" not in vary.lower() and vary.strip() != "*":
        headers["Vary"] = f"{vary}, Accept-Encoding"


class Compression:
    def __init__(self, app: ASGIApp, minimum_size: int = MINIMUM_SIZE) -> None:
        self.app = app
        self.minimum_size = minimum_size

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_headers = Headers(scope=scope)
        wanted = accepts_gzip(request_headers.get("accept-encoding"))
        named_gzip = False
        if wanted and "if-none-match" in request_headers:
            tags, named_gzip = _identity_tags(request_headers["if-none-match"])
            if named_gzip:
                scope = dict(scope)
                scope["headers"] = [
                    (k, tags.encode("latin-1") if k == b"if-none-match" else v)
                    for k, v in scope["headers"]
                ]
        responder = _Responder(send, wanted, named_gzip, self.minimum_size)
        await self.app(scope, receive, responder.send)


class _Responder:
    """Holds the response start until the first body message says how big the body is."""

    def __init__(self, send: Send, wanted: bool, named_gzip: bool, minimum_size: int) -> None:
        self._send = send
        self.wanted = wanted
        self.named_gzip = named_gzip
        self.minimum_size = minimum_size
        self.start: Message | None = None
        self.compressor: zlib._Compress | None = None
        self.passthrough = False

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            if self._eligible(message):
                self.start = message  # held until the first body message
            else:
                self.passthrough = True
                await self._send(message)
            return
        if kind != "http.response.body" or self.passthrough:
            await self._send(message)
            return
        if self.compressor is not None:  # streaming, already started
            await self._stream(message)
            return
        start = self.start
        assert start is not None
        body: bytes = message.get("body", b"")
        more = message.get("more_body", False)
        headers = MutableHeaders(raw=start["headers"])
        if not more and len(body) < self.minimum_size:
            self.passthrough = True
            await self._send(start)
            await self._send(message)
            return
        _mark_gzip(headers)
        if not more:
            compressed = compress(body)
            headers["Content-Length"] = str(len(compressed))
            self.passthrough = True
            await self._send(start)
            await self._send({"type": "http.response.body", "body": compressed})
            return
        del headers["Content-Length"]
        self.compressor = zlib.compressobj(LEVEL, zlib.DEFLATED, 31)
        await self._send(start)
        await self._stream(message)

    def _eligible(self, message: Message) -> bool:
        """Set Vary (and a 304's ETag) on the start; whether the body may be compressed."""
        headers = MutableHeaders(raw=message["headers"])
        status = message["status"]
        text = _is_text(headers.get("content-type"))
        if text or status == 304:
            _add_vary(headers)
        if status == 304 and self.named_gzip and "etag" in headers:
            headers["ETag"] = gzip_etag(headers["etag"])  # the variant the client holds
        return (
            self.wanted
            and status == 200
            and text
            and "content-encoding" not in headers
            and "no-transform" not in headers.get("cache-control", "").lower()
        )

    async def _stream(self, message: Message) -> None:
        assert self.compressor is not None
        data = self.compressor.compress(message.get("body", b""))
        more = message.get("more_body", False)
        if not more:
            data += self.compressor.flush()
        elif data:
            data += self.compressor.flush(zlib.Z_SYNC_FLUSH)
        await self._send({"type": "http.response.body", "body": data, "more_body": more})


def _mark_gzip(headers: MutableHeaders) -> None:
    headers["Content-Encoding"] = "gzip"
    if "accept-ranges" in headers:  # ranges would address the gzip bytes: offer none
        del headers["accept-ranges"]
    etag = headers.get("etag")
    if etag is not None:
        headers["ETag"] = gzip_etag(etag)
