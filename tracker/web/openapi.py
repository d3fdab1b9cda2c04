"""The OpenAPI document's finishing touches and the offline API docs page (/docs).

Models of the web layer carry their own examples (tracker.web.schemas, tracker.web.api_data);
the claim-file and criteria models (tracker.claims, tracker.criteria) are the file format, so
their examples are added here, to the generated document only. Swagger UI is served from
/static/vendor/swagger-ui, never from a CDN, so /docs works offline.
"""

from __future__ import annotations

import copy
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

from tracker.web.schemas import ResolveIn

SWAGGER_ASSETS = "/static/vendor/swagger-ui"

_CHINA_RATIO = {
    "ratio": [
        {"indicator": "owid.electricity_generation.chn"},
        {"indicator": "owid.electricity_generation.usa"},
    ]
}
_THRESHOLD = {
    "key": "generation-ratio-2030",
    "type": "threshold",
    "description": "China's electricity generation in 2030 divided by the US's is at least 3.0.",
    "series": _CHINA_RATIO,
    "comparator": ">=",
    "threshold": 3.0,
    "unit": "1",
    "mode": "at_period",
    "period": "2030",
}
_BASELINE = {"function": "mean", "start": "2014", "end": "2023"}
_AGGREGATE = {
    "key": "novel-approvals-1.5x",
    "type": "aggregate",
    "series": {"indicator": "openfda.novel_drug_approvals"},
    "function": "mean",
    "window": {"start": "2026", "end": "2035"},
    "comparator": ">=",
    "threshold": {"baseline": _BASELINE, "factor": 1.5},
    "unit": "approvals",
}
_GROWTH = {
    "key": "frontier-compute-growth",
    "type": "growth",
    "series": {"indicator": "epoch.max_training_compute"},
    "measure": "annual_factor",
    "comparator": ">=",
    "threshold": 10.0,
    "unit": "x/yr",
}
_JUDGED = {
    "key": "agi-acknowledged",
    "type": "judged",
    "rubric": "Count it as arrived if, by 2026-12-31, a publicly available AI system performs at "
    "or above skilled-human level on most economically valuable cognitive work.",
    "outcomes": {"true": "broadly acknowledged by 2026-12-31", "false": "not by then"},
}
_SIGNAL = {
    "key": "generation-china",
    "type": "signal",
    "role": "context",
    "series": {"indicator": "owid.electricity_generation.chn"},
    "note": "China's annual generation (context).",
}
_CLAIM_FILE = {
    "slug": "china-power-3x-us-2030",
    "title": "By 2030 China's electricity production will be three times the US's",
    "claimant": "elon-musk",
    "reporter": "essay-author",
    "source": "essay-musk-interview-2026",
    "quote": {
        "original": "2030年には中国の電力生産量が米国の3倍になる",
        "language": "ja",
        "en": "By 2030 China's electricity production will be three times that of the US.",
    },
    "stated": {"date": "2026-01-06", "precision": "day"},
    "window": {"start": "2030-01-01", "end": "2030-12-31"},
    "deadline": "2030-12-31",
    "deadline_interpretation": "「2030年には」 read as 'in 2030': the annual value for 2030.",
    "kind": "hard",
    "tags": ["energy", "electricity", "china"],
    "operationalised_by": "tracker",
    "criteria": [_THRESHOLD, _SIGNAL],
    "ja": {
        "title": "2030年には中国の電力生産量が米国の3倍になる",
        "deadline_interpretation": "「2030年には」を「2030年に」と読む。2030年の年間値。",
    },
}

# Examples for component schemas whose models live outside the web layer, by schema name.
EXAMPLES: dict[str, Any] = {
    "ClaimFile": _CLAIM_FILE,
    "tracker__claims__Quote": _CLAIM_FILE["quote"],
    "Stated": {
        "date": "2026-01-06",
        "precision": "day",
        "note": "Date of the interview (Moonshots podcast #220).",
    },
    "DateWindow": {"start": "2030-01-01", "end": "2030-12-31"},
    "Translation": _CLAIM_FILE["ja"],
    "ThresholdCriterion": _THRESHOLD,
    "AggregateCriterion": _AGGREGATE,
    "GrowthCriterion": _GROWTH,
    "JudgedCriterion": _JUDGED,
    "SignalCriterion": _SIGNAL,
    "IndicatorRef": {"indicator": "owid.electricity_generation.chn"},
    "Ratio": _CHINA_RATIO,
    "Difference": {
        "difference": [
            {"indicator": "owid.electricity_generation.chn"},
            {"indicator": "owid.electricity_generation.usa"},
        ]
    },
    "Sum": {
        "sum": [
            {"indicator": "owid.electricity_generation.chn"},
            {"indicator": "owid.electricity_generation.usa"},
        ]
    },
    "Baseline": _BASELINE,
    "RelativeThreshold": {"baseline": _BASELINE, "factor": 1.5},
    "Window": {"start": "2026", "end": "2035"},
}


