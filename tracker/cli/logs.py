"""Logging for the `tracker` command, set up once per command at the CLI edge (never at import):
one line per record on stderr, `2026-01-02T09:15:00.123Z INFO     tracker.scheduler: …` (UTC),
for tracker's own loggers (at TRACKER_LOG_LEVEL), uvicorn's and other libraries' warnings, with
every configured secret and any `api_key=…`-style pair scrubbed from the line and its traceback.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import sys
import time
from urllib.parse import unquote, urlsplit

from tracker.config import SOURCE_NAMES, Settings
from tracker.sources.http import scrub_text

LINE_FORMAT = "%(asctime)s %(levelname)-8s %(name)s: %(message)s"
# Loggers given the handler at TRACKER_LOG_LEVEL; they do not propagate, so no line is printed
# twice. uvicorn's access and error loggers are children of "uvicorn" (`tracker serve` passes
# no log_config, so uvicorn adds no handler of its own and keeps this format).
OWN_LOGGERS: tuple[str, ...] = ("tracker", "uvicorn")
# uvicorn logs its start-up and shutdown (INFO) on "uvicorn.error": shown as "uvicorn".
SHOWN_NAMES: dict[str, str] = {"uvicorn.error": "uvicorn"}


class LineFormatter(logging.Formatter):
    """LINE_FORMAT with a UTC ISO-8601 timestamp; the whole line (traceback included) is
    scrubbed of `secrets` and of `api_key=…`-style pairs."""

    def __init__(self, secrets: tuple[str, ...] = ()) -> None:
        super().__init__(LINE_FORMAT)
        self.secrets = secrets

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        return f"{seconds}.{int(record.msecs):03d}Z"

    def formatMessage(self, record: logging.LogRecord) -> str:
        shown = SHOWN_NAMES.get(record.name)
        if shown is not None:
            record = copy.copy(record)
            record.name = shown
        return super().formatMessage(record)

    def format(self, record: logging.LogRecord) -> str:
        return scrub_text(super().format(record), self.secrets)


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is when a record arrives: rich's progress display (which
    redirects stderr while it runs) and test runners' captures then get the lines in order."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr  # Handler.handle holds the handler's lock here
        super().emit(record)


def secrets_of(settings: Settings) -> tuple[str, ...]:
    """The secret values a log line must never show: API keys, the session secret, the SMTP
    password and the database password."""
    values = [settings.api_key(source) or "" for source in SOURCE_NAMES]
    if settings.session_secret is not None:
        values.append(settings.session_secret.get_secret_value())
    if settings.smtp_password is not None:
        values.append(settings.smtp_password.get_secret_value())
    with contextlib.suppress(ValueError):  # an unparsable URL fails later, saying so
        password = urlsplit(settings.effective_database_url()).password or ""
        values += [password, unquote(password)]
    return tuple(sorted({v for v in values if v}, key=len, reverse=True))


def configure_logging(settings: Settings) -> None:
    """Route tracker's and uvicorn's records (at `settings.log_level`) and everyone else's
    warnings (root) to stderr in LINE_FORMAT. Calling it again replaces what it installed."""
    formatter = LineFormatter(secrets_of(settings))
    level = logging.getLevelName(settings.log_level)
    for name in ("", *OWN_LOGGERS):
        logger = logging.getLogger(name)
        for installed in [h for h in logger.handlers if isinstance(h, StderrHandler)]:
            logger.removeHandler(installed)
        handler = StderrHandler()
        handler.setFormatter(formatter)
        if name:
            logger.setLevel(level)
            logger.propagate = False
        else:  # libraries (APScheduler, httpx, …): their warnings and errors only
            handler.setLevel(max(level, logging.WARNING))
        logger.addHandler(handler)
