"""The dashboard: server-rendered pages for readers, reviewers and operators (Jinja2).

Pages read through tracker.queries; the writes (a reviewer's verdict, a reviewer's decision on a
quarantined vintage) go through tracker.status and tracker.quarantine. Anyone holding a valid API
token may sign in; the session is an HMAC-signed cookie carrying the token's scopes and a
per-session CSRF token that every POST form must echo back. Each page or action checks the scope
it needs (checked against the token row on every request): any sign-in reads the pages when
reads require a token; `resolve` records verdicts, reviews quarantined data and sees the
operator details of /indicators; `subscriptions` manages webhooks (tracker.web.webhooks_page).
A signed-in user without the scope gets a 403 page naming it (`missing_scope`).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, unquote, urlencode, urlsplit

import jinja2
import sqlalchemy as sa
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape
from sqlmodel import Session, col, select

from tracker import (
    auth,
    bundled,
    calibration,
    data_health,
    overdue,
    quarantine,
    queries,
    server_secrets,
    status,
    verdict_marks,
)
from tracker.config import Settings
from tracker.criteria import JudgedCriterion, SignalCriterion, criterion_indicators
from tracker.i18n import current_lang, format_date
from tracker.i18n.catalogs import N_, _, ngettext
from tracker.i18n.content import claim_text, criterion_text, marked, quote_order
from tracker.i18n.reasons import reason_is_translated, reason_text, render
from tracker.models import (
    ApiToken,
    Claim,
    Claimant,
    ClaimKind,
    ClaimRevision,
    Evaluation,
    FetchRun,
    Indicator,
    Outcome,
    Resolution,
    State,
    Trend,
)
from tracker.numbers import format_chance, format_percent
from tracker.observations import observations_as_of, quarantined_as_of
from tracker.outlook import OUTLOOK_HELP, OUTLOOK_LABELS
from tracker.overview_counts import overview_counts
from tracker.web.charts import ClaimChart, build_claim_charts
from tracker.web.claim_query import ClaimQuery, ClaimQueryError, parse_claim_query
from tracker.web.deps import AsOfError, NowDep, SessionDep, SettingsDep, get_now, parse_as_of
from tracker.web.guard import GuardedRoute
from tracker.web.provenance import QuarantineView, pages_of, quarantine_views
from tracker.web.wording import (
    COMPARATOR_SYMBOLS,
    OUTCOME_MEANINGS,
    TrendBadge,
    date_at_precision,
    describe_criterion,
    expected_on_text,
    format_number,
    growth_needed_parts,
    outcome_label,
    parse_criterion,
    state_label,
    status_word,
    trend_badge,
    trend_label,
)

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"
SESSION_COOKIE = "tracker_session"
SESSION_LIFETIME = dt.timedelta(hours=12)
RESOLVE_SCOPE = "resolve"
SUBSCRIPTIONS_SCOPE = "subscriptions"
PAGE_SIZE = 50
OVERVIEW_LIST_LIMIT = 12
OVERVIEW_WITHIN_DAYS = 3660  # the upcoming queue: deadlines in the next ten years
HEALTH_LIST_LIMIT = 6
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

router = APIRouter(include_in_schema=False, route_class=GuardedRoute)


# --- templates ---


def _url_or_none(value: str | None) -> str | None:
    """The URL when it is http(s), else None: user-given links never become `javascript:`."""
    if not value:
        return None
    parts = urlsplit(value.strip())
    if parts.scheme in ("http", "https") and parts.netloc:
        return value.strip()
    return None


CODE_SPAN = re.compile(r"`([^`]+)`")


def _code_spans(text: str) -> Markup:
    """A plain-text message as HTML, its `word` spans set as <code> (everything escaped first),
    so messages read the same in a terminal and on a page."""
    html = Markup("")
    for index, part in enumerate(CODE_SPAN.split(text)):  # odd parts: inside backticks
        html += Markup("<code>{}</code>").format(part) if index % 2 else escape(part)
    return html


def _days_left(deadline: dt.date | None, today: dt.date) -> int | None:
    return None if deadline is None else (deadline - today).days


def _countdown(deadline: dt.date | None, today: dt.date) -> str:
    days = _days_left(deadline, today)
    if days is None:
        return _("no deadline")
    if days > 1:
        return ngettext("in %(num)d day", "in %(num)d days", days) % {"num": days}
    if days == 1:
        return _("tomorrow")
    if days == 0:
        return _("today")
    if days < -1:
        return ngettext("%(num)d day ago", "%(num)d days ago", -days) % {"num": -days}
    return _("yesterday")


# "expected 2025-01-30 (overdue)": the claim page, the overview and the calendar say it alike
_expected_on = expected_on_text


def _trend_badge(trend: str | None, status: Any = None) -> TrendBadge | None:
    """wording.trend_badge for a stored Evaluation or a replayed EvaluationResult (`status`):
    "on track (uncertain)" when its projection band straddles its threshold, "too uncertain to
    call" when it is too wide to call."""
    if status is None:
        return trend_badge(trend)
    if isinstance(status, Evaluation):
        return trend_badge(
            trend,
            status.projection_low,
            status.projection_high,
            status.threshold,
            status.projection_value,
            status.probability,
        )
    projection = getattr(status, "projection", None)
    return trend_badge(
        trend,
        getattr(projection, "low", None),
        getattr(projection, "high", None),
        getattr(status, "threshold", None),
        getattr(projection, "value", None),
        getattr(status, "probability", None),
    )


def _fmt_datetime(value: dt.datetime | None) -> str:
    """A moment in UTC as the reader's language writes it: "2026-12-31 14:05 UTC" or
    "2026年12月31日 14:05 UTC"."""
    if value is None:
        return "—"
    moment = value.astimezone(dt.UTC)
    return f"{format_date(moment.date())} {moment:%H:%M} UTC"


def _format_day(value: dt.date | str | None) -> str:
    """A calendar day in the reader's language (tracker.i18n.format_date); an ISO string is
    read first; anything else is shown as it is."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        try:
            return format_date(dt.date.fromisoformat(value[:10]))
        except ValueError:
            return value
    if isinstance(value, dt.datetime):
        value = value.date()
    return format_date(value)


def _switch_url(request: Request | None, lang: str) -> str:
    """The same page and query in `lang` (the language switch): `lang=` replaced, every
    other parameter kept."""
    if request is None:
        return f"?lang={lang}"
    pairs = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    return request.url.path + "?" + urlencode([*pairs, ("lang", lang)])


def _with_lang(url: str) -> str:
    """`url` (a feed or calendar link) in the page's language: `lang=ja` added for Japanese."""
    lang = current_lang()
    if lang == "en":
        return url
    return url + ("&" if "?" in url else "?") + urlencode({"lang": lang})


