"""Claim: fewer indexes over the status columns, which every evaluation that appends rewrites

Each index holding `status_state`, `status_outlook` or `status_review_reason` is rewritten for
every claim whose status an evaluation sets (a first sweep over 10,000 claims: ~20 ms of CPU
per index on SQLite). Two of them serve no query:

- ix_claim_status_outlook: the overview counts by outlook from ix_claim_tally
  (tracker.overview_counts); the lists filter by outlook with the rule over the evaluation
  (tracker.outlook.outlook_clause), not by the stored column.
- ix_claim_deadline_state (deadline, status_state): the deadline ranges (the lists'
  deadline_before/after, the digest's and the webhooks' coming deadlines) read it for its
  deadline only; ix_claim_deadline (deadline) serves them the same and is not rewritten when
  a status changes.

Revision ID: 0012_claim_status_indexes
Revises: 0011_overview_scale
Create Date: 2026-12-07 13:15:00+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012_claim_status_indexes"
down_revision: str | None = "0011_overview_scale"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_claim_deadline", "claim", ["deadline"], unique=False)
    op.drop_index("ix_claim_deadline_state", table_name="claim")
    op.drop_index("ix_claim_status_outlook", table_name="claim")


def downgrade() -> None:
    op.create_index("ix_claim_status_outlook", "claim", ["status_outlook"], unique=False)
    op.create_index("ix_claim_deadline_state", "claim", ["deadline", "status_state"], unique=False)
    op.drop_index("ix_claim_deadline", table_name="claim")
