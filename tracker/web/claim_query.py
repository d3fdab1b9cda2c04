"""The claim list's query parameters, parsed once for the API (`GET /api/v1/claims`) and the
dashboard (`/claims`): the same names, the same values, the same errors. An unknown value of a
filter is an error naming the parameter and the values it takes, never silently ignored."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tracker import queries
from tracker.models import ClaimKind, Lifecycle, State, Trend
from tracker.outlook import OUTLOOK_DESCRIPTION, Outlook
from tracker.web.problems import validation_errors

# the filters a page link may carry, in the order a query string names them
FILTER_NAMES = (
    "outlook",
    "state",
    "trend",
    "kind",
    "claimant",
    "tag",
    "deadline_before",
    "deadline_after",
    "lifecycle",
    "q",
)


class ClaimQuery(BaseModel):
    """Filters (combined with AND), sort and page of the claim list."""

    model_config = ConfigDict(extra="ignore")

    state: State | None = Field(None, description="Current state.", examples=["open"])
    trend: Trend | None = Field(None, description="Current trend.", examples=["on_track"])
    outlook: Outlook | None = Field(None, description=OUTLOOK_DESCRIPTION, examples=["off_track"])
    tag: str | None = Field(None, examples=["energy"])
    claimant: str | None = Field(None, description="Claimant slug.")
    deadline_before: dt.date | None = Field(None, description="Deadline before.")
    deadline_after: dt.date | None = Field(None, description="Deadline after.")
    lifecycle: Lifecycle | None = Field(None, examples=["active"])
    kind: ClaimKind | None = Field(None, examples=["judged"])
    q: str | None = Field(
        None,
        description=(
            "Search text: claims whose slug, title or quote (original language or "
            "English) contains it, case-insensitively; the dashboard's search."
        ),
        examples=["電力"],
    )
    sort: queries.SortKey = Field(
        "deadline", description="deadline, slug or updated; prefix '-' for descending."
    )
    cursor: str | None = Field(None, description="`next_cursor` of the previous page.")
    limit: int = Field(50, ge=1, le=queries.MAX_LIMIT)

    def filters(self) -> queries.ClaimFilters:
        return queries.ClaimFilters(
            state=self.state.value if self.state else None,
            trend=self.trend.value if self.trend else None,
            tag=self.tag,
            claimant=self.claimant,
            deadline_before=self.deadline_before,
            deadline_after=self.deadline_after,
            lifecycle=self.lifecycle.value if self.lifecycle else None,
            kind=self.kind.value if self.kind else None,
            q=self.q,
            outlook=self.outlook.value if self.outlook else None,
        )

    def filter_params(self) -> dict[str, str]:
        """The filters set, as query parameters (for links to this list and its next page)."""
        out: dict[str, str] = {}
        for name in FILTER_NAMES:
            value = getattr(self, name)
            if value is not None and value != "":
                out[name] = value.isoformat() if isinstance(value, dt.date) else str(value)
        if self.sort != "deadline":
            out["sort"] = self.sort
        return out


class ClaimQueryError(ValueError):
    """Query parameters that do not parse; `errors` as problem+json's (field, message, …)."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        self.errors = errors
        super().__init__(
            "; ".join(f"{e['field']}: {e['message']}" for e in errors) or "invalid query"
        )


def parse_claim_query(params: Mapping[str, str]) -> ClaimQuery:
    """A page's query string as the API reads it; blank values (a form's "any") are unset."""
    given = {k: v for k, v in params.items() if v.strip() != ""}
    try:
        return ClaimQuery.model_validate(given)
    except ValidationError as exc:
        raw = [{**e, "loc": ("query", *e["loc"])} for e in exc.errors()]
        raise ClaimQueryError(validation_errors(raw)) from exc