@cache
def _templates() -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    # gettext in the request's language (tracker.i18n.current_lang), newstyle: `_("%(n)s x",
    # n=n)` escapes its arguments; `{% trans %}` collapses whitespace like the extraction does
    env.policies["ext.i18n.trimmed"] = True
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=_, ngettext=ngettext, newstyle=True
    )
    env.filters.update(
        num=format_number,
        state_label=state_label,
        trend_label=trend_label,
        outcome_label=outcome_label,
        status_word=status_word,
        dtime=_fmt_datetime,
        comparator=lambda c: COMPARATOR_SYMBOLS.get(c or "", c or ""),
        safe_url=_url_or_none,
        code_spans=_code_spans,
        precise_date=date_at_precision,
        day=_format_day,
    )
    env.globals.update(
        countdown=_countdown,
        days_left=_days_left,
        expected_on=_expected_on,
        trend_badge=_trend_badge,
        growth_needed=_growth_needed,
        chance=format_chance,
        current_lang=current_lang,
        switch_url=_switch_url,
        with_lang=_with_lang,
    )
    env.filters["pct"] = format_percent
    env.filters["catalogued_on"] = _catalogued_on
    # reason texts in the reader's language (tracker.i18n.reasons); `reason_lang`: the
    # language the text is in (English for an evaluation stored before reasons had parts)
    env.filters["reason"] = reason_text
    # a claim's own words in the reader's language, English marked where it gives none
    env.filters["claim_text"] = lambda claim, name: marked(*claim_text(claim, name))
    env.filters["claim_title"] = lambda claim: claim_text(claim, "title")[0] or ""
    env.filters["criterion_text"] = lambda claim, key, english: marked(
        *criterion_text(claim, key, english)
    )
    env.globals["quote_order"] = quote_order
    env.filters["reason_lang"] = _reason_lang
    return Jinja2Templates(env=env)


def _catalogued_on(revision: ClaimRevision) -> dt.date | None:
    from tracker.claims import catalogued_on  # the claim-file loader, only for claim pages

    return catalogued_on(revision)


def _reason_lang(item: Any) -> str:
    lang = current_lang()
    return lang if reason_is_translated(item, lang) else "en"


def _growth_needed(ev: Evaluation) -> str:
    """The claim page's "Growth needed" line, as the reason words it (see growth_needed_text),
    in the reader's language."""
    if ev.required_growth is None:
        return "—"
    return render(
        growth_needed_parts(
            ev.required_growth, ev.observed_growth, ev.metric_period, ev.projection_at
        ),
        current_lang(),
    )


# --- sessions and CSRF ---


@dataclass(slots=True)
class WebSession:
    """What the signed cookie carries. `token_id` is set once a reviewer signs in."""

    csrf: str
    expires: int
    token_id: int | None = None
    who: str | None = None
    scopes: list[str] = field(default_factory=list)

    @property
    def signed_in(self) -> bool:
        return self.token_id is not None

    def has_scope(self, scope: str) -> bool:
        return self.signed_in and scope in self.scopes

    @property
    def can_resolve(self) -> bool:
        return self.has_scope(RESOLVE_SCOPE)


_key_lock = threading.Lock()


def _session_key(request: Request) -> bytes:
    """The key signing sessions, from settings.session_secret when set, else from the secret
    kept in the database (made on first use): so a restart signs nobody out and sibling
    processes on one database accept each other's cookies. Read once per app."""
    key: bytes | None = getattr(request.app.state, "dashboard_session_key", None)
    if key is not None:
        return key
    with _key_lock:
        key = getattr(request.app.state, "dashboard_session_key", None)
        if key is None:
            configured = request.app.state.settings.session_secret
            if configured is not None and configured.get_secret_value():
                secret = configured.get_secret_value()
            else:
                secret = server_secrets.shared_secret(
                    request.app.state.engine, server_secrets.SESSION_KEY_NAME, now=get_now()
                )
            key = hashlib.sha256(b"tracker-dashboard-session:" + secret.encode()).digest()
            request.app.state.dashboard_session_key = key
    return key


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def encode_session(key: bytes, web_session: WebSession) -> str:
    body = _b64(
        json.dumps(
            {
                "c": web_session.csrf,
                "e": web_session.expires,
                "t": web_session.token_id,
                "w": web_session.who,
                "s": web_session.scopes,
            },
            separators=(",", ":"),
        ).encode()
    )
    mac = _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())
    return f"{body}.{mac}"


def decode_session(key: bytes, value: str, now: dt.datetime) -> WebSession | None:
    """The session in a cookie value, or None when unsigned, tampered with or expired."""
    web_session = _decode_signed(key, value)
    if web_session is None or web_session.expires < int(now.timestamp()):
        return None
    return web_session


def _decode_signed(key: bytes, value: str) -> WebSession | None:
    """The session in a cookie value whose signature holds (expired or not), else None."""
    body, _, mac = value.partition(".")
    expected = _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())
    if not mac or not hmac.compare_digest(mac, expected):
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        web_session = WebSession(
            csrf=str(data["c"]),
            expires=int(data["e"]),
            token_id=data.get("t"),
            who=data.get("w"),
            scopes=list(data.get("s") or []),
        )
    except (binascii.Error, ValueError, KeyError, TypeError):
        return None
    return web_session


def _new_session(now: dt.datetime, **signed_in: Any) -> WebSession:
    return WebSession(
        csrf=secrets.token_urlsafe(24),
        expires=int((now + SESSION_LIFETIME).timestamp()),
        **signed_in,
    )


@dataclass(slots=True)
class SessionState:
    """The request's session. `fresh`: made for this request (the browser sent none valid, so
    no form can echo its CSRF token yet); `rewrite`: the response must set the cookie again;
    `lapsed`: why a sign-in the browser still carried no longer counts, said to the user."""

    session: WebSession
    fresh: bool
    rewrite: bool = False
    lapsed: str | None = None

    @property
    def write_cookie(self) -> bool:
        return self.fresh or self.rewrite


def _token_lapse(token: ApiToken | None, who: str | None) -> str | None:
    """Why a session's token no longer signs its holder in, or None while it does."""
    name = token.name if token is not None else who
    if token is None:
        if name:
            return _("the token you signed in with (%(name)s) no longer exists") % {"name": name}
        return _("the token you signed in with no longer exists")
    if token.revoked_at is not None:
        return _("the token you signed in with (%(name)s) has been revoked") % {"name": name}
    return None


