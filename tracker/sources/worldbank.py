"""World Bank Indicators API v2: one indicator for one country, following `pages`.

Params: indicator (e.g. SP.POP.TOTL), country (ISO2/ISO3). Null values are skipped (a null
means "no data for that year") and counted in `result.meta["null_values_skipped"]`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tracker.i18n.catalogs import N_
from tracker.sources.base import (
    IndicatorSpec,
    ParseError,
    Point,
    RecordedResponse,
    SourceError,
    SourceResult,
)
from tracker.sources.http import HttpFetcher
from tracker.sources.params import SourceParam
from tracker.sources.parsing import load_json, paged, require_param, to_float

PER_PAGE = 1000
MAX_PAGES = 100


def parse_envelope(body: bytes) -> tuple[dict[str, Any], list[Any]]:
    """The (page info, rows) of a response; the one-element error array → SourceError(upstream)."""
    data = load_json(body, "worldbank")
    if isinstance(data, list) and len(data) == 1 and isinstance(data[0], dict):
        messages = data[0].get("message")
        if isinstance(messages, list):
            text = "; ".join(
                f"{m.get('id', '?')} {m.get('key', '')}: {m.get('value', '')}".strip()
                for m in messages
                if isinstance(m, dict)
            )
            raise SourceError(f"worldbank error: {text or messages!r}", kind="upstream")
        raise ParseError(f"worldbank: unexpected one-element response {data[0]!r:.200}")
    if not (isinstance(data, list) and len(data) == 2 and isinstance(data[0], dict)):
        raise ParseError("worldbank: expected a two-element array [page info, rows]")
    rows = data[1]
    if rows is None:  # an empty result set comes back as [info, null]
        rows = []
    if not isinstance(rows, list):
        raise ParseError("worldbank: the second element is not a list of rows")
    return data[0], rows


def count_nulls(body: bytes) -> int:
    """How many rows of a page have a null value (these are skipped by `parse`)."""
    _, rows = parse_envelope(body)
    return sum(1 for row in rows if isinstance(row, dict) and row.get("value") is None)


def _page_count(raw: Any, responses: list[RecordedResponse]) -> int:
    try:
        return max(1, int(raw or 1))
    except (TypeError, ValueError):
        raise ParseError(f"worldbank: bad 'pages' {raw!r}", responses=responses) from None


class WorldBankSource:
    """World Bank WDI series for one country."""

    name = "worldbank"
    needs_key = False
    series_params = (
        SourceParam(
            "indicator",
            N_("World Bank indicator"),
            N_("a WDI indicator code: letters, digits, dots and underscores"),
            r"[A-Za-z0-9][A-Za-z0-9._]{1,79}",
            "SP.POP.TOTL",
        ),
        SourceParam(
            "country",
            N_("Country"),
            N_("an ISO 3166 alpha-2 or alpha-3 code, or a World Bank aggregate code"),
            r"[A-Za-z0-9]{2,3}",
            "CHN",
        ),
    )

    def parse(self, body: bytes, spec: IndicatorSpec) -> Iterator[Point]:
        """Rows of one page → annual points (null values skipped), oldest first."""
        _, rows = parse_envelope(body)
        points: list[Point] = []
        for index, row in enumerate(rows):
            if not isinstance(row, dict) or "date" not in row or "value" not in row:
                raise ParseError(f"worldbank row {index}: expected an object with date and value")
            value = to_float(row["value"], f"worldbank row {index} ({row.get('date')})")
            if value is None:
                continue
            period = str(row["date"]).strip()
            if not (len(period) == 4 and period.isdigit()):
                raise ParseError(f"worldbank row {index}: unsupported date {period!r}")
            points.append(Point(period=period, value=value))
        # rows arrive newest first; a page is at most PER_PAGE rows, so sorting it is cheap
        yield from sorted(points, key=lambda p: p.period)

    def fetch(self, http: HttpFetcher, spec: IndicatorSpec) -> SourceResult:
        indicator = require_param(spec.params, "indicator", self.name)
        country = require_param(spec.params, "country", self.name)
        url = f"{http.settings.base_url(self.name)}/country/{country}/indicator/{indicator}"
        responses: list[RecordedResponse] = []
        page, pages = 1, 1
        while page <= pages:
            query = {"format": "json", "per_page": PER_PAGE, "page": page}
            response = http.get(url, query)
            responses.append(response)
            try:
                info, _ = parse_envelope(response.body)
            except SourceError as exc:
                exc.responses = responses
                raise
            pages = min(_page_count(info.get("pages"), responses), MAX_PAGES)
            page += 1
        nulls = sum(count_nulls(r.body) for r in responses)
        points = paged(
            responses, lambda r: self.parse(r.body, spec), f"worldbank {country}/{indicator}"
        )
        return SourceResult(points=points, responses=responses, meta={"null_values_skipped": nulls})
