"""The indicator catalogue: which series exist, where each comes from, in what unit, and when.

Entries live in `claims/indicators.yaml`; `tracker claims sync` copies them into Indicator rows,
and `load_catalogue_from_db` reads them back so API-posted claims are checked the same way.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlmodel import Session, select

from tracker.config import SOURCE_NAMES
from tracker.models import Indicator

INDICATOR_KEY_PATTERN = r"^[a-z0-9][a-z0-9_-]*(\.[a-z0-9][a-z0-9_-]*)*$"
REFRESH_PATTERN = r"^(daily|weekly|monthly|every [1-9][0-9]*[hm])$"


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
    frequency: Literal["annual", "monthly", "daily", "point"] = "annual"
    publication_lag_days: int = Field(
        default=0, ge=0, description="Period end → expected first publication, in days."
    )
    revision_window_days: int = Field(
        default=0, ge=0, description="After first publication, values may still be revised."
    )
    refresh: str = Field(default="daily", pattern=REFRESH_PATTERN)
    note: str | None = None

    @property
    def has_known_source(self) -> bool:
        return self.source is not None and self.source in SOURCE_NAMES


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
        "note": spec.get("note"),
    }
    try:
        return IndicatorEntry.model_validate(values)
    except ValidationError:
        # a row written by other means (e.g. a test factory) is still usable for unit checks
        return IndicatorEntry.model_construct(**values)


def load_catalogue_from_db(session: Session) -> IndicatorCatalogue:
    """The catalogue as stored (so an API-posted claim is checked against stored indicators)."""
    rows = session.exec(select(Indicator).order_by(Indicator.key)).all()  # type: ignore[arg-type]
    entries = {row.key: entry_from_row(row) for row in rows}
    return IndicatorCatalogue(entries, listed_in="the stored indicators")
