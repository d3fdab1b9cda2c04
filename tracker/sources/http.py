"""The one HTTP path every source adapter uses: timeouts, retries with backoff, size limits,
same-host-only redirects, and secret redaction of URLs, bodies and error messages.

Adapters never build their own client: they get an `HttpFetcher` wrapping one injected
`httpx.Client` (see `make_http_client`), so tests can serve recorded payloads through it.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import io
import math
import random
import re
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from tracker import __version__
from tracker.clock import utcnow
from tracker.config import Settings
from tracker.sources.base import RecordedResponse, SourceError

USER_AGENT = f"tracker/{__version__} (dated-prediction tracker; httpx)"

# Query parameters always treated as secrets, whatever the caller says.
SECRET_PARAMS: frozenset[str] = frozenset(
    {"api_key", "apikey", "key", "token", "access_token", "auth", "password", "secret"}
)
REDACTED = "REDACTED"
MAX_REDIRECTS = 5
RETRY_STATUSES: frozenset[int] = frozenset({429, 500, 502, 503, 504})
# Secret values shorter than this are not scrubbed from bodies (it would corrupt them);
# they are still removed from URLs and messages by parameter name.
MIN_SCRUB_LENGTH = 4

Params = Mapping[str, Any]


def make_http_client(
    settings: Settings, *, transport: httpx.BaseTransport | None = None
) -> httpx.Client:
    """The shared client: timeouts from settings, a tracker User-Agent, no auto-redirects.

    `transport` is for tests (httpx.MockTransport serving recorded payloads).
    """
    timeout = httpx.Timeout(
        connect=settings.http_timeout_connect,
        read=settings.http_timeout_read,
        write=settings.http_timeout_read,
        pool=settings.http_timeout_connect,
    )
    return httpx.Client(
        timeout=timeout,
        headers={"User-Agent": USER_AGENT},
        follow_redirects=False,
        transport=transport,
    )


def redact_url(url: str, secret_params: Iterable[str] = ()) -> str:
    """`url` with the values of secret query parameters replaced by REDACTED."""
    names = {n.lower() for n in secret_params} | SECRET_PARAMS
    parts = urlsplit(url)
    if not parts.query:
        return url
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    if not any(k.lower() in names for k, _ in pairs):
        return url
    cleaned = [(k, REDACTED if k.lower() in names else v) for k, v in pairs]
    return urlunsplit(parts._replace(query=urlencode(cleaned, safe=":,~[]*")))


def redact_body(body: bytes, secrets: Iterable[str]) -> bytes:
    """`body` with each secret value replaced by REDACTED (all other bytes kept)."""
    for secret in secrets:
        if len(secret) >= MIN_SCRUB_LENGTH:
            body = body.replace(secret.encode(), REDACTED.encode())
    return body


_SECRET_IN_TEXT = re.compile(
    r"(?i)\b(" + "|".join(sorted(SECRET_PARAMS, key=len, reverse=True)) + r")=[^&\s'\"]+"
)


def scrub_text(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret value, and any `api_key=…`-style pair, redacted (for messages)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return _SECRET_IN_TEXT.sub(lambda m: f"{m.group(1)}={REDACTED}", text)


def parse_retry_after(value: str | None, now: dt.datetime) -> float | None:
    """Seconds to wait per Retry-After (delta-seconds or HTTP-date); None if absent/bad."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - now).total_seconds())


def _snippet(body: bytes, limit: int = 200) -> str:
    """The start of an error body as one line of text (for messages)."""
    text = body[: limit * 4].decode("utf-8", errors="replace")
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _Attempt:
    """What one attempt (including its same-host redirect hops) ended with."""

    def __init__(self, recorded: RecordedResponse, headers: httpx.Headers) -> None:
        self.recorded = recorded
        self.headers = headers


