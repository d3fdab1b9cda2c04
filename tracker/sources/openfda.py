"""openFDA Drugs@FDA: original approvals counted per calendar year.

Params: measure "original_approvals" (the only one), optional start_year (default 2000) and
end_year (default: the fetcher clock's current year), optional submission_class_code (e.g.
"TYPE 1" for new molecular entities) added to the search. One request per year:
`search=submissions.submission_type:"ORIG" AND submissions.submission_status:"AP" AND
submissions.submission_status_date:[Y0101 TO Y1231]&limit=1`, reading `meta.results.total`;
a 404 NOT_FOUND means 0 approvals that year. Optional key (`TRACKER_OPENFDA_API_KEY`).
Caveat: openFDA matches applications, not single submissions, so an application with an old
ORIG approval and a supplement approved in year Y can be counted in Y. The count is an
application-level approximation, not the FDA's "novel drug approvals" table.
"""

from __future__ import annotations

from collections.abc import Iterator

from tracker.sources.base import IndicatorSpec, ParseError, Point, SourceError, SourceResult
from tracker.sources.http import HttpFetcher
from tracker.sources.parsing import load_json, paged, year_range

MEASURES = ("original_approvals",)
DEFAULT_START_YEAR = 2000
ENDPOINT = "/drug/drugsfda.json"


def search_for_year(year: int, submission_class_code: str | None = None) -> str:
    """The openFDA search expression for original approvals dated in `year`.

    `submission_class_code` (e.g. "TYPE 1", new molecular entity) narrows it further.
    """
    search = (
        'submissions.submission_type:"ORIG" AND submissions.submission_status:"AP" AND '
        f"submissions.submission_status_date:[{year}0101 TO {year}1231]"
    )
    if submission_class_code:
        search += f' AND submissions.submission_class_code:"{submission_class_code}"'
    return search


def parse_total(body: bytes, status: int = 200) -> int:
    """`meta.results.total` of a search response; a 404 NOT_FOUND body → 0."""
    data = load_json(body, "openfda")
    if not isinstance(data, dict):
        raise ParseError("openfda: expected a JSON object")
    if status == 404 or "error" in data:
        error = data.get("error")
        if isinstance(error, dict) and error.get("code") == "NOT_FOUND":
            return 0
        raise SourceError(f"openfda error: {error!r:.300}", kind="upstream", http_status=status)
    try:
        total = data["meta"]["results"]["total"]
    except (KeyError, TypeError):
        raise ParseError("openfda: expected field 'meta.results.total' is missing") from None
    if not isinstance(total, int) or isinstance(total, bool) or total < 0:
        raise ParseError(f"openfda: meta.results.total is not a count: {total!r}")
    return total


class OpenFdaSource:
    """openFDA Drugs@FDA approval counts."""

    name = "openfda"
    needs_key = False

    def parse(
        self, body: bytes, spec: IndicatorSpec, *, year: int | None = None, status: int = 200
    ) -> Iterator[Point]:
        """One per-year search response → one point (the body does not name its year: pass it)."""
        if year is None:
            raise ParseError("openfda parse: a per-year response needs its year (year=...)")
        yield Point(period=str(year), value=float(parse_total(body, status)))

    def fetch(self, http: HttpFetcher, spec: IndicatorSpec) -> SourceResult:
        measure = spec.params.get("measure", "original_approvals")
        if measure not in MEASURES:
            raise SourceError(f"openfda: unknown measure {measure!r}", kind="config")
        years = year_range(spec, http.now().year, DEFAULT_START_YEAR)
        class_code = spec.params.get("submission_class_code")
        class_code = str(class_code) if class_code else None
        key = http.settings.api_key(self.name)
        url = f"{http.settings.base_url(self.name)}{ENDPOINT}"
        responses = []
        year_of: dict[int, int] = {}  # id(response) -> the year it counts
        for year in years:
            search = search_for_year(year, class_code)
            query = {"search": search, "limit": 1, "api_key": key}
            response = http.get(url, query, ok_statuses=(404,))
            responses.append(response)
            year_of[id(response)] = year
            try:
                parse_total(response.body, response.status)  # a bad body fails the fetch at once
            except SourceError as exc:
                exc.responses = responses
                raise
        return SourceResult(
            points=paged(
                responses,
                lambda r: self.parse(r.body, spec, year=year_of[id(r)], status=r.status),
                "openfda original approvals",
            ),
            responses=responses,
            meta={"measure": measure},
        )
