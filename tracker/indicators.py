"""The indicator catalogue: which series exist, where each comes from, in what unit, and when.

Entries live in `claims/indicators.yaml`; `tracker claims sync` copies them into Indicator rows,
and `load_catalogue_from_db` reads them back so API-posted claims are checked the same way.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlmodel import Session, select

from tracker.config import SOURCE_NAMES
from tracker.models import Indicator

INDICATOR_KEY_PATTERN = r"^[a-z0-9][a-z0-9_-]*(\.[a-z0-9][a-z0-9_-]*)*$"
REFRESH_PATTERN = r"^(daily|weekly|monthly|every [1-9][0-9]*[hm])$"


DEFAULT_MAX_REVISION = 0.5
DEFAULT_MAX_ROW_DROP = 0.1


class PlausibilityGates(BaseModel):
    """What every new vintage of an indicator must pass before evaluation may use it
    (tracker.plausibility). A vintage failing one is stored quarantined: kept, shown, and not
    used until a later fetch brings the same values again or a reviewer accepts it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_revision: float | None = Field(
        default=DEFAULT_MAX_REVISION,
        gt=0,
        description=(
            "Largest relative change a new vintage may make to the stored value of a period "
            "that had ended when that value was stored (0.5: by at most 50 % of it). A period "
            "still running (this year's count so far) may move freely. null: no limit."
        ),
    )
    min: float | None = Field(default=None, description="Smallest plausible value (null: none).")
    max: float | None = Field(default=None, description="Largest plausible value (null: none).")
    max_row_drop: float | None = Field(
        default=DEFAULT_MAX_ROW_DROP,
        ge=0,
        le=1,
        description=(
            "A fetch may give at most this share fewer rows than the last fetch whose vintage "
            "was used (0.1: 10 % fewer). null: no limit."
        ),
    )
    complete_body: bool = Field(
        default=True,
        description=(
            "Every body must be whole: no fewer bytes than its Content-Length, and a CSV body "
            "must end with a line break (one cut inside its last value, e.g. ending "
            "`China,CHN,2025,10`, still parses). A cut JSON body does not parse at all: that "
            "fetch fails instead."
        ),
    )

    def summary(self) -> str:
        """The gates in a few words, e.g. "revisions of ended periods up to 50 %, values in
        [0, 100000], at most 10 % fewer rows, whole bodies"."""
        parts = [
            "revisions of ended periods not limited"
            if self.max_revision is None
            else f"revisions of ended periods up to {self.max_revision * 100:g} %"
        ]
        if self.min is not None or self.max is not None:
            low = "-inf" if self.min is None else f"{self.min:g}"
            high = "inf" if self.max is None else f"{self.max:g}"
            parts.append(f"values in [{low}, {high}]")
        if self.max_row_drop is not None:
            parts.append(f"at most {self.max_row_drop * 100:g} % fewer rows")
        if self.complete_body:
            parts.append("whole bodies")
        return ", ".join(parts)

    @model_validator(mode="after")
    def _range_in_order(self) -> PlausibilityGates:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}: expected min <= max")
        return self


