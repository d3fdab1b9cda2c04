"""Chart data for the claim page: a criterion's series against its threshold, over time.

Builds plain data (points, threshold, projection band, deadline, superseded vintages) and the
Chart.js configuration the browser draws from; the same data feeds the table fallback.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session

from tracker.criteria import (
    AggregateCriterion,
    Difference,
    GrowthCriterion,
    IndicatorRef,
    Ratio,
    RelativeThreshold,
    SeriesExpr,
    SignalCriterion,
    ThresholdCriterion,
    UnitError,
    expression_indicators,
    expression_unit,
)

# decimal_year (a date as a fractional year) is the chart's x axis, as it is the evaluator's
from tracker.evaluation import TREND_YEARS, decimal_year
from tracker.i18n import format_date
from tracker.i18n.catalogs import _
from tracker.models import Evaluation, Indicator
from tracker.observations import ObservedValue, all_vintages
from tracker.sources.base import period_start
from tracker.web.wording import COMPARATOR_SYMBOLS, describe_expression, format_number

CURRENT_COLOUR = "#1f5fa8"
SUPERSEDED_COLOUR = "rgba(31, 95, 168, 0.28)"
THRESHOLD_COLOUR = "#b3261e"
PROJECTION_COLOUR = "rgba(230, 145, 30, 0.9)"
PROJECTION_FILL = "rgba(230, 145, 30, 0.18)"
DEADLINE_COLOUR = "#555555"

# A log y axis once the plotted values span more than this factor (three orders of magnitude):
# training compute from 1e15 to 5e26 FLOP is a flat line and one spike on a linear axis.
LOG_SCALE_SPAN = 1e3
# The x axis starts here (or at the earliest period a criterion names, if earlier): older
# points stay in the data table but would squeeze the years that matter into a sliver.
CHART_START_YEAR = 2000.0


@dataclass(frozen=True, slots=True)
class ChartPoint:
    period: str
    x: float
    y: float
    current: bool
    known_from: dt.datetime
    known_until: dt.datetime | None
    fetch_run_ids: tuple[int, ...]


@dataclass(slots=True)
class ClaimChart:
    """Everything one chart shows; `config()` renders it for Chart.js."""

    key: str
    title: str
    unit: str
    points: list[ChartPoint]
    threshold: float | None = None
    comparator: str | None = None
    deadline: dt.date | None = None
    projection: dict[str, Any] | None = None
    note: str | None = None
    indicator_keys: list[str] = field(default_factory=list)
    x_start: float | None = None
    # a growth claim's threshold as a level: the path the series must follow, [(x, y), ...]
    required_path: list[tuple[float, float]] | None = None
    required_label: str | None = None

    @property
    def current_points(self) -> list[ChartPoint]:
        return [p for p in self.points if p.current]

    @property
    def superseded_points(self) -> list[ChartPoint]:
        return [p for p in self.points if not p.current]

    @property
    def first_shown_x(self) -> float | None:
        """Where the x axis starts: `x_start`, or the first point if that is later."""
        if self.x_start is None or not self.points:
            return None
        first = min(p.x for p in self.points)
        return max(first, self.x_start)

    @property
    def hidden_before(self) -> int | None:
        """The year before which points are left to the table (None: every point is drawn)."""
        start = self.first_shown_x
        if start is None or not any(p.x < start for p in self.points):
            return None
        return math.floor(start)

    def _shown(self, points: Iterable[ChartPoint]) -> list[ChartPoint]:
        start = self.first_shown_x
        return [p for p in points if start is None or p.x >= start]

    def _plotted_values(self) -> list[float]:
        ys = [p.y for p in self._shown(self.points)]
        if self.threshold is not None:
            ys.append(self.threshold)
        if self.projection:
            ys += [self.projection["value"], self.projection["low"], self.projection["high"]]
        if self.required_path:
            ys += [y for _, y in self.required_path]
        return ys

    @property
    def log_scale(self) -> bool:
        """True when every plotted value is positive and they span more than LOG_SCALE_SPAN."""
        ys = self._plotted_values()
        if not ys or min(ys) <= 0:
            return False
        return max(ys) / min(ys) > LOG_SCALE_SPAN

    @property
    def projection_window(self) -> str | None:
        """'2026–2035' when the projection is a window's mean or sum, else None."""
        if not self.projection or not self.projection.get("window"):
            return None
        start, end = self.projection["window"]
        return f"{start}–{end}"

    @property
    def projection_heading(self) -> str:
        """'Projection for 2030', or 'Projected mean 2026–2035' for a window's aggregate."""
        if not self.projection:
            return ""
        window = self.projection_window
        if window:
            return _("Projected %(function)s %(window)s") % {
                "function": self.projection["function"],
                "window": window,
            }
        return _("Projection for %(period)s") % {"period": self.projection["at"]}

    @property
    def projection_phrase(self) -> str:
        """'projected 2.9 for 2030', or 'projected mean 41.76 over 2026–2035'."""
        if not self.projection:
            return ""
        value = format_number(self.projection["value"])
        window = self.projection_window
        if window:
            return _("projected %(function)s %(value)s over %(window)s") % {
                "function": self.projection["function"],
                "value": value,
                "window": window,
            }
        return _("projected %(value)s for %(period)s") % {
            "value": value,
            "period": self.projection["at"],
        }

    def aria_label(self) -> str:
        if self.log_scale:
            parts = [_("Chart of %(title)s (log scale)") % {"title": self.title}]
        else:
            parts = [_("Chart of %(title)s") % {"title": self.title}]
        current = self.current_points
        if current:
            last = current[-1]
            parts.append(
                _("latest value %(value)s for %(period)s")
                % {"value": format_number(last.y, self.unit), "period": last.period}
            )
        if self.threshold is not None:
            symbol = COMPARATOR_SYMBOLS.get(self.comparator or ">=", self.comparator or "")
            parts.append(
                _("threshold %(symbol)s %(value)s")
                % {"symbol": symbol, "value": format_number(self.threshold, self.unit)}
            )
        if self.projection:
            p = self.projection
            start = (
                _(" starting from %(value)s in %(period)s")
                % {"value": format_number(p["from_y"]), "period": p["from_period"]}
                if p.get("from_period") and not self.projection_window
                else ""
            )
            parts.append(
                _("%(projection)s (range %(low)s to %(high)s)%(start)s")
                % {
                    "projection": self.projection_phrase,
                    "low": format_number(p["low"]),
                    "high": format_number(p["high"]),
                    "start": start,
                }
            )
        if self.required_path and self.required_label:
            (x0, y0), (x1, y1) = self.required_path[0], self.required_path[-1]
            parts.append(
                _("%(label)s: from %(start)s in %(x0)s to %(end)s in %(x1)s")
                % {
                    "label": self.required_label,
                    "start": format_number(y0),
                    "x0": math.floor(x0),
                    "end": format_number(y1),
                    "x1": math.floor(x1),
                }
            )
        if self.deadline:
            parts.append(_("deadline %(day)s") % {"day": format_date(self.deadline)})
        if self.superseded_points:
            parts.append(
                _("%(n)s revised earlier values shown faded") % {"n": len(self.superseded_points)}
            )
        hidden = self.hidden_before
        if hidden is not None:
            parts.append(
                _("drawn from %(start)s, earlier values in the table only") % {"start": hidden}
            )
        return _("; ").join(parts) + _(". The same data is in the table below.")

    def config(self) -> dict[str, Any]:
        """Chart.js configuration (datasets on a linear year axis); plain JSON.

        The y axis is logarithmic when `log_scale`; legend labels stay short (the title is
        the chart's heading) so that they fit the narrow side panel.
        """
        current = self._shown(self.current_points)
        superseded = self._shown(self.superseded_points)
        datasets: list[dict[str, Any]] = [
            {
                "label": "current values",
                "data": [{"x": p.x, "y": p.y} for p in current],
                "borderColor": CURRENT_COLOUR,
                "backgroundColor": CURRENT_COLOUR,
                # a sparse series is its points: drawn large enough to see
                "pointRadius": 5 if len(current) <= SPARSE_POINTS else 3,
                "tension": 0,
            }
        ]
        if superseded:
            datasets.append(
                {
                    "label": "earlier vintages (revised since)",
                    "data": [{"x": p.x, "y": p.y} for p in superseded],
                    "showLine": False,
                    "borderColor": SUPERSEDED_COLOUR,
                    "backgroundColor": SUPERSEDED_COLOUR,
                    "pointRadius": 4,
                    "pointStyle": "rectRot",
                }
            )
        xs = [p.x for p in current + superseded]
        if self.deadline:
            xs.append(decimal_year(self.deadline))
        if self.projection:
            xs.append(self.projection["x"])
            xs.append(self.projection.get("x0", self.projection["x"]))
            if self.projection.get("from_x") is not None:
                xs.append(self.projection["from_x"])
        if self.required_path:
            xs += [x for x, _ in self.required_path]
        x_min = min(xs) if xs else 0.0
        x_max = max(xs) if xs else 1.0
        sparse = len(current) <= SPARSE_POINTS and self.hidden_before is None
        if sparse or x_max - x_min < 1:  # a few points: a year either side, off the frame
            x_min, x_max = x_min - 1, x_max + 1
        if self.projection and self.projection_window:
            p = self.projection
            x0, x1 = p["x0"], p["x"]
            datasets += [
                {
                    "label": _("projection, lower bound"),
                    "hideInLegend": True,  # the range's lower edge: "projection range" says it
                    "data": [{"x": x0, "y": p["low"]}, {"x": x1, "y": p["low"]}],
                    "borderColor": PROJECTION_FILL,
                    "pointRadius": 0,
                    "fill": False,
                },
                {
                    "label": _("projection range"),
                    "data": [{"x": x0, "y": p["high"]}, {"x": x1, "y": p["high"]}],
                    "borderColor": PROJECTION_FILL,
                    "backgroundColor": PROJECTION_FILL,
                    "pointRadius": 0,
                    "fill": "-1",
                },
                {
                    "label": _("projected %(function)s %(window)s")
                    % {"function": p["function"], "window": self.projection_window},
                    "data": [{"x": x0, "y": p["value"]}, {"x": x1, "y": p["value"]}],
                    "borderColor": PROJECTION_COLOUR,
                    "borderDash": [6, 4],
                    "pointRadius": 0,
                    "fill": False,
                },
            ]
        elif self.projection and (current or self.projection.get("from_x") is not None):
            # from the point the evaluator projected from (the latest observed one), so that
            # the dashed line's slope is the growth the status states; older evaluations, which
            # did not record it, start at the latest current point
            p = self.projection
            if p.get("from_x") is not None:
                start = {"x": p["from_x"], "y": p["from_y"]}
            else:
                start = {"x": current[-1].x, "y": current[-1].y}
            datasets += [
                {
                    "label": _("projection, lower bound"),
                    "hideInLegend": True,  # the range's lower edge: "projection range" says it
                    "data": [start, {"x": p["x"], "y": p["low"]}],
                    "borderColor": PROJECTION_FILL,
                    "pointRadius": 0,
                    "fill": False,
                },
                {
                    "label": _("projection range"),
                    "data": [start, {"x": p["x"], "y": p["high"]}],
                    "borderColor": PROJECTION_FILL,
                    "backgroundColor": PROJECTION_FILL,
                    "pointRadius": 0,
                    "fill": "-1",
                },
                {
                    "label": _("projection (%(model)s)") % {"model": p.get("model") or _("trend")},
                    "data": [start, {"x": p["x"], "y": p["value"]}],
                    "borderColor": PROJECTION_COLOUR,
                    "borderDash": [6, 4],
                    "pointRadius": [0, 3],
                    "fill": False,
                },
            ]
        ys = [p.y for p in current + superseded]
        if self.threshold is not None:
            ys.append(self.threshold)
            symbol = COMPARATOR_SYMBOLS.get(self.comparator or ">=", "")
            datasets.append(
                {
                    "label": _("threshold %(symbol)s %(value)s")
                    % {"symbol": symbol, "value": format_number(self.threshold)},
                    "data": [{"x": x_min, "y": self.threshold}, {"x": x_max, "y": self.threshold}],
                    "borderColor": THRESHOLD_COLOUR,
                    "borderWidth": 2,
                    "pointRadius": 0,
                    "fill": False,
                }
            )
        if self.required_path:
            ys += [y for _, y in self.required_path]
            datasets.append(
                {
                    "label": self.required_label or _("required path"),
                    "data": [{"x": x, "y": y} for x, y in self.required_path],
                    "borderColor": THRESHOLD_COLOUR,
                    "borderWidth": 2,
                    "borderDash": [8, 4],
                    "pointRadius": 0,
                    "fill": False,
                }
            )
        if self.projection:
            ys += [self.projection["low"], self.projection["high"]]
        if self.deadline and ys:
            x = decimal_year(self.deadline)
            datasets.append(
                {
                    "label": _("deadline %(day)s") % {"day": format_date(self.deadline)},
                    "data": [{"x": x, "y": min(ys)}, {"x": x, "y": max(ys)}],
                    "borderColor": DEADLINE_COLOUR,
                    "borderDash": [2, 3],
                    "pointRadius": 0,
                    "fill": False,
                }
            )
        return {
            "type": "line",
            "data": {"datasets": datasets},
            "options": {
                "animation": False,
                "responsive": True,
                "maintainAspectRatio": False,
                "parsing": True,
                "scales": {
                    "x": {"type": "linear", "min": math.floor(x_min), "max": math.ceil(x_max)},
                    "y": {
                        **_flat_padding(ys, self.log_scale),
                        **({"grace": "10%"} if sparse and not self.log_scale else {}),
                        "type": "logarithmic" if self.log_scale else "linear",
                        "title": {
                            "display": True,
                            "text": _axis_title(self.unit)
                            + (" (log scale)" if self.log_scale else ""),
                        },
                    },
                },
                "plugins": {"legend": {"position": "bottom", "labels": {"boxWidth": 14}}},
            },
        }