def add_examples(schemas: dict[str, Any]) -> None:
    """Give each component schema named in EXAMPLES that has no example of its own one."""
    for name, example in EXAMPLES.items():
        schema = schemas.get(name)
        if schema is not None and "examples" not in schema and "example" not in schema:
            schema["examples"] = [copy.deepcopy(example)]
    for schema in schemas.values():  # enums of query filters (State, Trend, ...): a value
        if schema.get("enum") and "examples" not in schema and "example" not in schema:
            schema["examples"] = [schema["enum"][0]]


# GET operations answered by tracker.web.caching.conditional_response: their response headers
# (ETag and Cache-Control always; Last-Modified and Link where set) and the 304.
_WITH_LAST_MODIFIED = ("ETag", "Last-Modified", "Cache-Control")
CACHED_GETS: dict[str, tuple[str, ...]] = {
    "/api/v1/claims": (*_WITH_LAST_MODIFIED, "Link"),
    "/api/v1/claims/{slug}": _WITH_LAST_MODIFIED,
    "/api/v1/claims/{slug}/history": _WITH_LAST_MODIFIED,
    "/api/v1/claims/{slug}/revisions": _WITH_LAST_MODIFIED,
    "/api/v1/claims/{slug}/resolutions": _WITH_LAST_MODIFIED,
    "/api/v1/claims/{slug}/document": _WITH_LAST_MODIFIED,
    "/api/v1/deadlines": _WITH_LAST_MODIFIED,
    # no Last-Modified: a claimant's own row keeps no time of change (a rename would be missed)
    "/api/v1/claimants/{slug}": ("ETag", "Cache-Control"),
    "/api/v1/indicators": _WITH_LAST_MODIFIED,
    "/api/v1/export.csv": _WITH_LAST_MODIFIED,
    "/api/v1/export.json": _WITH_LAST_MODIFIED,
    "/api/v1/calendar.ics": _WITH_LAST_MODIFIED,
    "/api/v1/feed.atom": _WITH_LAST_MODIFIED,
}
RESPONSE_HEADERS: dict[str, dict[str, Any]] = {
    "ETag": {
        "description": "Validator of this representation; send it back as If-None-Match.",
        "schema": {"type": "string", "example": '"3f2a9c0d51e84b7a9d2c6e1f0a4b8c7d"'},
    },
    "Last-Modified": {
        "description": (
            "When this representation last changed: for claims, a claim's update, its latest "
            "status evaluation or status change, or its latest verdict (the newest over a "
            "list); for a claim's history, revisions or verdicts, the newest entry; for "
            "views as of today (deadlines, the calendar's overdue releases), at least the "
            "start of today; for indicators, the newest fetch, error or catalogue change, or "
            "the moment one turned stale. Send it back as If-Modified-Since."
        ),
        "schema": {"type": "string", "example": "Tue, 10 Nov 2026 03:00:02 GMT"},
    },
    "Cache-Control": {
        "description": "`no-cache`: store it, but revalidate (cheap with the validators).",
        "schema": {"type": "string", "example": "no-cache"},
    },
    "Link": {
        "description": 'The next page, `<URL>; rel="next"` (absent on the last page).',
        "schema": {
            "type": "string",
            "example": '<https://tracker.example/api/v1/claims?cursor=ZGVhZGxpbmU>; rel="next"',
        },
    },
}
NOT_MODIFIED: dict[str, Any] = {
    "description": (
        "Not Modified: the client's copy is current (If-None-Match matches the ETag, or, "
        "without If-None-Match, nothing changed since If-Modified-Since). No body; the same "
        "validators as the 200."
    ),
}


def document_conditional_gets(paths: dict[str, Any]) -> None:
    """Add the 304 and the validator/Link response headers to each cached GET operation."""
    for path, names in CACHED_GETS.items():
        operation = paths.get(path, {}).get("get")
        if operation is None:
            continue
        headers = {name: copy.deepcopy(RESPONSE_HEADERS[name]) for name in names}
        operation["responses"].setdefault("200", {"description": "OK"})["headers"] = headers
        validators = {n: h for n, h in headers.items() if n != "Link"}
        operation["responses"]["304"] = {**NOT_MODIFIED, "headers": validators}


def install_openapi(app: FastAPI) -> None:
    """Build the OpenAPI document once, with the examples above, and serve /docs offline."""

    generate = app.openapi  # FastAPI's own: builds the document once and keeps it

    def openapi() -> dict[str, Any]:
        first = app.openapi_schema is None
        document = generate()
        if first:
            components = document.setdefault("components", {}).setdefault("schemas", {})
            # bodies taken as raw JSON (validated in the endpoint, every problem at once)
            # name their model by $ref; the model's schema is added here
            components.setdefault(
                "ResolveIn",
                ResolveIn.model_json_schema(ref_template="#/components/schemas/{model}"),
            )
            add_examples(components)
            document_conditional_gets(document.get("paths", {}))
        return document

    app.openapi = openapi  # type: ignore[method-assign]

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} API",
            swagger_js_url=f"{SWAGGER_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{SWAGGER_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{SWAGGER_ASSETS}/favicon-32x32.png",
            # no validator badge: it would load an image from validator.swagger.io
            swagger_ui_parameters={"validatorUrl": None},
        )