class IndicatorEntry(BaseModel):
    """One catalogue entry (one time series from one source)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(pattern=INDICATOR_KEY_PATTERN, max_length=200)
    title: str = Field(min_length=1)
    source: str | None = Field(
        default=None, description=f"Adapter name: one of {', '.join(SOURCE_NAMES)}."
    )
    params: dict[str, Any] = Field(default_factory=dict)
    unit: str = Field(min_length=1, max_length=40)
    frequency: Literal["annual", "quarterly", "monthly", "weekly", "daily", "point"] = "annual"
    publication_lag_days: int = Field(
        default=0, ge=0, description="Period end → expected first publication, in days."
    )
    revision_window_days: int = Field(
        default=0, ge=0, description="After first publication, values may still be revised."
    )
    grace_days: int | None = Field(
        default=None,
        ge=0,
        le=3660,
        description=(
            "How long after its expected date a period's data may still be missing before the "
            "claims that need it go to review as `data_overdue` (omitted: by cadence, "
            "tracker.periods.DEFAULT_GRACE_DAYS: 120 days for annual data, 30 for monthly, 14 "
            "for weekly, 7 for daily)."
        ),
    )
    gaps: Literal["unknown", "zero"] = Field(
        default="unknown",
        description=(
            "How a period with no reading reads. `unknown` (default): a window waits for every "
            "period. `zero`: an event count, where no reading means none happened; a window "
            "then decides once its last period's data is due."
        ),
    )
    refresh: str = Field(default="daily", pattern=REFRESH_PATTERN)
    plausibility: PlausibilityGates | None = Field(
        default=None,
        description="Gates a new vintage must pass (omitted: the defaults of every field).",
    )
    note: str | None = None

    @property
    def has_known_source(self) -> bool:
        return self.source is not None and self.source in SOURCE_NAMES

    @property
    def gates(self) -> PlausibilityGates:
        """The gates in force: the declared ones, else the defaults."""
        return self.plausibility or PlausibilityGates()


class IndicatorCatalogueFile(BaseModel):
    """The shape of `claims/indicators.yaml`."""

    model_config = ConfigDict(extra="forbid")

    indicators: list[IndicatorEntry] = Field(default_factory=list)


@dataclass
class IndicatorCatalogue:
    """Catalogue entries by key; `listed_in` says where they come from, for messages."""

    entries: dict[str, IndicatorEntry] = field(default_factory=dict)
    listed_in: str = "indicators.yaml"

    def __contains__(self, key: object) -> bool:
        return key in self.entries

    def __iter__(self) -> Iterator[IndicatorEntry]:
        return iter(self.entries.values())

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, key: str) -> IndicatorEntry | None:
        return self.entries.get(key)

    def units(self) -> Mapping[str, str]:
        return {key: entry.unit for key, entry in self.entries.items()}


def entry_to_row_values(entry: IndicatorEntry) -> dict[str, Any]:
    """The Indicator column values an entry defines (the rest is fetch state)."""
    return {
        "source": entry.source or "",
        "params": dict(entry.params),
        "title": entry.title,
        "unit": entry.unit,
        "frequency": entry.frequency,
        "publication_lag_days": entry.publication_lag_days,
        "revision_window_days": entry.revision_window_days,
        "refresh": entry.refresh,
        "spec": entry.model_dump(mode="json", exclude_none=True),
    }


def entry_from_row(row: Indicator) -> IndicatorEntry:
    """Rebuild a catalogue entry from a stored Indicator row."""
    spec = dict(row.spec or {})
    values: dict[str, Any] = {
        "key": row.key,
        "title": row.title or spec.get("title") or row.key,
        "source": row.source or None,
        "params": dict(row.params or {}),
        "unit": row.unit,
        "frequency": row.frequency,
        "publication_lag_days": row.publication_lag_days,
        "revision_window_days": row.revision_window_days,
        "refresh": row.refresh,
        "plausibility": spec.get("plausibility"),
        "grace_days": spec.get("grace_days"),
        "gaps": spec.get("gaps", "unknown"),
        "note": spec.get("note"),
    }
    try:
        return IndicatorEntry.model_validate(values)
    except ValidationError:
        # a row written by other means (e.g. a test factory) is still usable for unit checks
        return IndicatorEntry.model_construct(**values)


def gates_of(row: Indicator) -> PlausibilityGates:
    """The plausibility gates of a stored indicator (its catalogue entry's, else the defaults;
    a stored declaration this code cannot read counts as none, never as no gates)."""
    declared = (row.spec or {}).get("plausibility")
    if not declared:
        return PlausibilityGates()
    try:
        return PlausibilityGates.model_validate(declared)
    except ValidationError:
        return PlausibilityGates()


def load_catalogue_from_db(session: Session) -> IndicatorCatalogue:
    """The catalogue as stored (so an API-posted claim is checked against stored indicators)."""
    rows = session.exec(select(Indicator).order_by(Indicator.key)).all()  # type: ignore[arg-type]
    entries = {row.key: entry_from_row(row) for row in rows}
    return IndicatorCatalogue(entries, listed_in="the stored indicators")
