"""The signed-in writer's pages: add a claim (/claims/new) and declare an indicator
(/indicators/new) without a shell. Plain form posts: "Check" runs the same dry runs as the API
(tracker.dry_run for a claim, tracker.indicator_declarations for an indicator's fetch) and shows
exactly what will be stored; "Save" stores it as `POST /api/v1/claims` and
`POST /api/v1/indicators` do. Errors are shown beside their fields, and focused.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import quote, urlencode

import yaml
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from tracker import auth, queries
from tracker.i18n.catalogs import _
from tracker.indicator_declarations import (
    DeclarationConflict,
    DeclarationError,
    declarable_sources,
    declare_indicator,
    preview_fetch,
    validate_declaration,
)
from tracker.models import ApiToken, Claimant, Indicator, SourceDocument
from tracker.sources.params import declared_params
from tracker.web.dashboard import (
    CSRF_MESSAGE,
    SessionState,
    WebSession,
    WebSessionDep,
    _csrf_ok,
    _redirect,
    _refuse,
    _render,
)
from tracker.web.deps import NowDep, SessionDep, SourceHttpDep
from tracker.web.guard import GuardedRoute

router = APIRouter(include_in_schema=False, route_class=GuardedRoute)

WRITE_SCOPE = "claims:write"
FREQUENCIES = ("annual", "quarterly", "monthly", "weekly", "daily", "point")
REFRESHES = ("daily", "weekly", "monthly")
SOURCE_LABELS = {
    "worldbank": "World Bank (indicator + country)",
    "owid": "Our World in Data (grapher chart + column + entity)",
    "fred": "FRED (series id)",
    "ember": "Ember (country + series)",
}


def writer_token(session: Session, web_session: WebSession) -> ApiToken | None:
    """The one scope check of these pages: the signed-in token's row while it exists, is not
    revoked and carries `claims:write`; else None."""
    if web_session.token_id is None:
        return None
    token = session.get(ApiToken, web_session.token_id)
    if token is None or token.revoked_at is not None or not auth.has_scope(token, WRITE_SCOPE):
        return None
    return token


def _not_a_writer(
    request: Request, state: SessionState, now: dt.datetime, next_path: str
) -> HTMLResponse:
    if state.session.signed_in:
        message = _(
            "Your sign-in lacks the `%(scope)s` scope needed to add claims and indicators; "
            "sign in with a token that has it (`tracker token create --scope %(scope)s`)."
        ) % {"scope": WRITE_SCOPE}
        return _refuse(request, state, now, message, status_code=403, next_path=next_path)
    return _refuse(
        request,
        state,
        now,
        _("Sign in with a token that has the `%(scope)s` scope to add claims and indicators.")
        % {"scope": WRITE_SCOPE},
        status_code=401,
        next_path=next_path,
    )


@dataclass
class FormErrors:
    """Errors by form field name; `general` for those no field shows."""

    by_field: dict[str, list[str]] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)

    def add(self, name: str | None, message: str) -> None:
        if name is None:
            self.general.append(message)
        else:
            self.by_field.setdefault(name, []).append(message)

    @property
    def any(self) -> bool:
        return bool(self.by_field or self.general)

    def first(self, order: Iterable[str]) -> str:
        """The first field in page order that has an error ("" when none: the summary)."""
        return next((name for name in order if name in self.by_field), "")

    @property
    def count(self) -> int:
        return len(self.general) + sum(len(v) for v in self.by_field.values())


# --- declaring an indicator ---


INDICATOR_FIELDS = ("key", "title", "unit", "frequency", "publication_lag_days", "refresh", "note")


def _indicator_form(form: Mapping[str, str], source: str) -> dict[str, Any]:
    """The declaration the form describes (an indicators.yaml entry)."""
    data: dict[str, Any] = {"source": source or None, "params": {}}
    for name in INDICATOR_FIELDS:
        value = form.get(name, "").strip()
        if value:
            data[name] = value
    if "publication_lag_days" in data:
        data["publication_lag_days"] = _int_or_text(data["publication_lag_days"])
    if source in declarable_sources():
        for param in declared_params(declarable_sources()[source]) or ():
            value = form.get(f"param_{param.name}", "").strip()
            if value:
                data["params"][param.name] = value
    return data


def _int_or_text(value: str) -> int | str:
    try:
        return int(value)
    except ValueError:
        return value


def _indicator_field(path: str) -> str | None:
    """The form field showing an error at a declaration's `path` (`params.country`, `unit`)."""
    if path.startswith("params."):
        return "param_" + path.split(".", 1)[1]
    head = path.split(".", 1)[0]
    return head if head in INDICATOR_FIELDS else None  # the source's: in the summary


