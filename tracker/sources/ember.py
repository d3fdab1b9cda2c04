"""Ember electricity API v1 (yearly), e.g. total generation of one country in TWh.

Params: entity_code (ISO3), dataset (default electricity-generation), series (default "Total":
the sum of the fuel series per year; a named series such as "Solar", or an aggregate such as
"Clean" / "Fossil", is read directly), field (value column; default by dataset).
Needs a key (`TRACKER_EMBER_API_KEY`). Ember echoes the key back in
`stats.query_parameters_used.api_key`; the fetcher scrubs it from the stored body and URL.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tracker.i18n.catalogs import N_
from tracker.sources.base import IndicatorSpec, ParseError, Point, SourceError, SourceResult
from tracker.sources.http import HttpFetcher
from tracker.sources.params import SourceParam
from tracker.sources.parsing import load_json, paged, require_param, to_float

DEFAULT_DATASET = "electricity-generation"
TOTAL = "Total"
VALUE_FIELDS = {
    "electricity-generation": "generation_twh",
    "electricity-demand": "demand_twh",
    "carbon-intensity": "emissions_intensity_gco2_per_kwh",
}
# Aggregate series of the generation dataset (is_aggregate_series=true).
AGGREGATE_SERIES = frozenset(
    {"clean", "fossil", "renewables", "wind and solar", "hydro, bioenergy and other renewables"}
)
# Rows that are not generation by a fuel and must not enter the "Total" sum.
NOT_GENERATION = frozenset({"demand", "net imports", "total generation", "total"})
START_YEAR = 2000


def _params(spec: IndicatorSpec) -> tuple[str, str, str]:
    dataset = str(spec.params.get("dataset") or DEFAULT_DATASET)
    series = str(spec.params.get("series") or TOTAL)
    field = str(spec.params.get("field") or VALUE_FIELDS.get(dataset, "generation_twh"))
    return dataset, series, field


def _year(raw: Any, index: int) -> str:
    text = str(raw or "").strip()
    year = text[:4]
    if not (len(year) == 4 and year.isdigit()):
        raise ParseError(f"ember row {index}: unsupported date {raw!r}")
    return year


class EmberSource:
    """Ember yearly series for one entity."""

    name = "ember"
    series_params = (
        SourceParam(
            "entity_code",
            N_("Entity code"),
            N_("an ISO 3166 alpha-3 code"),
            r"[A-Z]{3}",
            "CHN",
        ),
        SourceParam(
            "series",
            N_("Series (optional)"),
            N_('a fuel series or aggregate, e.g. Solar, Clean, Fossil (default: "Total")'),
            r"[A-Za-z][A-Za-z ]{0,39}",
            "Solar",
            required=False,
        ),
    )
    needs_key = True

    def parse(self, body: bytes, spec: IndicatorSpec) -> Iterator[Point]:
        """`data` rows → yearly points for the requested series (or the fuel sum for "Total")."""
        _, series, field = _params(spec)
        entity_code = spec.params.get("entity_code")
        data = load_json(body, "ember")
        if not isinstance(data, dict) or not isinstance(data.get("data"), list):
            raise ParseError("ember: expected an object with a 'data' list")
        wanted = series.lower()
        direct: dict[str, float] = {}
        sums: dict[str, float] = {}
        for index, row in enumerate(data["data"]):
            if not isinstance(row, dict):
                raise ParseError(f"ember row {index}: expected an object")
            if entity_code and row.get("entity_code") not in (None, entity_code):
                continue
            if "series" not in row or field not in row:
                missing = "series" if "series" not in row else field
                raise ParseError(f"ember row {index}: expected field {missing!r} is missing")
            name = str(row["series"]).strip().lower()
            value = to_float(row[field], f"ember row {index} field {field!r}")
            if value is None:
                continue
            year = _year(row.get("date"), index)
            if name == wanted or (wanted == "total" and name == "total generation"):
                direct[year] = value
            elif (
                wanted == "total"
                and not row.get("is_aggregate_series")
                and name not in NOT_GENERATION
            ):
                sums[year] = sums.get(year, 0.0) + value
        values = direct or sums
        for year in sorted(values):
            yield Point(period=year, value=round(values[year], 6))

    def fetch(self, http: HttpFetcher, spec: IndicatorSpec) -> SourceResult:
        key = http.settings.api_key(self.name)
        if not key:
            raise SourceError("ember needs an API key: set TRACKER_EMBER_API_KEY", kind="config")
        entity_code = require_param(spec.params, "entity_code", self.name)
        dataset, series, _ = _params(spec)
        aggregate = series.lower() in AGGREGATE_SERIES
        query = {
            "entity_code": entity_code,
            "is_aggregate_series": aggregate,
            "start_date": spec.params.get("start_date", START_YEAR),
            "api_key": key,
        }
        response = http.get(f"{http.settings.base_url(self.name)}/{dataset}/yearly", query)
        responses = [response]
        points = paged(
            responses, lambda r: self.parse(r.body, spec), f"ember {entity_code}/{series}"
        )
        return SourceResult(points=points, responses=responses)