def get_web_session(request: Request, now: NowDep, session: SessionDep) -> SessionState:
    """The session in the cookie, its sign-in checked against the token row on every request
    (a revoked token signs nobody in, not even until the cookie expires)."""
    raw = request.cookies.get(SESSION_COOKIE)
    lapsed: str | None = None
    if raw:
        found = _decode_signed(_session_key(request), raw)
        if found is None:  # tampered with, or signed with another key: nothing in it is known
            pass
        elif found.expires < int(now.timestamp()):
            if found.signed_in:
                hours = int(SESSION_LIFETIME.total_seconds() // 3600)
                lapsed = _("your sign-in expired (a sign-in lasts %(hours)s hours)") % {
                    "hours": hours
                }
        elif found.token_id is None:
            return SessionState(found, fresh=False)
        else:
            token = session.get(ApiToken, found.token_id)
            reason = _token_lapse(token, found.who)
            if reason is None and token is not None:
                found.who, found.scopes = token.name, list(token.scopes or [])
                return SessionState(found, fresh=False)
            # signed out, but the CSRF token stays: forms open in other tabs still verify
            anonymous = WebSession(csrf=found.csrf, expires=found.expires)
            return SessionState(anonymous, fresh=False, rewrite=True, lapsed=reason)
    return SessionState(_new_session(now), fresh=True, lapsed=lapsed)


WebSessionDep = Annotated[SessionState, Depends(get_web_session)]


def _set_cookie(request: Request, response: Response, web_session: WebSession) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        encode_session(_session_key(request), web_session),
        max_age=int(SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )


# marked for extraction; shown through _() where used
CSRF_MESSAGE = N_("The form's security token is missing or stale; reload the page and try again.")
LOGIN_CSRF_MESSAGE = N_(
    "Not signed in: the form's security token was missing or stale. This form has a fresh "
    "one: enter the token again."
)


def _csrf_ok(state: SessionState, submitted: str | None) -> bool:
    """Whether the form echoes this session's CSRF token (a fresh session has none to echo)."""
    return (
        not state.fresh
        and bool(submitted)
        and hmac.compare_digest(str(submitted), state.session.csrf)
    )


def _refuse(
    request: Request,
    state: SessionState,
    now: dt.datetime,
    message: str,
    status_code: int = 403,
    *,
    next_path: str = "/",
) -> HTMLResponse:
    """An HTML error page (the dashboard's forms are used by people, not programs); its sign-in
    link returns to `next_path`."""
    context = {"message": message, "next": _safe_next(next_path)}
    return _render(request, "error.html", context, state, now=now, status_code=status_code)


SCOPE_NEEDS = {
    RESOLVE_SCOPE: N_("record verdicts and review quarantined data"),
    SUBSCRIPTIONS_SCOPE: N_("see and manage webhook subscriptions"),
}


def scope_lack(web_session: WebSession, scope: str) -> str:
    """Why a signed-in session may not do what `scope` allows, in words naming the scope."""
    need = _(SCOPE_NEEDS[scope]) if scope in SCOPE_NEEDS else _("do this")
    if web_session.who:
        return _(
            "the token you signed in with (%(who)s) lacks the `%(scope)s` scope needed to %(need)s"
        ) % {"who": web_session.who, "scope": scope, "need": need}
    return _("the token you signed in with lacks the `%(scope)s` scope needed to %(need)s") % {
        "scope": scope,
        "need": need,
    }


def missing_scope(
    request: Request, state: SessionState, now: dt.datetime, scope: str, *, next_path: str
) -> HTMLResponse:
    """403: signed in, but without `scope`; the page names it and offers another sign-in."""
    message = _(
        "Not allowed: %(why)s. Sign in with a token that has it "
        "(`tracker token create --name NAME --scope %(scope)s`)."
    ) % {"why": scope_lack(state.session, scope), "scope": scope}
    context = {"message": message, "next": _safe_next(next_path), "missing_scope": scope}
    return _render(request, "error.html", context, state, now=now, status_code=403)


def _secure_headers(response: Response) -> None:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Cache-Control"] = "private, no-cache"


def _render(
    request: Request,
    name: str,
    context: dict[str, Any],
    state: SessionState,
    *,
    now: dt.datetime,
    status_code: int = 200,
) -> HTMLResponse:
    context = {
        "web_session": state.session,
        "session_lapsed": state.lapsed,
        "csrf_token": state.session.csrf,
        "now": now,
        "today": now.date(),
        **context,
    }
    response = _templates().TemplateResponse(request, name, context, status_code=status_code)
    if state.write_cookie:
        _set_cookie(request, response, state.session)
    _secure_headers(response)
    return response


def error_page_response(
    context: dict[str, Any], status_code: int, headers: Mapping[str, str] | None = None
) -> HTMLResponse:
    """An error page rendered without a request or a database (tracker.web.error_pages): as
    seen signed out, whatever the cookie says."""
    page = _templates().env.get_template("http_error.html")
    html = page.render(
        web_session=WebSession(csrf="", expires=0),
        session_lapsed=None,
        request=None,
        csrf_token="",
        **context,
    )
    response = HTMLResponse(html, status_code=status_code, headers=dict(headers or {}))
    _secure_headers(response)
    return response


def _redirect(request: Request, url: str, web_session: WebSession | None = None) -> Response:
    response = RedirectResponse(url, status_code=303)
    if web_session is not None:
        _set_cookie(request, response, web_session)
    _secure_headers(response)
    return response


def _safe_next(value: str | None) -> str:
    """A local path to go back to after signing in (never another site)."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


# --- data health ---


def indicator_health(
    session: Session, now: dt.datetime, settings: Settings
) -> list[data_health.IndicatorHealth]:
    """Every indicator with its last fetch run and its health state (tracker.data_health), so
    the dashboard, `/api/v1/indicators` and `/readyz` never disagree about an indicator."""
    return data_health.indicator_health(session, settings, now)


# --- claim page pieces ---


@dataclass(slots=True)
class CriterionView:
    key: str
    role: str
    kind: str
    sentence: str
    rubric: str | None = None
    outcomes: Mapping[str, str] = field(default_factory=dict)
    description: str | None = None  # the claim file's own explanation of the criterion


@dataclass(slots=True)
class TimelineEntry:
    at: dt.datetime
    kind: str  # "evaluation" | "resolution"
    evaluation: Evaluation | None = None
    resolution: Resolution | None = None


def _timeline_key(entry: TimelineEntry) -> tuple[dt.datetime, int, int]:
    row = entry.evaluation or entry.resolution
    return (entry.at, int(entry.kind == "resolution"), (row.id if row else None) or 0)


def _timeline(history: Iterable[Evaluation], verdicts: Iterable[Resolution]) -> list[TimelineEntry]:
    entries = [TimelineEntry(e.evaluated_at, "evaluation", evaluation=e) for e in history]
    entries += [TimelineEntry(r.decided_at, "resolution", resolution=r) for r in verdicts]
    # newest first; at equal times a verdict sits above the evaluation it caused
    entries.sort(key=_timeline_key, reverse=True)
    return entries


def _evidence_run_ids(evaluation: Evaluation | None, charts: Iterable[ClaimChart]) -> set[int]:
    ids = {run for chart in charts for p in chart.current_points for run in p.fetch_run_ids}
    if evaluation is not None:
        for name in ("fetch_runs", "fetch_run_ids"):
            for item in evaluation.evidence.get(name) or []:
                if isinstance(item, int):
                    ids.add(item)
                elif isinstance(item, dict) and isinstance(item.get("id"), int):
                    ids.add(item["id"])
    return ids


# --- pages ---


@router.get("/favicon.ico", response_class=Response)
def favicon() -> Response:
    """The site icon (an SVG; browsers ask for /favicon.ico whatever the page links)."""
    return Response(
        (STATIC_DIR / "favicon.svg").read_bytes(),
        media_type="image/svg+xml",
        headers={"Cache-Control": "public, max-age=86400"},
    )


@router.get("/", response_class=HTMLResponse)
def overview(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    state: WebSessionDep,
    as_of: Annotated[
        str | None, Query(description="What tracker reported by the end of YYYY-MM-DD (UTC)")
    ] = None,
    cursor: str | None = None,
) -> HTMLResponse:
    if as_of:
        return _overview_as_of(request, session, now, state, as_of, cursor)
    today = now.date()
    # the counts read together, and reused until the database changes (tracker.overview_counts)
    tally = overview_counts(session, today, within_days=OVERVIEW_WITHIN_DAYS)
    counts = tally.by_state
    queues = queries.deadline_queues(
        session, today, within_days=OVERVIEW_WITHIN_DAYS, limit=OVERVIEW_LIST_LIMIT, counts=tally
    )
    page = queries.list_claims(session, queries.ClaimFilters(), sort="deadline", limit=PAGE_SIZE)
    reviews_due = queries.yearly_reviews_due(session, today)
    changes, firsts = queries.recent_changes_and_firsts(session, changes=10, firsts=20)
    unhealthy = [h for h in indicator_health(session, now, settings) if not h.healthy]
    unhealthy.sort(key=data_health.attention_order)  # failing first, then stale, needs_key, …
    context = {
        "counts": sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])),
        "total": sum(counts.values()),
        "outlooks": OUTLOOK_LABELS,
        "outlook_help": OUTLOOK_HELP,
        "outlook_counts": tally.by_outlook,
        "upcoming": queues.upcoming,
        "upcoming_more": max(0, queues.upcoming_total - len(queues.upcoming)),
        "needs_review": queues.needs_review,
        "needs_review_more": max(0, queues.needs_review_total - len(queues.needs_review)),
        # claims asked about because their data is overdue (tracker.overdue), and since when
        "overdue_count": tally.overdue,
        "overdue_since": overdue.overdue_since_by_claim(
            session, [i.claim.id for i in queues.needs_review if i.claim.id is not None]
        ),
        "awaiting_data": queues.awaiting_data,
        "awaiting_more": max(0, queues.awaiting_total - len(queues.awaiting_data)),
        "changes": changes,
        "change_marks": verdict_marks.marks_at(
            session,
            [
                (c.evaluation.claim_id, c.evaluation.evaluated_at, c.evaluation.id)
                for c in changes
                if c.evaluation.state in verdict_marks.VERDICT_STATES
            ],
        ),
        "firsts": firsts,
        "health": unhealthy[:HEALTH_LIST_LIMIT],
        "health_more": max(0, len(unhealthy) - HEALTH_LIST_LIMIT),
        "claims": page.items,
        "marks": verdict_marks.current_marks(session, [i.claim for i in page.items]),
        "next_cursor": page.next_cursor,
        "reviews_due": reviews_due,
        "reviews_due_ids": {item.claim.id: day for item, day in reviews_due},
        "as_of_day": None,
        "as_of_error": None,
        "records_start": records_start(session),
    }
    return _render(request, "overview.html", context, state, now=now)


def records_start(session: Session) -> dt.date | None:
    """The first day tracker holds a record of (its first claim, first recorded): the as-of
    forms say which range of dates has anything to show."""
    first = session.execute(sa.select(sa.func.min(col(Claim.created_at)))).scalar()
    return first.astimezone(dt.UTC).date() if isinstance(first, dt.datetime) else None


def _overview_as_of(
    request: Request,
    session: Session,
    now: dt.datetime,
    state: SessionState,
    as_of: str,
    cursor: str | None,
) -> HTMLResponse:
    """The overview as tracker reported it by the end of a past day: each claim known then, as
    its revision then read, with its latest evaluation stored by then (not a replay; each claim
    links to its replay). A bad or future date answers 422, as on the claim page and the API."""
    try:
        day = parse_as_of(as_of, now.date())
    except AsOfError as exc:
        context: dict[str, Any] = {
            "as_of_day": None,
            "as_of_error": str(exc),
            "records_start": records_start(session),
        }
        return _render(request, "overview_as_of.html", context, state, now=now, status_code=422)
    at = status.end_of_day(day)
    try:
        page = queries.claims_as_stored(session, at, cursor=cursor, limit=PAGE_SIZE)
    except queries.InvalidCursor:
        page = queries.claims_as_stored(session, at, limit=PAGE_SIZE)
    counts = queries.counts_as_stored(session, at)
    next_url = None
    if page.next_cursor:
        next_url = f"/?as_of={day.isoformat()}&cursor={quote(page.next_cursor)}#all-h"
    context = {
        "as_of_day": day,
        "as_of_error": None,
        "records_start": records_start(session),
        "counts": sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])),
        "total": sum(counts.values()),
        "claims": page.items,
        "next_url": next_url,
    }
    return _render(request, "overview_as_of.html", context, state, now=now)


@router.get("/claims", response_class=HTMLResponse)
def claim_list(
    request: Request,
    session: SessionDep,
    now: NowDep,
    state: WebSessionDep,
) -> HTMLResponse:
    """The claim list, filtered and sorted by the API's own parameters, parsed by the API's own
    parser (tracker.web.claim_query): an unknown value answers 422 naming the parameter."""
    choices: dict[str, Any] = {
        "states": [s.value for s in State],
        "trends": [t.value for t in Trend],
        "kinds": [k.value for k in ClaimKind],
        "outlooks": OUTLOOK_LABELS,
        "sorts": SORT_LABELS,
        "claimants": _claimant_choices(session),
        "tags": _tag_choices(session),
        "raw": dict(request.query_params),
    }
    try:
        params = parse_claim_query(request.query_params)
    except ClaimQueryError as exc:
        context = {**choices, "p": None, "claims": [], "next_url": None, "filter_error": str(exc)}
        return _render(request, "claims.html", context, state, now=now, status_code=422)
    params.limit = PAGE_SIZE
    try:
        page = queries.list_claims(session, params.filters(), params.sort, params.cursor, PAGE_SIZE)
    except queries.InvalidCursor:
        page = queries.list_claims(session, params.filters(), params.sort, None, PAGE_SIZE)
    query = params.filter_params()
    next_url = None
    if page.next_cursor:
        next_url = "/claims?" + urlencode({**query, "cursor": page.next_cursor})
    context = {
        **choices,
        "p": params,
        "claims": page.items,
        "marks": verdict_marks.current_marks(session, [i.claim for i in page.items]),
        "next_url": next_url,
        "filter_error": None,
        "caption": _list_caption(params),
    }
    return _render(request, "claims.html", context, state, now=now)


SORT_LABELS = {
    "deadline": N_("nearest deadline first"),
    "-deadline": N_("furthest deadline first"),
    "slug": N_("slug A–Z"),
    "-slug": N_("slug Z–A"),
    "updated": N_("least recently updated first"),
    "-updated": N_("most recently updated first"),
}


def _list_caption(params: ClaimQuery) -> str:
    said = []
    if params.outlook is not None:
        said.append(_(OUTLOOK_LABELS[params.outlook]))
    for name in ("state", "trend", "kind", "claimant", "tag", "lifecycle"):
        value = getattr(params, name)
        if value is not None:
            said.append(f"{name} {value}")
    if params.deadline_after:
        said.append(_("deadline after %(day)s") % {"day": format_date(params.deadline_after)})
    if params.deadline_before:
        said.append(_("deadline before %(day)s") % {"day": format_date(params.deadline_before)})
    if params.q:
        said.append(_("matching “%(q)s”") % {"q": params.q})
    sort = _(SORT_LABELS[params.sort])
    if said:
        return _("Matching claims (%(filters)s), %(sort)s") % {
            "filters": _("; ").join(said),
            "sort": sort,
        }
    return _("All claims, %(sort)s") % {"sort": sort}


def _claimant_choices(session: Session) -> list[tuple[str, str]]:
    rows = session.exec(select(Claimant.slug, Claimant.name).order_by(col(Claimant.name))).all()
    return [(slug, name) for slug, name in rows]


def _tag_choices(session: Session) -> list[str]:
    """Every tag in use. JSON has no equality on PostgreSQL, so distinct over its text form."""
    tags_text = sa.cast(Claim.__table__.c.tags, sa.Text())  # type: ignore[attr-defined]
    tags: set[str] = set()
    for (text,) in session.execute(sa.select(tags_text).distinct()):
        value = json.loads(text) if text else []
        tags.update(t for t in value if isinstance(t, str))
    return sorted(tags)


@router.get("/claims/{slug}", response_class=HTMLResponse)
def claim_page(
    slug: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    state: WebSessionDep,
    as_of: Annotated[str | None, Query(description="Replay the status as of YYYY-MM-DD")] = None,
) -> HTMLResponse:
    detail = queries.get_claim(session, slug)
    if detail is not None and as_of:
        context = _claim_context(session, detail, settings, now)
        try:
            day = parse_as_of(as_of, now.date())
        except AsOfError as exc:  # 422, worded as on the overview and the API
            context["replay_error"] = str(exc)
            return _render(request, "claim.html", context, state, now=now, status_code=422)
        context["replay_day"] = day
        then = queries.claim_as_of(session, detail, day, now=now)
        if then is None:
            context["replay_error"] = _(
                "Claim not known to tracker on %(day)s: it was first recorded on %(first)s."
            ) % {"day": format_date(day), "first": format_date(detail.claim.created_at.date())}
            return _render(request, "claim.html", context, state, now=now, status_code=404)
        context["replay"] = then.result
        context["replay_then"] = then
        return _render(request, "claim.html", context, state, now=now)
    if detail is None:
        return _render(
            request,
            "not_found.html",
            {"what": _("claim %(slug)r") % {"slug": slug}},
            state,
            now=now,
            status_code=404,
        )
    return _render(
        request, "claim.html", _claim_context(session, detail, settings, now), state, now=now
    )


def _description(spec: Mapping[str, Any]) -> str | None:
    text = spec.get("description")
    return text.strip() or None if isinstance(text, str) else None


# Data-health states worth a note beside a claim's status (a bundled snapshot is normal).
NOTE_STATES = frozenset({"failing", "quarantined", "stale", "needs_key", "never_fetched"})


def _claim_context(
    session: Session,
    detail: queries.ClaimDetail,
    settings: Settings,
    now: dt.datetime,
) -> dict[str, Any]:
    claim = detail.claim
    assert claim.id is not None
    parsed = [
        (c, parse_criterion({**c.spec, "key": c.key, "role": c.role})) for c in detail.criteria
    ]
    keys = sorted({k for _, p in parsed if p is not None for k in criterion_indicators(p)})
    indicators = {
        i.key: i for i in session.exec(select(Indicator).where(col(Indicator.key).in_(keys))).all()
    }
    titles = {k: i.title or k for k, i in indicators.items()}
    views: list[CriterionView] = []
    for row, typed in parsed:
        view = CriterionView(
            key=row.key,
            role=row.role,
            kind=row.kind,
            sentence=describe_criterion({**row.spec, "key": row.key, "role": row.role}, titles),
            description=_description(row.spec),
        )
        if isinstance(typed, JudgedCriterion):
            view.rubric = typed.rubric
            view.outcomes = typed.outcomes
        views.append(view)
    charts = build_claim_charts(
        session,
        [(row.key, typed) for row, typed in parsed if typed is not None],
        indicators,
        deadline=claim.deadline,
        evaluation=detail.evaluation,
    )
    signal_keys = {row.key for row, typed in parsed if isinstance(typed, SignalCriterion)}
    signals = [c for c in charts if c.key in signal_keys]
    run_ids = _evidence_run_ids(detail.evaluation, charts)
    runs = (
        session.exec(
            select(FetchRun).where(col(FetchRun.id).in_(sorted(run_ids))).order_by(col(FetchRun.id))
        ).all()
        if run_ids
        else []
    )
    history = queries.claim_history(session, claim.id)
    verdicts = queries.claim_resolutions(session, claim.id)
    today = now.date()
    data_notes = [
        h
        for h in data_health.indicator_health(session, settings, now, keys=keys)
        if h.state in NOTE_STATES
    ]
    held_back = held_back_vintages(session, list(indicators.values()))
    return {
        "run_notes": _bundled_run_notes(session, runs, indicators),
        "run_pages": {run.id: pages_of(run) for run in runs},
        "run_quarantine": quarantine_views(session, runs),
        "held_back": held_back,
        "next_review": queries.next_review_date(claim, today),
        "review_due": queries.review_due(claim, today),
        "data_notes": data_notes,
        "d": detail,
        "claim": claim,
        "criteria": views,
        "charts": [c for c in charts if c.key not in signal_keys],
        "signals": signals,
        "indicators": indicators,
        "runs": runs,
        "timeline": _timeline(history, verdicts),
        "revisions": list(reversed(queries.claim_revisions(session, claim.id))),
        "resolutions": list(reversed(verdicts)),
        "outcomes": [o.value for o in Outcome],
        "outcome_choices": _outcome_choices(views),
        "early_until": claim.deadline if claim.deadline and today <= claim.deadline else None,
        "marks": {r.id: verdict_marks.marks_of(r, claim.deadline) for r in verdicts},
        "confirm": False,
        "form_errors": [],
        "form": {},
        "form_alert": None,
        "form_info": None,
        "replay": None,
        "replay_then": None,
        "replay_day": None,
        "replay_error": None,
    }


@dataclass(frozen=True, slots=True)
class OutcomeChoice:
    """One outcome on the verdict form: its value (the API's), its word, and what it means here
    (the claim's rubric for it when the rubric says, else the general meaning)."""

    value: str
    label: str
    meaning: str
    from_rubric: bool


def _outcome_choices(views: Iterable[CriterionView]) -> list[OutcomeChoice]:
    rubric: dict[str, str] = {}
    for view in views:
        for key, text in view.outcomes.items():
            rubric.setdefault(str(key), text)
    return [
        OutcomeChoice(
            o.value,
            outcome_label(o.value),
            rubric.get(o.value) or _(OUTCOME_MEANINGS[o.value]),
            o.value in rubric,
        )
        for o in Outcome
    ]


@dataclass(frozen=True, slots=True)
class HeldValue:
    """One value of a quarantined vintage beside the value in use for the same period."""

    period: str
    value: float | None
    in_use: float | None


@dataclass(frozen=True, slots=True)
class HeldBack:
    """A pending quarantined vintage of one indicator, as the dashboard shows it."""

    indicator: Indicator
    run: FetchRun
    view: QuarantineView
    values: list[HeldValue]


def held_back_vintages(session: Session, indicators: Iterable[Indicator]) -> list[HeldBack]:
    """The pending quarantined vintage of each of `indicators` that has one, with its values
    and the values in use for the same periods (four queries whatever the count)."""
    by_id = {i.id: i for i in indicators if i.id is not None}
    pending = quarantine.pending_quarantines(session, list(by_id))
    if not pending:
        return []
    ids = list(pending)
    held = quarantined_as_of(session, ids)
    in_use = {
        k: {r.period: r.value for r in rows} for k, rows in observations_as_of(session, ids).items()
    }
    runs = {
        r.id: r
        for r in session.exec(
            select(FetchRun).where(col(FetchRun.id).in_([p.fetch_run_id for p in pending.values()]))
        ).all()
    }
    views = quarantine_views(session, runs.values())
    out: list[HeldBack] = []
    for indicator_id, item in sorted(pending.items(), key=lambda kv: by_id[kv[0]].key):
        run, view = runs.get(item.fetch_run_id), views.get(item.fetch_run_id)
        if run is None or view is None:
            continue
        values = [
            HeldValue(r.period, r.value, in_use.get(indicator_id, {}).get(r.period))
            for r in held.get(indicator_id, [])
            if r.fetch_run_id == item.fetch_run_id
        ]
        out.append(HeldBack(by_id[indicator_id], run, view, values))
    return out


def _bundled_run_notes(
    session: Session, runs: Iterable[FetchRun], indicators: Mapping[str, Indicator]
) -> dict[int, bundled.BundledProvenance]:
    """For each bundled-snapshot run, the upstream it holds (source, retrieval date, licence),
    so provenance does not stop at `bundled:observations.csv`."""
    runs = [r for r in runs if r.trigger == data_health.BUNDLED_TRIGGER and r.id is not None]
    key_by_id = {i.id: k for k, i in indicators.items()}
    missing = {r.indicator_id for r in runs if r.indicator_id not in key_by_id}
    if missing:
        key_by_id.update(
            session.exec(
                select(Indicator.id, Indicator.key).where(col(Indicator.id).in_(missing))
            ).all()
        )
    notes: dict[int, bundled.BundledProvenance] = {}
    for run in runs:
        key = key_by_id.get(run.indicator_id)
        recorded = ((run.meta or {}).get("source_meta") or {}).get("bundled")
        found = bundled.provenance(key, recorded) if key else None
        if found is not None and run.id is not None:
            notes[run.id] = found
    return notes


@router.get("/claimants/{slug}", response_class=HTMLResponse)
def claimant_page(
    slug: str, request: Request, session: SessionDep, now: NowDep, state: WebSessionDep
) -> HTMLResponse:
    record = queries.claimant_track_record(session, slug)
    if record is None:
        return _render(
            request,
            "not_found.html",
            {"what": _("claimant %(slug)r") % {"slug": slug}},
            state,
            now=now,
            status_code=404,
        )
    marks = verdict_marks.current_marks(session, [i.claim for i in record.claims])
    return _render(request, "claimant.html", {"r": record, "marks": marks}, state, now=now)


@router.get("/track-record", response_class=HTMLResponse)
def tracker_track_record_page(
    request: Request, session: SessionDep, now: NowDep, state: WebSessionDep
) -> HTMLResponse:
    """tracker's own calls scored once claims resolve (tracker.calibration)."""
    record = calibration.tracker_track_record(session, now=now)
    context = {"r": record, "months": calibration.HORIZON_MONTHS}
    return _render(request, "track_record.html", context, state, now=now)


@router.get("/indicators", response_class=HTMLResponse)
def indicators_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    state: WebSessionDep,
) -> HTMLResponse:
    return _indicators_page(request, session, settings, now, state)


def _indicators_page(
    request: Request,
    session: Session,
    settings: Settings,
    now: dt.datetime,
    state: SessionState,
    *,
    review_errors: Mapping[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    health = indicator_health(session, now, settings)
    held = held_back_vintages(session, [h.indicator for h in health if h.quarantine is not None])
    context = {
        "health": health,
        # configuration (settings to set, HTTP details) is for reviewers/operators (`resolve`)
        "operator": state.session.can_resolve,
        "held_back": {h.indicator.key: h for h in held},
        "review_errors": dict(review_errors or {}),
    }
    return _render(request, "indicators.html", context, state, now=now, status_code=status_code)


REVIEW_DECISIONS = {"accept": True, "reject": False}


@router.post("/indicators/{key}/quarantine", response_model=None)
def review_quarantine(
    key: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    state: WebSessionDep,
    fetch_run_id: Annotated[int, Form()],
    decision: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """A reviewer accepts or rejects the pending quarantined vintage of `key` (recorded with
    their token's name, the time and their reason; the claims reading it are re-evaluated)."""
    token = _reviewer_token(session, state.session)
    if not _csrf_ok(state, csrf_token) or token is None:
        reason_text = _not_recorded_because(state, signed_in=token is not None)
        return _refuse(
            request,
            state,
            now,
            _("Nothing was recorded: %(why)s.") % {"why": reason_text},
            next_path="/indicators",
        )
    indicator = session.exec(select(Indicator).where(Indicator.key == key)).first()
    if indicator is None:
        return _refuse(
            request, state, now, _("There is no indicator %(key)r.") % {"key": key}, status_code=404
        )
    problem = None
    conflict = False
    if decision not in REVIEW_DECISIONS:
        problem = _("Choose accept or reject.")
    elif len(reason.strip()) < 3:
        problem = _("Write a reason: why accept or reject these values.")
    run = session.get(FetchRun, fetch_run_id)
    if problem is None and (run is None or run.indicator_id != indicator.id):
        problem = _("Fetch run %(run)s is not a fetch of %(key)s.") % {
            "run": fetch_run_id,
            "key": key,
        }
    if problem is None:
        try:
            status.lock_evaluation_runs(session)  # before any write, as every write that evaluates
            quarantine.review_vintage(
                session,
                fetch_run_id,
                accept=REVIEW_DECISIONS[decision],
                decided_by=token.name,
                reason=reason.strip(),
                now=now,
            )
            assert indicator.id is not None
            status.evaluate_claims(session, now=now, indicator_ids=[indicator.id])
        except quarantine.QuarantineConflict as exc:
            session.rollback()
            problem = _("Nothing was recorded: %(why)s.") % {"why": exc}
            conflict = True
        else:
            session.commit()
            return _redirect(request, f"/indicators#ind-{quote(key)}")
    code = 409 if conflict else 422
    return _indicators_page(
        request, session, settings, now, state, review_errors={key: problem}, status_code=code
    )


# --- signing in and out ---


@router.get("/login", response_class=HTMLResponse)
def login_form(
    request: Request, now: NowDep, state: WebSessionDep, next: str | None = None
) -> HTMLResponse:
    return _login_page(request, state, now, next)


def _login_page(
    request: Request,
    state: SessionState,
    now: dt.datetime,
    next: str | None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    context = {"next": _safe_next(next), "error": error}
    return _render(request, "login.html", context, state, now=now, status_code=status_code)


def _verify_token(session: Session, raw: str, now: dt.datetime) -> ApiToken | None:
    """The live token row for a presented token string, or None (tracker.auth checks it)."""
    try:
        return auth.verify_token(session, raw, now=now)
    except auth.TokenError:
        return None


@router.post("/login", response_model=None)
def login(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    state: WebSessionDep,
    token: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
    outcome: Annotated[str, Form()] = "",
    rationale: Annotated[str, Form()] = "",
    evidence: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
) -> Response:
    """Sign in. The claim page's "sign in again" form also sends the verdict being typed: it
    comes back on that claim's form once signed in (or with the error), never recorded here."""
    draft = VerdictDraft(outcome, rationale, evidence, note)
    detail = None if draft.empty else _claim_at(session, next)
    csrf_ok = _csrf_ok(state, csrf_token)

    def refused(message: str, status_code: int) -> HTMLResponse:
        if detail is not None and (csrf_ok or _from_this_site(request, settings)):
            return _verdict_page(
                request,
                session,
                settings,
                now,
                state,
                detail,
                draft,
                alert=message,
                status_code=status_code,
            )
        return _login_page(request, state, now, next, message, status_code=status_code)

    if not csrf_ok:
        return refused(_(LOGIN_CSRF_MESSAGE), 403)
    found = _verify_token(session, token.strip(), now) if token.strip() else None
    if found is None:
        return refused(_("Not signed in: that token is not valid (unknown or revoked)."), 401)
    session.commit()  # the token's last_used_at, if tracker.auth recorded it
    signed_in = _new_session(now, token_id=found.id, who=found.name, scopes=list(found.scopes))
    if detail is not None:
        info = _(
            "Signed in as %(who)s. Nothing is recorded yet: check the verdict below, "
            "then record it."
        ) % {"who": found.name}
        state = SessionState(signed_in, fresh=False, rewrite=True)
        return _verdict_page(request, session, settings, now, state, detail, draft, info=info)
    return _redirect(request, _safe_next(next), signed_in)


@router.post("/logout", response_model=None)
def logout(
    request: Request,
    now: NowDep,
    state: WebSessionDep,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    if not _csrf_ok(state, csrf_token):
        return _refuse(request, state, now, _(CSRF_MESSAGE))
    return _redirect(request, "/", _new_session(now))


# --- recording a verdict ---


@dataclass(frozen=True, slots=True)
class VerdictDraft:
    """What a reviewer typed into the verdict form. When it cannot be recorded it is sent back
    to the same browser in the form (escaped like any text); the server never keeps it."""

    outcome: str = ""
    rationale: str = ""
    evidence: str = ""
    note: str = ""

    @property
    def empty(self) -> bool:
        return not any(v.strip() for v in (self.outcome, self.rationale, self.evidence, self.note))

    def as_form(self) -> dict[str, str]:
        return {
            "outcome": self.outcome,
            "rationale": self.rationale,
            "evidence": self.evidence,
            "note": self.note,
        }


CLAIM_PATH = re.compile(r"^/claims/([^/?#]+)$")


def _claim_at(session: Session, path: str) -> queries.ClaimDetail | None:
    """The claim whose page `path` is (`/claims/<slug>`), if it exists."""
    match = CLAIM_PATH.match(_safe_next(path))
    return queries.get_claim(session, unquote(match.group(1))) if match else None


def _from_this_site(request: Request, settings: Settings) -> bool:
    """Whether the browser says this POST came from one of this site's pages (Sec-Fetch-Site,
    else Origin; a client sending neither is not a browser and counts as this site's).

    Checked before a form whose CSRF token failed is sent back filled in: another site could
    post to us, but must not get a page that shows its own text in a reviewer's form."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site == "same-origin"
    origin = request.headers.get("origin")
    if origin is None:
        return True
    ours = {f"{request.url.scheme}://{request.url.netloc}"}
    if settings.public_url:
        public = urlsplit(settings.public_url)
        ours.add(f"{public.scheme}://{public.netloc}")
    return origin in ours


def _verdict_page(
    request: Request,
    session: Session,
    settings: Settings,
    now: dt.datetime,
    state: SessionState,
    detail: queries.ClaimDetail,
    draft: VerdictDraft,
    *,
    alert: str | None = None,
    info: str | None = None,
    errors: Iterable[str] = (),
    status_code: int = 200,
    confirm: bool = False,
) -> HTMLResponse:
    """The claim page with the verdict form filled in with `draft`: the resolve form when
    `state` may resolve, else a form to sign in again that carries the draft along; with
    `confirm`, what will be recorded, to record or change."""
    context = _claim_context(session, detail, settings, now)
    context.update(
        confirm=confirm,
        evidence_urls=[line.strip() for line in draft.evidence.splitlines() if line.strip()],
        form=draft.as_form(),
        form_errors=list(errors),
        form_alert=alert,
        form_info=info,
        session_lapsed=None,  # the form's own message says it, next to the form
    )
    return _render(request, "claim.html", context, state, now=now, status_code=status_code)


def scoped_token(session: Session, web_session: WebSession, scope: str) -> ApiToken | None:
    """The signed-in token row if it still exists, is not revoked and carries `scope`."""
    if web_session.token_id is None:
        return None
    token = session.get(ApiToken, web_session.token_id)
    if token is None or _token_lapse(token, None) is not None:
        return None
    return token if auth.has_scope(token, scope) else None


def _reviewer_token(session: Session, web_session: WebSession) -> ApiToken | None:
    """The signed-in reviewer's token row if it still exists, is not revoked and may resolve."""
    return scoped_token(session, web_session, RESOLVE_SCOPE)


def _not_recorded_because(state: SessionState, signed_in: bool, scope: str = RESOLVE_SCOPE) -> str:
    """Why a reviewer action was refused; `signed_in`: by a token that carries `scope`."""
    if signed_in:
        return _("the form's security token was missing or stale")
    if state.session.signed_in:
        return scope_lack(state.session, scope)
    if state.lapsed:
        return _("your sign-in is no longer valid: %(why)s") % {"why": state.lapsed}
    return _("you are not signed in as a reviewer")


@router.get("/claims/{slug}/resolve", response_model=None)
def resolve_form(slug: str, request: Request) -> Response:
    """A reloaded or bookmarked verdict address: back to the claim's verdict form."""
    return _redirect(request, f"/claims/{quote(slug)}#verdict")


@router.post("/claims/{slug}/resolve", response_model=None)
def resolve(
    slug: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    state: WebSessionDep,
    outcome: Annotated[str, Form()] = "",
    rationale: Annotated[str, Form()] = "",
    evidence: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
    step: Annotated[str, Form()] = "record",
) -> Response:
    """The form posts `step=review` first (checked, nothing written: the page shows what will
    be recorded), then `step=record` from that confirmation (or `step=edit` to change it)."""
    draft = VerdictDraft(outcome, rationale, evidence, note)
    csrf_ok = _csrf_ok(state, csrf_token)
    token = _reviewer_token(session, state.session)
    if not csrf_ok or token is None:
        # Nothing is recorded. What was typed goes back to this browser in a fresh form: with a
        # new CSRF token when the sign-in holds, else in a form to sign in again.
        reason = _not_recorded_because(state, signed_in=token is not None)
        detail = queries.get_claim(session, slug)
        if detail is None or not (csrf_ok or _from_this_site(request, settings)):
            message = _("Nothing was recorded: %(why)s.") % {"why": reason}
            return _refuse(request, state, now, message, next_path=f"/claims/{quote(slug)}")
        if token is not None:
            then = _("The form below has a fresh one and what you typed: check it and record it.")
        elif state.session.signed_in:
            then = _("Sign in below with a token that has it; what you typed is kept.")
        else:
            then = _("Sign in again below; what you typed is kept.")
        alert = _("Nothing was recorded: %(why)s.") % {"why": reason} + " " + then
        return _verdict_page(
            request, session, settings, now, state, detail, draft, alert=alert, status_code=403
        )
    detail = queries.get_claim(session, slug)
    if detail is None:
        return _refuse(
            request, state, now, _("There is no claim %(slug)r.") % {"slug": slug}, status_code=404
        )
    if step == "edit":
        return _verdict_page(request, session, settings, now, state, detail, draft)
    errors: list[str] = []
    if outcome not in {o.value for o in Outcome}:
        errors.append(_("Choose an outcome."))
    if len(rationale.strip()) < 3:
        errors.append(_("Write a rationale: why this verdict."))
    urls = [line.strip() for line in evidence.splitlines() if line.strip()]
    bad = [u for u in urls if _url_or_none(u) is None]
    if bad:
        errors.append(
            _("Evidence must be http(s) links, one per line; not: %(bad)s")
            % {"bad": ", ".join(bad)}
        )
    if not errors and step == "review":  # the same rules record_manual_resolution applies
        why = status.verdict_note_problem(
            session, detail.claim, outcome=outcome, note=note.strip() or None, now=now
        )
        if why is None:
            return _verdict_page(
                request, session, settings, now, state, detail, draft, confirm=True
            )
        errors.append(_("Note: %(why)s.") % {"why": why})
    if not errors:
        try:
            status.record_manual_resolution(
                session,
                detail.claim,
                outcome=outcome,
                decided_by=token.name,
                rationale=rationale.strip(),
                evidence=urls,
                note=note.strip() or None,
                now=now,
            )
        except (status.InvalidResolution, status.ResolutionConflict) as exc:
            session.rollback()
            errors.append(str(exc))
        else:
            session.commit()
            return _redirect(request, f"/claims/{quote(slug)}#timeline")
    return _verdict_page(
        request, session, settings, now, state, detail, draft, errors=errors, status_code=422
    )
