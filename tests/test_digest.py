"""The email digest against a real local SMTP server (aiosmtpd, started here on a free port)
that requires STARTTLS (a certificate made for this test) and a login: deadlines ahead, claims
waiting for a verdict and the changes since the last digest, as plain text and HTML."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from pydantic import SecretStr
from sqlmodel import Session
from webhook_support import judged_claim, resolve

from tracker.clock import FixedClock, use_clock
from tracker.config import Settings
from tracker.digest import build_digest, digest_job
from tracker.models import Claim
from tracker.scheduler import job_table

NOW = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.logins: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


class FreePortController(Controller):
    """aiosmtpd's Controller bound to port 0: the port is read back once it listens."""

    def _trigger_server(self) -> None:
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[tuple[FreePortController, Inbox, Path]]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    inbox = Inbox()

    def authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = auth_data.login == b"digest" and auth_data.password == b"s3cret-pass"
        if ok:
            inbox.logins.append(auth_data.login.decode())
        return AuthResult(success=ok)

    controller = FreePortController(
        inbox,
        hostname="127.0.0.1",
        port=0,
        tls_context=context,
        require_starttls=True,
        authenticator=authenticate,
        auth_require_tls=True,
    )
    controller.start()
    yield controller, inbox, cert
    controller.stop()


def _settings(settings: Settings, port: int, cert: Path) -> Settings:
    return settings.model_copy(
        update={
            "smtp_host": "localhost",
            "smtp_port": port,
            "smtp_ca_file": str(cert),
            "smtp_username": "digest",
            "smtp_password": SecretStr("s3cret-pass"),
            "smtp_from": "tracker@example.org",
            "smtp_to": "reviewers@example.org, essay@example.org",
            "public_url": "https://tracker.example.org",
        }
    )


def test_digest_sent_over_starttls_with_text_and_html(engine, settings, smtp) -> None:
    controller, inbox, cert = smtp
    settings = _settings(settings, controller.port, cert)
    clock = FixedClock(NOW - dt.timedelta(days=3))
    with use_clock(clock):
        judged_claim(engine)  # its deadline (2026-06-30) passed: it waits for a verdict
        other = judged_claim(engine, slug="second-claim", claimant_slug="reporter")
        with Session(engine) as session:
            session.add(
                Claim(
                    slug="agi-2026",
                    title="AGI <arrives> in 2026",
                    claimant_id=session.get(Claim, other).claimant_id,
                    deadline=dt.date(2026, 12, 20),
                    kind="judged",
                    content_hash="1" * 64,
                    status_state="open",
                )
            )
            session.commit()
        clock.set(NOW - dt.timedelta(days=1))
        resolve(engine, other)  # a verdict and a state change since the last digest
    with use_clock(FixedClock(NOW)):
        assert digest_job(engine, settings) is None
    assert inbox.logins == ["digest"]
    (mail_from, rcpt, raw) = inbox.messages[0]
    assert mail_from == "tracker@example.org"
    assert rcpt == ["reviewers@example.org", "essay@example.org"]
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "1 deadline(s) ahead, 1 waiting for a verdict, 2 change(s)" in msg["Subject"], text
    assert "AGI <arrives> in 2026: deadline 2026-12-20 (in 22 days); open" in text
    assert "https://tracker.example.org/claims/agi-2026" in text
    assert "Connecting Colossus 2 takes a year: needs a verdict (2026-06-30)" in text
    assert "needs review → resolved true on 2026-11-27" in text
    assert "final verdict true by reviewer on 2026-11-27" in text
    assert "AGI &lt;arrives&gt; in 2026" in html and "<arrives>" not in html  # escaped
    assert 'href="https://tracker.example.org/claims/second-claim"' in html
    assert 'href="https://tracker.example.org/"' in html


def test_refused_starttls_certificate_is_the_jobs_error(engine, settings, smtp) -> None:
    controller, inbox, _cert = smtp
    settings = settings.model_copy(
        update={"smtp_host": "localhost", "smtp_port": controller.port, "smtp_to": "a@b.org"}
    )  # the test's certificate is not trusted by the system CAs
    with use_clock(FixedClock(NOW)):
        error = digest_job(engine, settings)
    assert error is not None and "CERTIFICATE_VERIFY_FAILED" in error
    assert inbox.messages == []


def test_digest_job_is_scheduled_only_when_configured(engine, settings) -> None:
    ids = [j.id for j in job_table(engine, None, now=NOW, indicators=[], settings=settings)]
    assert "digest:email" not in ids
    configured = settings.model_copy(update={"smtp_host": "mail", "smtp_to": "a@b.org"})
    ids = [j.id for j in job_table(engine, None, now=NOW, indicators=[], settings=configured)]
    assert "digest:email" in ids


def test_empty_digest_sections(engine) -> None:
    with Session(engine) as session:
        digest = build_digest(session, since=NOW - dt.timedelta(days=7), now=NOW, weeks_ahead=4)
    assert digest.empty


def test_smtp_password_is_scrubbed_from_logs() -> None:
    from tracker.cli.logs import secrets_of

    settings = Settings(smtp_password=SecretStr("s3cret-pass-for-logs"))
    assert "s3cret-pass-for-logs" in secrets_of(settings)