SPARSE_POINTS = 3


def _flat_padding(ys: Sequence[float], log_scale: bool) -> dict[str, float]:
    """For a flat set of values (one point, or all equal): a y range around them, so the
    points sit inside the chart rather than on its edge. Nothing otherwise."""
    if not ys or log_scale:
        return {}
    low, high = min(ys), max(ys)
    pad = max(abs(high), abs(low)) * 0.1 or 1.0
    if high - low > pad / 10:
        return {}
    return {"suggestedMin": low - pad, "suggestedMax": high + pad}


def required_growth_path(
    points: Sequence[ChartPoint], criterion: GrowthCriterion, deadline: dt.date | None
) -> tuple[list[tuple[float, float]], str] | None:
    """The level a growth claim needs, as a path: from the base value growing at the threshold
    rate. With a window, from its start's value to its end; without, over the last TREND_YEARS
    years the evaluator judges the sustained rate on, and a year past the latest value. None
    when the rate is not a fixed number or the base is missing or not positive."""
    if not isinstance(criterion.threshold, float | int):
        return None
    rate = float(criterion.threshold)
    factor = 1 + rate if criterion.measure == "cagr" else rate
    current = sorted((p for p in points if p.current), key=lambda p: p.x)
    if factor <= 0 or not current:
        return None
    if criterion.window is not None:
        start_x = decimal_year(period_start(criterion.window.start))
        end_x = decimal_year(period_start(criterion.window.end))
        base = next((p for p in current if abs(p.x - start_x) < 0.5), None)
    else:
        latest = current[-1]
        base = next((p for p in current if p.x >= latest.x - TREND_YEARS - 0.5), None)
        end_x = latest.x + 1
    if base is None or base.y <= 0 or end_x <= base.x:
        return None
    steps = max(2, math.ceil(end_x - base.x) + 1)
    path = [
        (x, base.y * factor ** (x - base.x))
        for x in (base.x + (end_x - base.x) * i / (steps - 1) for i in range(steps))
    ]
    symbol = COMPARATOR_SYMBOLS.get(criterion.comparator, criterion.comparator)
    if criterion.measure == "cagr":
        label = _("required path (%(symbol)s %(rate)s %%/yr)") % {
            "symbol": symbol,
            "rate": format_number(rate * 100),
        }
    else:
        label = _("required path (%(symbol)s %(rate)sx a year)") % {
            "symbol": symbol,
            "rate": format_number(rate),
        }
    return path, label


