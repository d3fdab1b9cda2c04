"""ClinicalTrials.gov API v2: interventional trials started per calendar year (counts), plus
`iter_studies`, a nextPageToken pager for study listings.

Params: measure "interventional_trials_started"; years as `years: [..]` or
start_year (default 2010) / end_year (default: the fetcher clock's year). One request per year
with `countTotal=true&pageSize=1`, reading `totalCount`, one second apart (robots.txt crawl delay).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from tracker.sources.base import (
    IndicatorSpec,
    ParseError,
    Point,
    RecordedResponse,
    SourceError,
    SourceResult,
)
from tracker.sources.http import HttpFetcher
from tracker.sources.parsing import load_json, paged, year_range

MEASURES = ("interventional_trials_started",)
DEFAULT_START_YEAR = 2010
MAX_PAGES = 10_000
CRAWL_DELAY_SECONDS = 1.0  # robots.txt asks for one request per second


def query_term(year: int) -> str:
    """Essie expression: interventional studies whose start date falls in `year`."""
    return f"AREA[StartDate]RANGE[{year}-01-01,{year}-12-31] AND AREA[StudyType]INTERVENTIONAL"


def parse_total_count(body: bytes) -> int:
    """`totalCount` of a search response (present only with countTotal=true)."""
    data = load_json(body, "clinicaltrials")
    if not isinstance(data, dict):
        raise ParseError("clinicaltrials: expected a JSON object")
    total = data.get("totalCount")
    if not isinstance(total, int) or isinstance(total, bool) or total < 0:
        raise ParseError("clinicaltrials: expected field 'totalCount' is missing or not a count")
    return total


def parse_page(body: bytes) -> tuple[list[dict[str, Any]], str | None]:
    """(studies, nextPageToken or None) of one page."""
    data = load_json(body, "clinicaltrials")
    if not isinstance(data, dict) or not isinstance(data.get("studies"), list):
        raise ParseError("clinicaltrials: expected an object with a 'studies' list")
    token = data.get("nextPageToken")
    if token is not None and not isinstance(token, str):
        raise ParseError("clinicaltrials: nextPageToken is not a string")
    return [s for s in data["studies"] if isinstance(s, dict)], token or None


def iter_studies(
    http: HttpFetcher,
    params: Mapping[str, Any],
    *,
    responses: list[RecordedResponse] | None = None,
    max_pages: int = MAX_PAGES,
) -> Iterator[dict[str, Any]]:
    """Every study matching `params` (query.*, filter.*, fields, pageSize), page by page.

    Each page's RecordedResponse is appended to `responses` (when given) as it is fetched.
    """
    url = f"{http.settings.base_url('clinicaltrials')}/studies"
    seen = responses if responses is not None else []
    token: str | None = None
    for page in range(max_pages):
        if page:
            http.pause(CRAWL_DELAY_SECONDS)
        query = {**params, "format": "json", "pageToken": token}
        response = http.get(url, query)
        seen.append(response)
        try:
            studies, token = parse_page(response.body)
        except SourceError as exc:
            exc.responses = list(seen)
            raise
        yield from studies
        if token is None:
            return
    raise SourceError(
        f"clinicaltrials: more than {max_pages} pages", kind="parse", responses=list(seen)
    )


class ClinicalTrialsSource:
    """ClinicalTrials.gov yearly counts of interventional trials by start date."""

    name = "clinicaltrials"
    needs_key = False

    def parse(
        self, body: bytes, spec: IndicatorSpec, *, year: int | None = None
    ) -> Iterator[Point]:
        """One per-year count response → one point (the body does not name its year: pass it)."""
        if year is None:
            raise ParseError("clinicaltrials parse: a per-year response needs its year (year=...)")
        yield Point(period=str(year), value=float(parse_total_count(body)))

    def fetch(self, http: HttpFetcher, spec: IndicatorSpec) -> SourceResult:
        measure = spec.params.get("measure", "interventional_trials_started")
        if measure not in MEASURES:
            raise SourceError(f"clinicaltrials: unknown measure {measure!r}", kind="config")
        years = year_range(spec, http.now().year, DEFAULT_START_YEAR)
        url = f"{http.settings.base_url(self.name)}/studies"
        responses: list[RecordedResponse] = []
        year_of: dict[int, int] = {}  # id(response) -> the year it counts
        for index, year in enumerate(years):
            if index:
                http.pause(CRAWL_DELAY_SECONDS)
            query = {
                "query.term": query_term(year),
                "countTotal": "true",
                "pageSize": 1,
                "format": "json",
            }
            response = http.get(url, query)
            responses.append(response)
            year_of[id(response)] = year
            try:
                parse_total_count(response.body)  # a malformed body fails the fetch at once
            except SourceError as exc:
                exc.responses = responses
                raise
        return SourceResult(
            points=paged(
                responses,
                lambda r: self.parse(r.body, spec, year=year_of[id(r)]),
                "clinicaltrials counts",
            ),
            responses=responses,
            meta={"measure": measure},
        )
