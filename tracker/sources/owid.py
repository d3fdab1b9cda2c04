"""Our World in Data grapher chart API: `{chart}.csv` (one column, one entity) plus
`{chart}.metadata.json` for the column's lastUpdated / nextUpdate dates.

Params: chart (slug), column (short column name), entity_code (ISO3 or OWID_WRL).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from tracker.i18n.catalogs import N_
from tracker.sources.base import IndicatorSpec, ParseError, Point, SourceError, SourceResult
from tracker.sources.http import HttpFetcher
from tracker.sources.params import SourceParam
from tracker.sources.parsing import (
    column_index,
    csv_rows,
    load_json,
    paged,
    require_param,
    to_float,
)

QUERY = {"v": "1", "csvType": "filtered", "useColumnShortNames": "true"}


def _date(raw: Any) -> dt.date | None:
    if not isinstance(raw, str) or not raw.strip():
        return None
    try:
        return dt.date.fromisoformat(raw.strip()[:10])
    except ValueError:
        return None


def parse_metadata(body: bytes, column: str) -> dict[str, Any]:
    """`last_updated` / `next_update` (dates or None) and the column's unit/title, if present.

    A column absent from the metadata is not an error (the dates are then None).
    `descriptionKey` may be a list or a markdown string; it is returned as a list of lines.
    """
    data = load_json(body, "owid metadata")
    if not isinstance(data, dict):
        raise ParseError("owid metadata: expected a JSON object")
    columns = data.get("columns")
    info = columns.get(column) if isinstance(columns, dict) else None
    if not isinstance(info, dict):
        return {"last_updated": None, "next_update": None}
    key = info.get("descriptionKey")
    if isinstance(key, str):
        description_key = [line.strip(" -*\t") for line in key.splitlines() if line.strip()]
    elif isinstance(key, list):
        description_key = [str(item) for item in key]
    else:
        description_key = []
    return {
        "last_updated": _date(info.get("lastUpdated")),
        "next_update": _date(info.get("nextUpdate")),
        "unit": info.get("unit"),
        "title": info.get("titleShort") or info.get("titleLong"),
        "description_key": description_key,
    }


class OwidSource:
    """OWID grapher CSV for one (chart, column, entity)."""

    name = "owid"
    series_params = (
        SourceParam(
            "chart",
            N_("Grapher chart"),
            N_("the chart's slug, as in ourworldindata.org/grapher/<slug>"),
            r"[a-z0-9][a-z0-9-]{0,199}",
            "electricity-generation",
        ),
        SourceParam(
            "column",
            N_("Column"),
            N_("the short column name in the chart's CSV"),
            r"[A-Za-z0-9_]{1,200}",
            "total_generation__twh",
        ),
        SourceParam(
            "entity_code",
            N_("Entity code"),
            N_("the entity's code in the CSV: ISO 3166 alpha-3 or an OWID_ code"),
            r"[A-Z]{3}|OWID_[A-Z0-9_]{1,20}",
            "CHN",
        ),
    )
    needs_key = False

    def parse(self, body: bytes, spec: IndicatorSpec) -> Iterator[Point]:
        """Rows of `entity_code` → points; `Year` → "2025", `Day` → "2025-03-01"."""
        column = require_param(spec.params, "column", self.name)
        entity_code = require_param(spec.params, "entity_code", self.name)
        rows = csv_rows(body)
        header = next(rows, None)
        if header is None:
            return
        header = [h.strip() for h in header]
        code_at = column_index(header, "Code", "owid csv")
        if "Year" in header:
            time_at = header.index("Year")
        elif "Day" in header:
            time_at = header.index("Day")
        else:
            raise ParseError(
                f"owid csv: expected column 'Year' or 'Day' is missing (schema drift); "
                f"header has {header!r}"
            )
        value_at = column_index(header, column, "owid csv")
        width = len(header)
        for line_no, row in enumerate(rows, start=2):
            if not row:
                continue
            if len(row) != width:
                raise ParseError(f"owid csv line {line_no}: {len(row)} fields, expected {width}")
            if row[code_at] != entity_code:
                continue
            value = to_float(row[value_at], f"owid csv line {line_no} column {column!r}")
            if value is None:
                continue
            period = row[time_at].strip()
            _check_period(period, line_no)
            yield Point(period=period, value=value)

    def fetch(self, http: HttpFetcher, spec: IndicatorSpec) -> SourceResult:
        chart = require_param(spec.params, "chart", self.name)
        column = require_param(spec.params, "column", self.name)
        entity_code = require_param(spec.params, "entity_code", self.name)
        base = http.settings.base_url(self.name)
        query = {**QUERY, "country": entity_code}
        data = http.get(f"{base}/{chart}.csv", query)
        responses = [data]
        meta: dict[str, Any] = {}
        try:
            meta_response = http.get(f"{base}/{chart}.metadata.json", query)
            responses.append(meta_response)
            info = parse_metadata(meta_response.body, column)
            meta["last_updated"] = info["last_updated"]
            meta["next_update"] = info["next_update"]
        except SourceError as exc:  # metadata only schedules refreshes; the data still counts
            responses.extend(r for r in exc.responses if r not in responses)
            meta["metadata_error"] = f"{exc.kind}: {exc}"
        points = paged(
            [data],
            lambda r: self.parse(r.body, spec),
            f"owid {chart}/{column}",
            all_responses=responses,
        )
        return SourceResult(points=points, responses=responses, meta=meta)


def _check_period(period: str, line_no: int) -> None:
    try:
        if len(period) == 4:
            int(period)
        else:
            dt.date.fromisoformat(period)
    except ValueError:
        raise ParseError(f"owid csv line {line_no}: bad Year/Day {period!r}") from None
