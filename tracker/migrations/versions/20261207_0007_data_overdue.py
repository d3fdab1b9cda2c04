"""Data overdue: Evaluation.review_reason and Evaluation.overdue_since, and the append-only
WaitExtension table (a reviewer's "wait longer", with who, when, why and the new date)

Existing evaluation rows get NULL in both columns (nothing was overdue under evaluator 1.3),
so an upgraded database reads what it read before; evaluator 1.4 appends new rows.

Revision ID: 0007_data_overdue
Revises: 0006_quarantine
Create Date: 2026-12-07 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import tracker.models

revision: str = "0007_data_overdue"
down_revision: str | None = "0006_quarantine"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("evaluation", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("review_reason", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True)
        )
        batch_op.add_column(sa.Column("overdue_since", sa.Date(), nullable=True))
    op.create_table(
        "waitextension",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("claim_id", sa.Integer(), nullable=False),
        sa.Column("wait_until", sa.Date(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("decided_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("recorded_at", tracker.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("overdue_since", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claim.id"], name=op.f("fk_waitextension_claim_id_claim")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waitextension")),
    )
    with op.batch_alter_table("waitextension", schema=None) as batch_op:
        batch_op.create_index(
            "ix_waitextension_claim_at", ["claim_id", "recorded_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("waitextension", schema=None) as batch_op:
        batch_op.drop_index("ix_waitextension_claim_at")
    op.drop_table("waitextension")
    with op.batch_alter_table("evaluation", schema=None) as batch_op:
        batch_op.drop_column("overdue_since")
        batch_op.drop_column("review_reason")
