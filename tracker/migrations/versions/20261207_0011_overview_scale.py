"""Claim: status_review_reason stored with the status, and indexes for the overview's queues

The overview counted the claims whose data is overdue by joining every claim in review to its
status evaluation (review_reason = 'data_overdue'); the reason is now stored on the claim with
the status (tracker.status and tracker.outlook.refresh_outlooks set it with the outlook), and
filled here from each claim's status evaluation.

Its queues sorted every claim in a state to show the first twelve: ix_claim_queue reads the
awaiting-data and review queues in deadline order, and ix_claim_upcoming (partial: active
claims not resolved, awaiting or in review) the upcoming one; ix_claim_tally answers the
counts by state, outlook and review reason from the index alone (tracker.overview_counts).

On PostgreSQL a statement trigger notes each transaction that writes to `claim` in the new
table claim_change: the counts are kept until such a transaction commits (tracker.overview_counts).

Revision ID: 0011_overview_scale
Revises: 0009_claim_overview
Create Date: 2026-12-07 09:50:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_overview_scale"
down_revision: str | None = "0009_claim_overview"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# tracker.models.UPCOMING_PREDICATE at this revision (a partial index serves a query only when
# the query repeats its condition word for word)
_UPCOMING = (
    "lifecycle = 'active' AND (status_state IS NULL OR status_state NOT IN ("
    "'resolved_true', 'resolved_false', 'resolved_partial', 'void', 'ambiguous', "
    "'awaiting_data', 'needs_review'))"
)
_FILL = """
UPDATE claim SET status_review_reason =
  (SELECT e.review_reason FROM evaluation e WHERE e.id = claim.status_evaluation_id)
WHERE claim.status_evaluation_id IS NOT NULL
"""


# PostgreSQL: each transaction that writes to `claim` notes its id in claim_change, once (a
# transaction-local setting remembers it did), so the overview's counts are reused until such
# a transaction commits (tracker.overview_counts)
_FUNCTION = """
CREATE FUNCTION tracker_claim_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF current_setting('tracker.claim_changed', true) IS DISTINCT FROM pg_current_xact_id()::text
  THEN
    INSERT INTO claim_change (xid) VALUES (pg_current_xact_id()::text::bigint)
      ON CONFLICT DO NOTHING;
    PERFORM set_config('tracker.claim_changed', pg_current_xact_id()::text, true);
  END IF;
  RETURN NULL;
END
$$
"""
_TRIGGER = """
CREATE TRIGGER tracker_claim_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON claim
FOR EACH STATEMENT EXECUTE FUNCTION tracker_claim_changed()
"""


def upgrade() -> None:
    op.create_table(
        "claim_change",
        sa.Column("xid", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("xid", name=op.f("pk_claim_change")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_FUNCTION)
        op.execute(_TRIGGER)
    # ADD COLUMN in place (a batch copy of the table would trip the foreign keys on SQLite)
    op.add_column("claim", sa.Column("status_review_reason", sa.String(length=20), nullable=True))
    op.execute(_FILL)
    op.create_index(
        "ix_claim_queue",
        "claim",
        ["lifecycle", "status_state", sa.text("coalesce(deadline, '9999-12-31')"), "id"],
        unique=False,
    )
    op.create_index(
        "ix_claim_tally",
        "claim",
        ["lifecycle", "status_state", "status_outlook", "status_review_reason"],
        unique=False,
    )
    op.create_index(
        "ix_claim_upcoming",
        "claim",
        ["deadline", "id"],
        unique=False,
        sqlite_where=sa.text(_UPCOMING),
        postgresql_where=sa.text(_UPCOMING),
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER tracker_claim_changed ON claim")
        op.execute("DROP FUNCTION tracker_claim_changed()")
    op.drop_table("claim_change")
    op.drop_index("ix_claim_upcoming", table_name="claim")
    op.drop_index("ix_claim_tally", table_name="claim")
    op.drop_index("ix_claim_queue", table_name="claim")
    # in place, as upgrade adds it (SQLite >= 3.35 drops a column without copying the table)
    op.drop_column("claim", "status_review_reason")
