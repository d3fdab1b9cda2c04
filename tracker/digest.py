"""The email digest: deadlines in the coming weeks, claims waiting for a verdict, and the
status changes and verdicts since the last digest, sent as plain text plus HTML over SMTP
(STARTTLS) to TRACKER_SMTP_TO. A scheduler job (`digest:email`, every
TRACKER_DIGEST_INTERVAL_DAYS) sends it; "since the last digest" is the last successful run of
that job.
"""

from __future__ import annotations

import datetime as dt
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import sqlalchemy as sa
from jinja2 import Environment, select_autoescape
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from tracker.config import Settings
from tracker.models import (
    ChangeKind,
    Claim,
    Evaluation,
    Lifecycle,
    Resolution,
    State,
)

DIGEST_JOB_ID = "digest:email"
MAX_ITEMS = 50
_RESOLVED = ("resolved_true", "resolved_false", "resolved_partial", "void", "ambiguous")


@dataclass(frozen=True)
class Line:
    slug: str
    title: str
    text: str


@dataclass
class Digest:
    since: dt.datetime
    now: dt.datetime
    deadlines: list[Line] = field(default_factory=list)
    waiting: list[Line] = field(default_factory=list)
    changes: list[Line] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.deadlines or self.waiting or self.changes)


def _words(state: str | None) -> str:
    return (state or "no status").replace("_", " ")


def build_digest(
    session: Session, *, since: dt.datetime, now: dt.datetime, weeks_ahead: int
) -> Digest:
    """What the digest says at `now` about the time since `since` (reads only)."""
    digest = Digest(since=since, now=now)
    today = now.date()
    upcoming = session.execute(
        sa.select(Claim)
        .where(
            col(Claim.deadline).is_not(None),
            col(Claim.deadline) >= today,
            col(Claim.deadline) <= today + dt.timedelta(weeks=weeks_ahead),
            col(Claim.lifecycle) == Lifecycle.active.value,
            sa.or_(col(Claim.status_state).is_(None), col(Claim.status_state).not_in(_RESOLVED)),
        )
        .order_by(col(Claim.deadline), col(Claim.slug))
        .limit(MAX_ITEMS)
    ).scalars()
    for claim in upcoming:
        assert claim.deadline is not None
        days = (claim.deadline - today).days
        when = "today" if days == 0 else f"in {days} day{'s' if days != 1 else ''}"
        digest.deadlines.append(
            Line(
                claim.slug,
                claim.title,
                f"deadline {claim.deadline.isoformat()} ({when}); {_words(claim.status_state)}",
            )
        )
    waiting = session.execute(
        sa.select(Claim)
        .where(
            col(Claim.status_state) == State.needs_review.value,
            col(Claim.lifecycle) == Lifecycle.active.value,
        )
        .order_by(col(Claim.deadline), col(Claim.slug))
        .limit(MAX_ITEMS)
    ).scalars()
    for claim in waiting:
        deadline = claim.deadline.isoformat() if claim.deadline else "no deadline"
        digest.waiting.append(Line(claim.slug, claim.title, f"needs a verdict ({deadline})"))
    moved = session.execute(
        sa.select(Evaluation, Claim)
        .join(Claim, col(Claim.id) == col(Evaluation.claim_id))
        .where(
            col(Evaluation.status_change) == ChangeKind.moved.value,
            col(Evaluation.evaluated_at) > since,
            col(Evaluation.evaluated_at) <= now,
        )
        .order_by(col(Evaluation.evaluated_at), col(Evaluation.id))
        .limit(MAX_ITEMS)
    ).all()
    for evaluation, claim in moved:
        if evaluation.state != evaluation.previous_state:
            change = f"{_words(evaluation.previous_state)} → {_words(evaluation.state)}"
        else:
            change = f"trend {_words(evaluation.previous_trend)} → {_words(evaluation.trend)}"
        on = evaluation.evaluated_at.date().isoformat()
        digest.changes.append(Line(claim.slug, claim.title, f"{change} on {on}"))
    verdicts = session.execute(
        sa.select(Resolution, Claim)
        .join(Claim, col(Claim.id) == col(Resolution.claim_id))
        .where(col(Resolution.decided_at) > since, col(Resolution.decided_at) <= now)
        .order_by(col(Resolution.decided_at), col(Resolution.id))
        .limit(MAX_ITEMS)
    ).all()
    for resolution, claim in verdicts:
        kind = "provisional" if resolution.provisional else "final"
        who = f" by {resolution.decided_by}" if resolution.decided_by else ""
        on = resolution.decided_at.date().isoformat()
        digest.changes.append(
            Line(claim.slug, claim.title, f"{kind} verdict {resolution.outcome}{who} on {on}")
        )
    return digest