def _x_start(criterion: Any) -> float:
    """CHART_START_YEAR, or the earliest period the criterion names (window, baseline) if
    that is earlier: the years a reader needs to judge it."""
    named: list[str] = []
    window = getattr(criterion, "window", None)
    if window is not None:
        named.append(window.start)
    period = getattr(criterion, "period", None)
    if period:
        named.append(period)
    threshold = getattr(criterion, "threshold", None)
    if isinstance(threshold, RelativeThreshold):
        named.append(threshold.baseline.start)
    starts = [decimal_year(period_start(p)) for p in named]
    return min([CHART_START_YEAR, *starts])


def _axis_title(unit: str) -> str:
    return {"1": "ratio", "": "value"}.get(unit, unit)


def _evaluate(expr: SeriesExpr, values: Mapping[str, float | None]) -> float | None:
    """The expression for one period given each indicator's value (None if any is missing)."""
    if isinstance(expr, IndicatorRef):
        return values.get(expr.indicator)
    if isinstance(expr, Ratio):
        top, bottom = (_evaluate(e, values) for e in expr.ratio)
        if top is None or bottom is None or bottom == 0:
            return None
        return top / bottom
    if isinstance(expr, Difference):
        first, second = (_evaluate(e, values) for e in expr.difference)
        if first is None or second is None:
            return None
        return first - second
    parts = [_evaluate(e, values) for e in expr.sum]
    if any(p is None for p in parts):
        return None
    return sum(p for p in parts if p is not None)