def _indicator_page(
    request: Request,
    state: SessionState,
    now: dt.datetime,
    *,
    source: str,
    form: Mapping[str, str],
    errors: FormErrors | None = None,
    checked: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    sources = declarable_sources()
    params = declared_params(sources[source]) if source in sources else None
    order = [f"param_{p.name}" for p in params or ()] + list(INDICATOR_FIELDS)
    context = {
        "first": (errors or FormErrors()).first(order),
        "sources": [(name, SOURCE_LABELS.get(name, name)) for name in sources],
        "source": source if source in sources else "",
        "params": params or (),
        "form": dict(form),
        "errors": errors or FormErrors(),
        "checked": checked,
        "frequencies": FREQUENCIES,
        "refreshes": REFRESHES,
    }
    return _render(request, "indicator_new.html", context, state, now=now, status_code=status_code)


@router.get("/indicators/new", response_class=HTMLResponse)
def new_indicator_form(
    request: Request,
    session: SessionDep,
    now: NowDep,
    state: WebSessionDep,
    source: str = "",
) -> HTMLResponse:
    if writer_token(session, state.session) is None:
        return _not_a_writer(request, state, now, "/indicators/new")
    defaults = {"frequency": "annual", "refresh": "weekly", "publication_lag_days": "0"}
    return _indicator_page(request, state, now, source=source, form=defaults)


@router.post("/indicators/new", response_model=None)
def new_indicator(
    request: Request,
    session: SessionDep,
    now: NowDep,
    state: WebSessionDep,
    http: SourceHttpDep,
    csrf_token: Annotated[str, Form()] = "",
    source: Annotated[str, Form()] = "",
    step: Annotated[str, Form()] = "check",
    key: Annotated[str, Form()] = "",
    title: Annotated[str, Form()] = "",
    unit: Annotated[str, Form()] = "",
    frequency: Annotated[str, Form()] = "",
    publication_lag_days: Annotated[str, Form()] = "",
    refresh: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
    param_indicator: Annotated[str, Form()] = "",
    param_country: Annotated[str, Form()] = "",
    param_chart: Annotated[str, Form()] = "",
    param_column: Annotated[str, Form()] = "",
    param_entity_code: Annotated[str, Form()] = "",
    param_series_id: Annotated[str, Form()] = "",
    param_frequency: Annotated[str, Form()] = "",
    param_aggregation_method: Annotated[str, Form()] = "",
    param_series: Annotated[str, Form()] = "",
) -> Response:
    """`step=check` validates and fetches the series once (nothing stored); `step=save`
    stores the declaration, then goes on to the claim form with the new indicator."""
    form = {k: v for k, v in locals().items() if isinstance(v, str)}
    token = writer_token(session, state.session)
    if token is None:
        return _not_a_writer(request, state, now, "/indicators/new")
    if not _csrf_ok(state, csrf_token):
        errors = FormErrors(general=[_(CSRF_MESSAGE)])
        return _indicator_page(
            request, state, now, source=source, form=form, errors=errors, status_code=403
        )
    errors = FormErrors()
    try:
        entry = validate_declaration(_indicator_form(form, source))
    except DeclarationError as exc:
        for issue in exc.issues:
            name = _indicator_field(issue.field)
            errors.add(name, issue.message if name else f"{issue.field}: {issue.message}")
        return _indicator_page(
            request, state, now, source=source, form=form, errors=errors, status_code=422
        )
    stored = entry.model_dump(mode="json", exclude_none=True)
    if session.exec(select(Indicator.id).where(col(Indicator.key) == entry.key)).first():
        errors.add(
            "key",
            _("an indicator with key %(key)r already exists: pick another key")
            % {"key": entry.key},
        )
        return _indicator_page(
            request, state, now, source=source, form=form, errors=errors, status_code=409
        )
    if step == "save":
        try:
            declare_indicator(session, entry, author=token.name, now=now)
            session.commit()
        except (DeclarationConflict, IntegrityError):
            session.rollback()
            errors.add(
                "key", _("an indicator with key %(key)r already exists") % {"key": entry.key}
            )
            return _indicator_page(
                request, state, now, source=source, form=form, errors=errors, status_code=409
            )
        return _redirect(request, "/claims/new?" + urlencode({"indicator": entry.key}))
    preview = preview_fetch(http, entry)
    checked = {
        "yaml": yaml.safe_dump(
            {"indicators": [stored]}, sort_keys=False, allow_unicode=True, width=100
        ),
        "fetch": preview,
    }
    return _indicator_page(request, state, now, source=source, form=form, checked=checked)


# --- adding a claim ---


CLAIM_FIELDS = (
    "slug",
    "title",
    "claimant",
    "source",
    "quote_original",
    "quote_language",
    "quote_en",
    "stated_date",
    "stated_precision",
    "deadline",
    "kind",
    "tags",
    "criteria",
)
# a claim document's top-level (or quote./stated.) field → the form field showing its errors
CLAIM_FIELD_OF = {
    "slug": "slug",
    "title": "title",
    "claimant": "claimant",
    "source": "source",
    "quote.original": "quote_original",
    "quote.language": "quote_language",
    "quote.en": "quote_en",
    "quote": "quote_original",
    "stated.date": "stated_date",
    "stated.precision": "stated_precision",
    "stated": "stated_date",
    "deadline": "deadline",
    "kind": "kind",
    "tags": "tags",
    "criteria": "criteria",
}


def _claim_field(path: str) -> str | None:
    if path.startswith("criteria"):
        return "criteria"
    if path.startswith("tags"):
        return "tags"
    return CLAIM_FIELD_OF.get(path)


def _criteria_template(indicator: Indicator | None) -> str:
    key = indicator.key if indicator is not None else "KEY.OF.AN.INDICATOR"
    unit = indicator.unit if indicator is not None else "UNIT"
    return (
        "- key: main\n"
        "  type: threshold\n"
        "  description: WHAT MUST BE TRUE, IN WORDS\n"
        f"  series: {{indicator: {key}}}\n"
        '  comparator: ">="\n'
        "  threshold: 0\n"
        f'  unit: "{unit}"\n'
        "  mode: at_period\n"
        '  period: "2030"\n'
    )


def _claim_document(form: Mapping[str, str], errors: FormErrors) -> dict[str, Any]:
    """The claim document the form describes (the shape of a claim file)."""

    def text(name: str) -> str | None:
        value = form.get(name, "").strip()
        return value or None

    doc: dict[str, Any] = {"slug": text("slug"), "title": text("title")}
    doc["claimant"] = text("claimant")
    if text("source"):
        doc["source"] = text("source")
    quote_doc = {"original": text("quote_original"), "language": text("quote_language")}
    quote_doc["en"] = text("quote_en")
    doc["quote"] = {k: v for k, v in quote_doc.items() if v is not None}
    doc["stated"] = {"date": text("stated_date"), "precision": text("stated_precision")}
    doc["deadline"] = text("deadline")
    doc["kind"] = text("kind")
    tags = [t.strip() for t in form.get("tags", "").split(",") if t.strip()]
    if tags:
        doc["tags"] = tags
    doc["operationalised_by"] = "tracker"
    try:
        criteria = yaml.safe_load(form.get("criteria", "") or "[]")
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        errors.add("criteria", f"the criteria are not valid YAML{where}: {exc}")
        criteria = []
    if not isinstance(criteria, list):
        errors.add("criteria", _("the criteria must be a YAML list (each item starting with `- `)"))
        criteria = []
    doc["criteria"] = criteria
    return {k: v for k, v in doc.items() if v is not None}


def _choices(session: Session) -> dict[str, Any]:
    claimants = session.exec(select(Claimant).order_by(col(Claimant.name))).all()
    sources = session.exec(select(SourceDocument).order_by(col(SourceDocument.slug))).all()
    indicators = session.exec(select(Indicator).order_by(col(Indicator.key))).all()
    return {
        "claimants": [(c.slug, c.name) for c in claimants],
        "source_documents": [(s.slug, s.title or s.slug) for s in sources],
        "indicators": [(i.key, i.title or i.key, i.unit) for i in indicators],
    }


def _claim_page(
    request: Request,
    session: Session,
    state: SessionState,
    now: dt.datetime,
    *,
    form: Mapping[str, str],
    errors: FormErrors | None = None,
    checked: dict[str, Any] | None = None,
    info: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    context = {
        "first": (errors or FormErrors()).first(CLAIM_FIELDS),
        "form": dict(form),
        "errors": errors or FormErrors(),
        "checked": checked,
        "info": info,
        **_choices(session),
    }
    return _render(request, "claim_new.html", context, state, now=now, status_code=status_code)


@router.get("/claims/new", response_class=HTMLResponse)
def new_claim_form(
    request: Request,
    session: SessionDep,
    now: NowDep,
    state: WebSessionDep,
    indicator: str = "",
) -> HTMLResponse:
    if writer_token(session, state.session) is None:
        return _not_a_writer(request, state, now, "/claims/new")
    row = (
        session.exec(select(Indicator).where(col(Indicator.key) == indicator)).first()
        if indicator
        else None
    )
    info = None
    if row is not None:
        info = _(
            "Indicator %(key)s is declared; tracker fetches it on its schedule. The "
            "criteria below read it."
        ) % {"key": row.key}
    form = {
        "quote_language": "en",
        "stated_precision": "day",
        "kind": "hard",
        "criteria": _criteria_template(row),
    }
    return _claim_page(request, session, state, now, form=form, info=info)


def _issues_to_errors(issues: Iterable[Any], errors: FormErrors) -> None:
    for issue in issues:
        name = _claim_field(issue.field)
        message = (
            issue.message if name and name != "criteria" else f"{issue.field}: {issue.message}"
        )
        errors.add(name, message)


@router.post("/claims/new", response_model=None)
def new_claim(
    request: Request,
    session: SessionDep,
    now: NowDep,
    state: WebSessionDep,
    csrf_token: Annotated[str, Form()] = "",
    step: Annotated[str, Form()] = "check",
    slug: Annotated[str, Form()] = "",
    title: Annotated[str, Form()] = "",
    claimant: Annotated[str, Form()] = "",
    source: Annotated[str, Form()] = "",
    quote_original: Annotated[str, Form()] = "",
    quote_language: Annotated[str, Form()] = "",
    quote_en: Annotated[str, Form()] = "",
    stated_date: Annotated[str, Form()] = "",
    stated_precision: Annotated[str, Form()] = "",
    deadline: Annotated[str, Form()] = "",
    kind: Annotated[str, Form()] = "",
    tags: Annotated[str, Form()] = "",
    criteria: Annotated[str, Form()] = "",
) -> Response:
    """`step=check` runs the claim's dry run (tracker.dry_run: written, evaluated, rolled
    back) and shows the document and its evaluation; `step=save` stores it as the API does."""
    from tracker.claims import ClaimValidationError, apply_claim, normalised_document
    from tracker.dry_run import dry_run_claim
    from tracker.status import evaluate_claims, lock_evaluation_runs
    from tracker.web.api import _validate_document, status_cache
    from tracker.web.problems import ProblemError

    form = {k: v for k, v in locals().items() if k in CLAIM_FIELDS}
    token = writer_token(session, state.session)
    if token is None:
        return _not_a_writer(request, state, now, "/claims/new")
    errors = FormErrors()
    if not _csrf_ok(state, csrf_token):
        errors.add(None, _(CSRF_MESSAGE))
        return _claim_page(request, session, state, now, form=form, errors=errors, status_code=403)
    doc = _claim_document(form, errors)
    claim = None
    if not errors.any:
        try:
            claim = _validate_document(session, doc)
        except ProblemError as exc:
            for error in exc.errors or []:
                name = _claim_field(str(error["field"]))
                message = str(error["message"])
                errors.add(
                    name, message if name and name != "criteria" else f"{error['field']}: {message}"
                )
    if claim is None or errors.any:
        return _claim_page(request, session, state, now, form=form, errors=errors, status_code=422)
    if step == "save":
        if queries.claim_exists(session, claim.slug):
            errors.add(
                "slug", _("a claim with slug %(slug)r already exists") % {"slug": claim.slug}
            )
        else:
            try:
                lock_evaluation_runs(session)  # before the first write, as the API's save
                result = apply_claim(session, claim, origin="api", author=token.name, now=now)
                assert result.claim.id is not None
                evaluate_claims(session, now=now, claim_ids=[result.claim.id])
                session.commit()
            except IntegrityError:
                session.rollback()
                errors.add(
                    "slug", _("a claim with slug %(slug)r already exists") % {"slug": claim.slug}
                )
            except ClaimValidationError as exc:
                session.rollback()
                _issues_to_errors(exc.errors, errors)
            else:
                status_cache(request).invalidate(claim.slug)
                return _redirect(request, f"/claims/{quote(claim.slug)}")
        return _claim_page(request, session, state, now, form=form, errors=errors, status_code=422)
    try:
        preview = dry_run_claim(session, claim, now=now, origin="api", note="dry run")
    except ClaimValidationError as exc:
        _issues_to_errors(exc.errors, errors)
        return _claim_page(request, session, state, now, form=form, errors=errors, status_code=422)
    checked = {
        "yaml": yaml.safe_dump(
            normalised_document(claim), sort_keys=False, allow_unicode=True, width=100
        ),
        "preview": preview,
        "exists": preview.exists,
    }
    return _claim_page(request, session, state, now, form=form, checked=checked)


__all__ = ["router", "writer_token"]