_HTML = """<!doctype html>
<html><body>
<h1>tracker digest, {{ d.now.date().isoformat() }}</h1>
{% for heading, lines in sections %}
<h2>{{ heading }}</h2>
{% if lines %}<ul>
{% for line in lines %}<li><a href="{{ base }}/claims/{{ line.slug }}">{{ line.title }}</a>:
{{ line.text }}</li>
{% endfor %}</ul>{% else %}<p>None.</p>{% endif %}
{% endfor %}
<p><a href="{{ base }}/">Open the dashboard</a></p>
</body></html>
"""


def render(digest: Digest, public_url: str) -> tuple[str, str, str]:
    """(subject, plain text, HTML) of a digest; links use the public URL when set."""
    base = public_url.rstrip("/")
    since = digest.since.date().isoformat()
    sections = [
        ("Deadlines coming up", digest.deadlines),
        ("Waiting for a verdict", digest.waiting),
        (f"Changes since {since}", digest.changes),
    ]
    subject = (
        f"tracker digest: {len(digest.deadlines)} deadline(s) ahead, "
        f"{len(digest.waiting)} waiting for a verdict, {len(digest.changes)} change(s)"
    )
    text_parts = [f"tracker digest, {digest.now.date().isoformat()}", ""]
    for heading, lines in sections:
        text_parts.append(heading)
        text_parts.append("-" * len(heading))
        if not lines:
            text_parts.append("None.")
        for line in lines:
            text_parts.append(f"* {line.title}: {line.text}")
            text_parts.append(f"  {base}/claims/{line.slug}")
        text_parts.append("")
    text_parts.append(f"Dashboard: {base}/")
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    html = env.from_string(_HTML).render(d=digest, sections=sections, base=base)
    return subject, "\n".join(text_parts) + "\n", html


def recipients(settings: Settings) -> list[str]:
    return [a.strip() for a in settings.smtp_to.split(",") if a.strip()]


def message(settings: Settings, digest: Digest) -> EmailMessage:
    subject, text, html = render(digest, settings.public_url)
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = settings.smtp_from
    msg["To"] = ", ".join(recipients(settings))
    msg["Date"] = format_datetime(digest.now)
    msg["Message-ID"] = make_msgid(domain=settings.smtp_from.rpartition("@")[2] or None)
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return msg


def send(settings: Settings, msg: EmailMessage) -> None:
    """Send over SMTP: STARTTLS (certificate checked) unless turned off, then log in when a
    user name is set. Raises smtplib/ssl/OS errors for the caller to record."""
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout) as s:
        if settings.smtp_starttls:
            context = ssl.create_default_context(cafile=settings.smtp_ca_file or None)
            s.starttls(context=context)
        if settings.smtp_username:
            password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
            s.login(settings.smtp_username, password)
        s.send_message(msg)


def digest_job(engine: Engine, settings: Settings) -> str | None:
    """The scheduler job: build the digest since the last successful one and send it. A failed
    send is the job's error (recorded on its JobRun; retried with backoff)."""
    from tracker.clock import utcnow
    from tracker.scheduler import last_successful_runs

    now = utcnow()
    since = last_successful_runs(engine, [DIGEST_JOB_ID]).get(DIGEST_JOB_ID) or (
        now - dt.timedelta(days=settings.digest_interval_days)
    )
    with Session(engine) as session:
        digest = build_digest(
            session, since=since, now=now, weeks_ahead=settings.digest_weeks_ahead
        )
    try:
        send(settings, message(settings, digest))
    except (smtplib.SMTPException, ssl.SSLError, OSError) as exc:
        return f"digest not sent: {type(exc).__name__}: {exc}"
    return None
