"""FRED / ALFRED series observations (JSON). Values are strings and "." means missing.

Params: series_id; optional FRED request parameters passed as-is (frequency, aggregation_method,
units, observation_start, observation_end); optional vintages (true → every vintage, realtime
1776-07-04..9999-12-31; each point then carries `known_from` = its realtime_start).
Needs a key (`TRACKER_FRED_API_KEY`).
The period follows the indicator's frequency: annual "2023", quarterly "2023-Q1", monthly
"2023-01", weekly the ISO week holding the observation date ("2026-W29"), else the date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from tracker.i18n.catalogs import N_
from tracker.periods import FREQUENCY_KIND, period_of
from tracker.sources.base import IndicatorSpec, ParseError, Point, SourceError, SourceResult
from tracker.sources.http import HttpFetcher
from tracker.sources.params import SourceParam
from tracker.sources.parsing import load_json, paged, require_param, to_float

ALL_VINTAGES = {"realtime_start": "1776-07-04", "realtime_end": "9999-12-31"}
PAGE_LIMIT = 100000  # FRED's maximum
# FRED request parameters an indicator may set as-is (e.g. frequency=m, aggregation_method=avg).
PASS_THROUGH = (
    "frequency",
    "aggregation_method",
    "units",
    "observation_start",
    "observation_end",
)
MAX_PAGES = 50


def _page_counts(body: bytes) -> tuple[int, int]:
    """(count, observations on this page) of a response; (0, 0) when it is not a valid page."""
    try:
        data = load_json(body, "fred")
    except ParseError:
        return 0, 0
    if not isinstance(data, dict) or not isinstance(data.get("observations"), list):
        return 0, 0
    count = data.get("count")
    return (count if isinstance(count, int) else 0), len(data["observations"])


def period_for(date: str, frequency: str) -> str:
    """An observation date ("2023-01-01") as a period string for the indicator's frequency:
    annual "2023", quarterly "2023-Q1", monthly "2023-01", weekly the ISO week holding the date
    ("2026-07-17", a week ending Friday, → "2026-W29"), else the date itself."""
    if frequency == "annual":
        return date[:4]
    if frequency == "monthly":
        return date[:7]
    if frequency in ("quarterly", "weekly"):
        kind = FREQUENCY_KIND[frequency]
        try:
            return period_of(dt.date.fromisoformat(date[:10]), kind)
        except ValueError as exc:
            raise ParseError(f"fred: not a date: {date!r}") from exc
    return date


def _truthy(value: object) -> bool:
    return value is True or str(value).strip().lower() in ("1", "true", "yes")


class FredSource:
    """FRED series; with `vintages: true`, every ALFRED vintage as its own point."""

    name = "fred"
    series_params = (
        SourceParam(
            "series_id",
            N_("FRED series"),
            N_("the series id, as in fred.stlouisfed.org/series/<id>"),
            r"[A-Za-z0-9_]{1,40}",
            "PCOPPUSDM",
        ),
        SourceParam(
            "frequency",
            N_("Frequency (optional)"),
            N_("a FRED frequency code to aggregate to: d, w, bw, m, q, sa or a"),
            r"d|w|bw|m|q|sa|a",
            "m",
            required=False,
        ),
        SourceParam(
            "aggregation_method",
            N_("Aggregation (optional)"),
            N_("avg, sum or eop"),
            r"avg|sum|eop",
            "avg",
            required=False,
        ),
    )
    needs_key = True

    def parse(self, body: bytes, spec: IndicatorSpec) -> Iterator[Point]:
        """`observations` → points ("." → value None); vintages carry known_from."""
        data = load_json(body, "fred")
        if not isinstance(data, dict):
            raise ParseError("fred: expected a JSON object")
        if "error_message" in data:
            raise SourceError(f"fred error: {data['error_message']}", kind="upstream")
        observations = data.get("observations")
        if not isinstance(observations, list):
            raise ParseError("fred: expected field 'observations' is missing")
        vintages = _truthy(spec.params.get("vintages", False))
        for index, obs in enumerate(observations):
            if not isinstance(obs, dict) or "date" not in obs or "value" not in obs:
                raise ParseError(f"fred observation {index}: expected date and value")
            date = str(obs["date"])
            try:
                dt.date.fromisoformat(date)
            except ValueError:
                raise ParseError(f"fred observation {index}: bad date {date!r}") from None
            value = to_float(obs["value"], f"fred observation {index} ({date})")
            known_from = None
            if vintages:
                try:
                    known_from = dt.date.fromisoformat(str(obs.get("realtime_start")))
                except ValueError:
                    start = obs.get("realtime_start")
                    raise ParseError(
                        f"fred observation {index}: bad realtime_start {start!r}"
                    ) from None
            yield Point(period=period_for(date, spec.frequency), value=value, known_from=known_from)

    def fetch(self, http: HttpFetcher, spec: IndicatorSpec) -> SourceResult:
        key = http.settings.api_key(self.name)
        if not key:
            raise SourceError("fred needs an API key: set TRACKER_FRED_API_KEY", kind="config")
        series_id = require_param(spec.params, "series_id", self.name)
        query: dict[str, str] = {"series_id": series_id, "file_type": "json", "api_key": key}
        for name in PASS_THROUGH:
            if spec.params.get(name) is not None:
                query[name] = str(spec.params[name])
        if _truthy(spec.params.get("vintages", False)):
            query.update(ALL_VINTAGES)
        url = f"{http.settings.base_url(self.name)}/series/observations"
        responses = []
        offset = 0
        for _ in range(MAX_PAGES):
            response = http.get(url, {**query, "offset": str(offset), "limit": str(PAGE_LIMIT)})
            responses.append(response)
            count, returned = _page_counts(response.body)
            offset += returned
            if returned == 0 or offset >= count:
                break
        points = paged(responses, lambda r: self.parse(r.body, spec), f"fred {series_id}")
        return SourceResult(points=points, responses=responses)
