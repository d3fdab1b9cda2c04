"""Manifold Markets v0: a market's current probability, kept as a context signal.

Params: market_id (→ GET /market/{id}/prob, `{"prob": p}`) or slug (→ GET /slug/{slug},
`probability`); optional answer_id for multiple-choice markets (`answerProbs`). A fetch yields
one point whose period is the UTC date of the fetch, taken from the fetcher's clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from tracker.sources.base import IndicatorSpec, ParseError, Point, SourceError, SourceResult
from tracker.sources.http import HttpFetcher
from tracker.sources.parsing import load_json, paged, to_float


def parse_probability(body: bytes, answer_id: str | None = None) -> float:
    """The probability in a /prob (`prob` or `answerProbs`) or /slug (`probability`) response."""
    data = load_json(body, "manifold")
    if not isinstance(data, dict):
        raise ParseError("manifold: expected a JSON object")
    raw: Any
    if answer_id is not None:
        answers = data.get("answerProbs")
        if isinstance(answers, dict) and answer_id in answers:
            raw = answers[answer_id]
        else:
            found = [
                a.get("probability")
                for a in data.get("answers") or []
                if isinstance(a, dict) and a.get("id") == answer_id
            ]
            if not found:
                raise ParseError(f"manifold: answer {answer_id!r} not in the response")
            raw = found[0]
    elif "prob" in data:
        raw = data["prob"]
    elif "probability" in data:
        raw = data["probability"]
    elif "answerProbs" in data:
        raise ParseError("manifold: multiple-choice market; set params.answer_id")
    else:
        raise ParseError("manifold: expected field 'prob' or 'probability' is missing")
    value = to_float(raw, "manifold probability")
    if value is None or not 0.0 <= value <= 1.0:
        raise ParseError(f"manifold: probability out of [0, 1]: {raw!r}")
    return value


class ManifoldSource:
    """Manifold market probability, one point per fetch day."""

    name = "manifold"
    needs_key = False

    def parse(
        self, body: bytes, spec: IndicatorSpec, *, fetched_on: dt.date | None = None
    ) -> Iterator[Point]:
        """The probability as a point dated `fetched_on` (the fetch's UTC date; required)."""
        if fetched_on is None:
            raise ParseError("manifold parse: the point's date is the fetch date (fetched_on=...)")
        answer = spec.params.get("answer_id")
        value = parse_probability(body, str(answer) if answer is not None else None)
        yield Point(period=fetched_on.isoformat(), value=value)

    def fetch(self, http: HttpFetcher, spec: IndicatorSpec) -> SourceResult:
        base = http.settings.base_url(self.name)
        market_id = spec.params.get("market_id")
        slug = spec.params.get("slug")
        if market_id:
            url = f"{base}/market/{market_id}/prob"
        elif slug:
            url = f"{base}/slug/{slug}"
        else:
            raise SourceError("manifold: indicator needs params.market_id or slug", kind="config")
        fetched_on = http.now().date()
        response = http.get(url)
        responses = [response]
        points = paged(
            responses, lambda r: self.parse(r.body, spec, fetched_on=fetched_on), f"manifold {url}"
        )
        return SourceResult(points=points, responses=responses, meta={"fetched_on": fetched_on})