class HttpFetcher:
    """GET with retries/backoff, a body-size cap and redirect policy; secrets never leak.

    `sleep`, `rng` and `now` are injected so tests neither sleep nor depend on the clock.
    `settings` is public: adapters read base URLs and keys from it.
    """

    def __init__(
        self,
        client: httpx.Client,
        settings: Settings,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
        now: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.client = client
        self.settings = settings
        self._sleep = sleep
        self._rng = rng
        self._now = now
        # the overall deadline of the fetch this thread is doing (time.monotonic), if any:
        # per thread, as one fetcher serves every scheduler job thread
        self._local = threading.local()

    @contextmanager
    def fetch_deadline(self, seconds: float | None = None) -> Iterator[list[RecordedResponse]]:
        """Every request made in the block (retries, redirects, body reads) must end within
        `seconds` (default: settings.fetch_deadline_seconds) of entering it; past that,
        SourceError(kind="timeout"), even while a body still trickles in.

        Yields the list of every response received in the block (appended as they come), so
        a fetch that then fails in the adapter's own code still keeps what it received."""
        limit = self.settings.fetch_deadline_seconds if seconds is None else seconds
        outer = getattr(self._local, "deadline", None)
        outer_received = getattr(self._local, "received", None)
        mine = time.monotonic() + limit
        received: list[RecordedResponse] = []
        self._local.deadline = mine if outer is None else min(outer, mine)
        self._local.limit = limit if outer is None else getattr(self._local, "limit", limit)
        self._local.received = received
        try:
            yield received
        finally:
            self._local.deadline = outer
            self._local.received = outer_received

    def _remaining(self) -> float | None:
        deadline: float | None = getattr(self._local, "deadline", None)
        return None if deadline is None else deadline - time.monotonic()

    def _past_deadline(self, shown_url: str, responses: list[RecordedResponse]) -> SourceError:
        limit = getattr(self._local, "limit", self.settings.fetch_deadline_seconds)
        return SourceError(
            f"fetching {shown_url} passed the fetch's overall deadline of {limit:g} s",
            kind="timeout",
            responses=responses,
        )

    def now(self) -> dt.datetime:
        """The current time (timezone-aware UTC) from the injected clock."""
        value = self._now()
        if value.tzinfo is None:
            raise ValueError("HttpFetcher clock must return timezone-aware datetimes")
        return value.astimezone(dt.UTC)

    def pause(self, seconds: float) -> None:
        """Wait politely between requests (e.g. a crawl delay), with the injected sleep."""
        if seconds > 0:
            self._sleep(seconds)

    def backoff_delay(self, attempt: int) -> float:
        """Exponential backoff with "equal jitter": in [d/2, d], d = base·2^(attempt-1) capped."""
        cap = self.settings.http_backoff_max
        ceiling = min(cap, self.settings.http_backoff_base * 2.0 ** (attempt - 1))
        return ceiling / 2 + self._rng() * ceiling / 2

    def get(
        self,
        url: str,
        params: Params | None = None,
        *,
        secret_params: Collection[str] = ("api_key",),
        headers: Mapping[str, str] | None = None,
        ok_statuses: Collection[int] = (),
    ) -> RecordedResponse:
        """GET `url` with `params`; returns the final 2xx response (or one in `ok_statuses`).

        Raises SourceError (kind timeout | network | http | redirect | too_large) carrying
        every RecordedResponse seen so far. Secret param values are scrubbed from the stored
        URL, the stored body and every message.
        """
        clean_params = json_params(params or {})
        names = {n.lower() for n in secret_params} | SECRET_PARAMS
        secrets = [v for k, v in clean_params.items() if k.lower() in names and v]
        try:
            request_url = str(httpx.URL(url).copy_merge_params(clean_params))
        except (httpx.InvalidURL, TypeError, ValueError):
            raise SourceError(
                f"invalid URL {redact_url(url, names)!r} (check the base URL setting)",
                kind="config",
            ) from None
        shown_url = redact_url(request_url, names)
        max_attempts = max(1, self.settings.http_max_retries + 1)
        responses: list[RecordedResponse] = []

        attempt = 0
        while True:
            attempt += 1
            remaining = self._remaining()
            if remaining is not None and remaining <= 0:
                raise self._past_deadline(shown_url, responses)
            try:
                outcome = self._attempt(request_url, names, secrets, headers, attempt, responses)
            except httpx.TimeoutException as exc:
                kind = "timeout"
                message = f"{type(exc).__name__} fetching {shown_url}"
                remaining = self._remaining()
                if remaining is not None and remaining <= 0:
                    raise self._past_deadline(shown_url, responses) from None
                if attempt < max_attempts:
                    self._wait(self.backoff_delay(attempt), shown_url, responses)
                    continue
                raise SourceError(
                    f"{message} after {attempt} attempt(s)", kind=kind, responses=responses
                ) from None
            except httpx.RequestError as exc:  # connect/read errors, protocol, body decoding
                detail = scrub_text(str(exc), secrets)
                message = f"network error fetching {shown_url}: {type(exc).__name__} {detail}"
                if attempt < max_attempts:
                    self._wait(self.backoff_delay(attempt), shown_url, responses)
                    continue
                raise SourceError(
                    f"{message} after {attempt} attempt(s)", kind="network", responses=responses
                ) from None

            recorded = outcome.recorded
            responses.append(recorded)
            received: list[RecordedResponse] | None = getattr(self._local, "received", None)
            if received is not None:
                received.append(recorded)
            status = recorded.status
            if 200 <= status < 300 or status in ok_statuses:
                return recorded
            if status in RETRY_STATUSES and attempt < max_attempts:
                wait = parse_retry_after(outcome.headers.get("retry-after"), self.now())
                delay = self.backoff_delay(attempt) if wait is None else wait
                self._wait(min(delay, self.settings.http_backoff_max), shown_url, responses)
                continue
            snippet = scrub_text(_snippet(recorded.body), secrets)
            raise SourceError(
                f"HTTP {status} from {recorded.url} after {attempt} attempt(s)"
                + (f": {snippet}" if snippet else ""),
                kind="http",
                responses=responses,
                http_status=status,
            )

    def _wait(self, seconds: float, shown_url: str, responses: list[RecordedResponse]) -> None:
        """Back off before a retry, unless the wait would pass the fetch's deadline."""
        remaining = self._remaining()
        if remaining is not None and seconds >= remaining:
            raise self._past_deadline(shown_url, responses)
        self._sleep(seconds)

    def _timeout(self) -> httpx.Timeout | None:
        """The client's timeouts, each cut to the time left before the fetch's deadline."""
        remaining = self._remaining()
        if remaining is None:
            return None
        left = max(0.001, remaining)
        connect = min(self.settings.http_timeout_connect, left)
        read = min(self.settings.http_timeout_read, left)
        return httpx.Timeout(connect=connect, read=read, write=read, pool=connect)

    def _attempt(
        self,
        url: str,
        names: set[str],
        secrets: list[str],
        headers: Mapping[str, str] | None,
        attempt: int,
        responses: list[RecordedResponse],
    ) -> _Attempt:
        """One attempt: send, follow same-host redirects, stream the body under the size cap."""
        started = time.perf_counter()
        current = httpx.URL(url)
        allowed = _origin(current)  # the origin the source is configured for
        for _hop in range(MAX_REDIRECTS + 1):
            request = self.client.build_request("GET", current, headers=dict(headers or {}))
            timeout = self._timeout()
            if timeout is not None:  # the client's timeouts, cut to what the deadline leaves
                request.extensions["timeout"] = timeout.as_dict()
            response = self.client.send(request, stream=True, follow_redirects=False)
            try:
                if response.is_redirect:
                    target = current.join(response.headers["location"])
                    hop = self._record(response, b"", current, names, secrets, started, attempt)
                    responses.append(hop)  # each hop is kept (a failed run shows the chain)
                    if _origin(target) != allowed:
                        raise SourceError(
                            f"refused redirect from {redact_url(str(current), names)} to another "
                            f"origin (scheme, host or port): {redact_url(str(target), names)}",
                            kind="redirect",
                            responses=responses,
                            http_status=response.status_code,
                        )
                    current = target
                    continue
                body = self._read_capped(
                    response, current, names, secrets, started, attempt, responses
                )
                recorded = self._record(response, body, current, names, secrets, started, attempt)
                return _Attempt(recorded, response.headers)
            finally:
                response.close()
        raise SourceError(
            f"more than {MAX_REDIRECTS} redirects fetching {redact_url(url, names)}",
            kind="redirect",
            responses=responses,
        )

    def _read_capped(
        self,
        response: httpx.Response,
        url: httpx.URL,
        names: set[str],
        secrets: list[str],
        started: float,
        attempt: int,
        responses: list[RecordedResponse],
    ) -> bytes:
        limit = self.settings.http_max_body_bytes
        declared = response.headers.get("content-length")
        too_large = f"body of {redact_url(str(url), names)} exceeds {limit} bytes"
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise SourceError(
                f"{too_large} (Content-Length {declared})",
                kind="too_large",
                responses=[
                    *responses,
                    self._record(response, b"", url, names, secrets, started, attempt),
                ],
                http_status=response.status_code,
            )
        # BytesIO grows one buffer in place and getvalue() hands that buffer over as bytes
        # without copying it (bytes(bytearray) would briefly hold the whole body twice).
        buffer = io.BytesIO()
        deadline: float | None = getattr(self._local, "deadline", None)
        for chunk in response.iter_bytes():
            buffer.write(chunk)
            if deadline is not None and time.monotonic() > deadline:
                # a body trickling in (each read within the read timeout) still stops here;
                # what arrived is kept with the failed run
                partial = buffer.getvalue()
                raise self._past_deadline(
                    redact_url(str(url), names),
                    [
                        *responses,
                        self._record(response, partial, url, names, secrets, started, attempt),
                    ],
                )
            if buffer.tell() > limit:
                raise SourceError(
                    too_large,
                    kind="too_large",
                    responses=[
                        *responses,
                        self._record(response, b"", url, names, secrets, started, attempt),
                    ],
                    http_status=response.status_code,
                )
        return buffer.getvalue()

    def _record(
        self,
        response: httpx.Response,
        body: bytes,
        url: httpx.URL,
        names: set[str],
        secrets: list[str],
        started: float,
        attempt: int,
    ) -> RecordedResponse:
        return RecordedResponse(
            url=redact_url(str(url), names),
            status=response.status_code,
            body=redact_body(body, secrets),
            content_type=response.headers.get("content-type"),
            elapsed_ms=int((time.perf_counter() - started) * 1000),
            attempts=attempt,
            declared_bytes=_declared_length(response.headers),
            received_bytes=len(body),
        )


DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the scheme's default port filled in: a redirect is followed
    only within the exact origin of the URL the source is configured for."""
    scheme = url.scheme.lower()
    return scheme, url.host.lower(), url.port or DEFAULT_PORTS.get(scheme)


def _declared_length(headers: httpx.Headers) -> int | None:
    """The Content-Length of an unencoded body (a compressed one's counts the wire bytes, not
    the decoded body httpx hands over, so it says nothing about them)."""
    declared = headers.get("content-length")
    encoding = headers.get("content-encoding", "identity").strip().lower()
    if declared is None or not declared.strip().isdigit() or encoding not in ("", "identity"):
        return None
    return int(declared.strip())


def json_params(values: Mapping[str, Any]) -> dict[str, str]:
    """Query parameters as strings (booleans as lower-case `true`/`false`), None dropped."""
    out: dict[str, str] = {}
    for key, value in values.items():
        if value is None:
            continue
        out[key] = str(value).lower() if isinstance(value, bool) else str(value)
    return out