def _fetch_run_ids(rows: Iterable[ObservedValue | None]) -> tuple[int, ...]:
    """The fetch runs behind a point's operands, sorted, each once."""
    return tuple(sorted({r.fetch_run_id for r in rows if r and r.fetch_run_id}))


def _valid_at(rows: Sequence[ObservedValue], at: dt.datetime) -> ObservedValue | None:
    for row in rows:
        if row.known_from <= at and (row.known_until is None or row.known_until > at):
            return row
    return None


def expression_points(
    expr: SeriesExpr, rows: Sequence[ObservedValue], key_by_id: Mapping[int, str]
) -> list[ChartPoint]:
    """Current points of the expression, plus one faded point per superseded vintage.

    A superseded point is the expression as it stood when that vintage was current: each
    operand takes the row valid at the vintage's `known_from`.
    """
    keys = expression_indicators(expr)
    by_key_period: dict[tuple[str, str], list[ObservedValue]] = defaultdict(list)
    starts: dict[str, dt.date] = {}
    for row in rows:
        key = key_by_id.get(row.indicator_id)
        if key is None:
            continue
        by_key_period[(key, row.period)].append(row)
        starts[row.period] = row.period_start
    points: list[ChartPoint] = []
    for period in sorted(starts, key=lambda p: starts[p]):
        operand_rows = {k: by_key_period.get((k, period), []) for k in keys}
        if not all(operand_rows.values()):
            continue
        x = decimal_year(starts[period])
        current = {
            k: next((r for r in rs if r.known_until is None), None)
            for k, rs in operand_rows.items()
        }
        if all(current.values()):
            value = _evaluate(expr, {k: r.value for k, r in current.items() if r is not None})
            if value is not None and math.isfinite(value):
                points.append(
                    ChartPoint(
                        period=period,
                        x=x,
                        y=value,
                        current=True,
                        known_from=max(r.known_from for r in current.values() if r),
                        known_until=None,
                        fetch_run_ids=_fetch_run_ids(current.values()),
                    )
                )
        seen: set[float] = set()
        for rs in operand_rows.values():
            for old in rs:
                if old.known_until is None:
                    continue
                vintage = {k: _valid_at(v, old.known_from) for k, v in operand_rows.items()}
                if not all(vintage.values()):
                    continue
                value = _evaluate(expr, {k: r.value for k, r in vintage.items() if r is not None})
                if value is None or not math.isfinite(value) or value in seen:
                    continue
                seen.add(value)
                points.append(
                    ChartPoint(
                        period=period,
                        x=x,
                        y=value,
                        current=False,
                        known_from=old.known_from,
                        known_until=old.known_until,
                        fetch_run_ids=_fetch_run_ids(vintage.values()),
                    )
                )
    return points


