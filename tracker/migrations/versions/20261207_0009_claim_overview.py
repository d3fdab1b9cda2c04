"""Claim: status_outlook stored with the status, and indexes for the lists' deadline order

The overview counts claims by outlook (tracker.outlook). It joined every claim to its status
evaluation and classified each row on every request, so it grew with the claims; the outlook
is now stored with the status (tracker.status sets it in the same UPDATE) and counted by one
indexed column. Existing rows are filled here by the rule as it stands (tracker.outlook at this
revision, UNCERTAIN_RATIO 100 and UNCERTAIN_WIDTH 4); never-evaluated claims stay NULL.

The claim lists sort by deadline, undated last (`coalesce(deadline, '9999-12-31')`, id): an
index on that expression lets a page read its rows in order instead of sorting every claim; and
one on created_at answers the first day on record without a scan.

Revision ID: 0009_claim_overview
Revises: 0008_indicator_declarations
Create Date: 2026-12-07 06:20:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_claim_overview"
down_revision: str | None = "0008_indicator_declarations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# tracker.outlook.outlook_value at this revision, over the claim's state and trend and its
# status evaluation's band; the first rule that holds wins, '' when none does
_BAND = "(SELECT e.{0} FROM evaluation e WHERE e.id = claim.status_evaluation_id)"
_LO, _HI, _V, _TH = (
    _BAND.format(c) for c in ("projection_low", "projection_high", "projection_value", "threshold")
)
_S, _T = "coalesce(claim.status_state, '')", "coalesce(claim.status_trend, '')"
_LIVE = f"{_S} IN ('open', 'upcoming')"
_STRADDLES = (
    f"({_LO} IS NOT NULL AND {_HI} IS NOT NULL AND {_TH} IS NOT NULL "
    f"AND {_LO} <= {_TH} AND {_TH} <= {_HI})"
)
_TOO_WIDE = (
    f"({_T} = 'insufficient_data' AND {_V} IS NOT NULL AND ({_LO} IS NULL OR {_HI} IS NULL "
    f"OR ({_LO} > 0 AND {_HI} > {_LO} * 100.0) OR {_HI} - {_LO} > abs({_V}) * 4.0))"
)
_FILL = f"""
UPDATE claim SET status_outlook = CASE
  WHEN {_LIVE} AND {_T} = 'on_track' AND NOT {_STRADDLES} THEN 'on_track'
  WHEN {_LIVE} AND {_T} = 'off_track' AND NOT {_STRADDLES} THEN 'off_track'
  WHEN {_LIVE} AND (({_T} IN ('on_track', 'off_track') AND {_STRADDLES}) OR {_TOO_WIDE})
    THEN 'too_uncertain'
  WHEN {_S} = '' OR ({_LIVE} AND ({_T} = '' OR ({_T} = 'insufficient_data' AND NOT {_TOO_WIDE})))
    THEN 'no_data'
  WHEN {_LIVE} AND {_T} = 'not_applicable' THEN 'judged_at_deadline'
  WHEN {_S} = 'awaiting_data' THEN 'awaiting_data'
  WHEN {_S} = 'needs_review' THEN 'needs_verdict'
  WHEN {_S} = 'resolved_true' THEN 'kept'
  WHEN {_S} = 'resolved_false' THEN 'not_kept'
  ELSE '' END
WHERE claim.status_state IS NOT NULL
"""


def upgrade() -> None:
    # ADD COLUMN in place (a batch copy of the table would trip the foreign keys on SQLite)
    op.add_column("claim", sa.Column("status_outlook", sa.String(length=20), nullable=True))
    op.create_index("ix_claim_status_outlook", "claim", ["status_outlook"], unique=False)
    op.execute(_FILL)
    op.create_index(
        "ix_claim_deadline_key",
        "claim",
        [sa.text("coalesce(deadline, '9999-12-31')"), "id"],
        unique=False,
    )
    op.create_index("ix_claim_created_at", "claim", ["created_at"], unique=False)


def downgrade() -> None:
    # in place, as upgrade adds it (SQLite >= 3.35 drops a column without copying the table)
    op.drop_index("ix_claim_created_at", table_name="claim")
    op.drop_index("ix_claim_deadline_key", table_name="claim")
    op.drop_index("ix_claim_status_outlook", table_name="claim")
    op.drop_column("claim", "status_outlook")
