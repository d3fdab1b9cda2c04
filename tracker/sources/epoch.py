"""Epoch AI notable-models CSV: frontier training compute per year, overall or by country.

Params: measure = max_training_compute | max_training_compute_country | count_above;
country (an Epoch spelling such as "United States of America" or "China", or an alias such as
USA/US/CHN/UK); threshold_flop (count_above; default 1e25); file (default
notable_ai_models.csv). A model counts for a country when the country appears in its
comma-separated "Country (of organization)" field. Rows without compute are ignored.
The CSV is streamed row by row (it has quoted newlines); only per-year totals are kept.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from tracker.sources.base import IndicatorSpec, ParseError, Point, SourceError, SourceResult
from tracker.sources.http import HttpFetcher
from tracker.sources.parsing import column_index, csv_rows, paged, to_float

DEFAULT_FILE = "notable_ai_models.csv"
DATE = "Publication date"
COMPUTE = "Training compute (FLOP)"
COUNTRY = "Country (of organization)"
MEASURES = ("max_training_compute", "max_training_compute_country", "count_above")
DEFAULT_THRESHOLD_FLOP = 1e25
COUNTRY_ALIASES = {
    "usa": "United States of America",
    "us": "United States of America",
    "united states": "United States of America",
    "chn": "China",
    "prc": "China",
    "gbr": "United Kingdom of Great Britain and Northern Ireland",
    "uk": "United Kingdom of Great Britain and Northern Ireland",
    "united kingdom": "United Kingdom of Great Britain and Northern Ireland",
}


def canonical_country(name: str) -> str:
    """Epoch's spelling of a country name or alias ("USA" → "United States of America")."""
    cleaned = name.strip()
    return COUNTRY_ALIASES.get(cleaned.lower(), cleaned)


def _measure(spec: IndicatorSpec) -> tuple[str, str | None, float]:
    measure = str(spec.params.get("measure") or "max_training_compute")
    if measure not in MEASURES:
        raise SourceError(f"epoch: unknown measure {measure!r}", kind="config")
    raw_country = spec.params.get("country")
    country = canonical_country(str(raw_country)) if raw_country else None
    if measure == "max_training_compute_country" and country is None:
        raise SourceError("epoch: max_training_compute_country needs params.country", kind="config")
    try:
        threshold = float(spec.params.get("threshold_flop", DEFAULT_THRESHOLD_FLOP))
    except (TypeError, ValueError):
        raise SourceError("epoch: threshold_flop must be a number", kind="config") from None
    return measure, country, threshold


class EpochSource:
    """Epoch AI models CSV, aggregated per publication year."""

    name = "epoch"
    needs_key = False

    def parse(self, body: bytes, spec: IndicatorSpec) -> Iterator[Point]:
        """Yearly max compute (FLOP) or yearly count of models at/above the threshold."""
        measure, country, threshold = _measure(spec)
        rows = csv_rows(body)
        header = next(rows, None)
        if header is None:
            return
        header = [h.strip() for h in header]
        date_at = column_index(header, DATE, "epoch csv")
        compute_at = column_index(header, COMPUTE, "epoch csv")
        country_at = column_index(header, COUNTRY, "epoch csv") if country else None
        width = len(header)
        maxima: dict[str, float] = {}
        counts: dict[str, int] = {}
        for row_no, row in enumerate(rows, start=2):
            if not row:
                continue
            if len(row) != width:
                raise ParseError(f"epoch csv record {row_no}: {len(row)} fields, expected {width}")
            year = _year(row[date_at], row_no)
            if year is None:
                continue
            counts.setdefault(year, 0)
            compute = to_float(row[compute_at], f"epoch csv record {row_no} {COMPUTE!r}")
            if compute is None:
                continue
            if country_at is not None:
                countries = {c.strip() for c in row[country_at].split(",")}
                if country not in countries:
                    continue
            if compute >= threshold:
                counts[year] += 1
            if compute > maxima.get(year, -1.0):
                maxima[year] = compute
        if measure == "count_above":
            for year in sorted(counts):
                yield Point(period=year, value=float(counts[year]))
        else:
            for year in sorted(maxima):
                yield Point(period=year, value=maxima[year])

    def fetch(self, http: HttpFetcher, spec: IndicatorSpec) -> SourceResult:
        measure, country, _ = _measure(spec)
        file = str(spec.params.get("file") or DEFAULT_FILE)
        response = http.get(f"{http.settings.base_url(self.name)}/{file}")
        responses = [response]
        what = f"epoch {measure}" + (f" ({country})" if country else "")
        points = paged(responses, lambda r: self.parse(r.body, spec), what)
        return SourceResult(points=points, responses=responses, meta={"measure": measure})


def _year(raw: str, row_no: int) -> str | None:
    text = raw.strip()
    if not text:
        return None
    try:
        if len(text) == 4:
            return str(int(text))
        return str(dt.date.fromisoformat(text[:10]).year)
    except ValueError:
        raise ParseError(f"epoch csv record {row_no}: bad {DATE!r} {raw!r}") from None