def build_claim_charts(
    session: Session,
    criteria: Sequence[tuple[str, Any]],
    indicators: Mapping[str, Indicator],
    *,
    deadline: dt.date | None,
    evaluation: Evaluation | None,
) -> list[ClaimChart]:
    """One chart per measured or signal criterion (given as (key, parsed criterion) pairs).

    The first resolving criterion also gets the evaluation's threshold and projection band.
    """
    measured = [
        (key, c)
        for key, c in criteria
        if isinstance(
            c, ThresholdCriterion | GrowthCriterion | AggregateCriterion | SignalCriterion
        )
    ]
    all_keys = {k for _, c in measured for k in expression_indicators(c.series)}
    id_by_key = {k: ind.id for k, ind in indicators.items() if k in all_keys and ind.id is not None}
    rows = all_vintages(session, list(id_by_key.values()))
    key_by_id = {v: k for k, v in id_by_key.items()}
    titles = {k: ind.title or k for k, ind in indicators.items()}
    unit_by_key = {k: ind.unit for k, ind in indicators.items()}
    charts: list[ClaimChart] = []
    primary_done = False
    for key, criterion in measured:
        keys = expression_indicators(criterion.series)
        try:
            unit = expression_unit(criterion.series, unit_by_key)
        except (KeyError, UnitError):
            unit = ""
        chart = ClaimChart(
            key=key,
            title=describe_expression(criterion.series, titles),
            unit=unit,
            points=expression_points(criterion.series, rows, key_by_id),
            deadline=deadline,
            indicator_keys=keys,
            x_start=_x_start(criterion),
        )
        is_resolving = not isinstance(criterion, SignalCriterion) and criterion.role == "resolves"
        if isinstance(criterion, ThresholdCriterion | AggregateCriterion):
            chart.comparator = criterion.comparator
            if isinstance(criterion.threshold, float | int):
                chart.threshold = float(criterion.threshold)
        if isinstance(criterion, GrowthCriterion):
            chart.note = _("The threshold applies to the growth rate, not to the level shown.")
            required = required_growth_path(chart.points, criterion, deadline)
            if required is not None:
                chart.required_path, chart.required_label = required
                chart.note = _(
                    "The threshold applies to the growth rate; the dashed red line is the level "
                    "that rate would reach from the base year."
                )
        if isinstance(criterion, AggregateCriterion):
            chart.note = _("The threshold applies to the %(function)s over the window.") % {
                "function": criterion.function
            }
        if is_resolving and not primary_done and evaluation is not None:
            primary_done = True
            if (
                chart.threshold is None
                and evaluation.threshold is not None
                and not isinstance(criterion, GrowthCriterion)
            ):
                chart.threshold = evaluation.threshold
                chart.comparator = evaluation.comparator
            if (
                evaluation.projection_value is not None
                and evaluation.projection_at
                and not isinstance(criterion, GrowthCriterion)
            ):
                low = evaluation.projection_low
                high = evaluation.projection_high
                chart.projection = {
                    "value": evaluation.projection_value,
                    "low": low if low is not None else evaluation.projection_value,
                    "high": high if high is not None else evaluation.projection_value,
                    "at": evaluation.projection_at,
                    "x": decimal_year(period_start(evaluation.projection_at)),
                    "model": evaluation.projection_model,
                }
                from_period = (evaluation.details or {}).get("projection_from_period")
                from_value = (evaluation.details or {}).get("projection_from_value")
                if from_period and isinstance(from_value, int | float):
                    chart.projection.update(
                        from_period=from_period,
                        from_x=decimal_year(period_start(from_period)),
                        from_y=float(from_value),
                    )
                if isinstance(criterion, AggregateCriterion):
                    # the evaluator projects the window's mean (or sum), not a value at its end
                    chart.projection.update(
                        function=criterion.function,
                        window=[criterion.window.start, criterion.window.end],
                        x0=decimal_year(period_start(criterion.window.start)),
                    )
        charts.append(chart)
    return charts
