"""Evaluation: the state and trend each row follows, and whether it changed the status

Adds `previous_state`, `previous_trend` (those of the claim's previous evaluation; NULL for
its first) and `status_change` ('first', 'moved' where the state or trend differs, NULL
otherwise), with the index `ix_evaluation_change_at` that "recent status changes" read.
Existing rows are backfilled with one UPDATE from a LAG over each claim's evaluations (by time,
then id), the formulation the queries used before, so an upgraded database answers the same.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 08:56:52.910666
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _backfill() -> None:
    """Each row's previous state and trend, and its kind of status change, from the rows in
    place (the table as this revision knows it, not the current models)."""
    evaluation = sa.table(
        "evaluation",
        sa.column("id", sa.Integer()),
        sa.column("claim_id", sa.Integer()),
        sa.column("evaluated_at", sa.DateTime()),
        sa.column("state", sa.String()),
        sa.column("trend", sa.String()),
        sa.column("previous_state", sa.String()),
        sa.column("previous_trend", sa.String()),
        sa.column("status_change", sa.String()),
    )
    source = evaluation.alias("source")

    def lag(column: sa.ColumnClause[object]) -> sa.Over[object]:
        return sa.func.lag(column).over(
            partition_by=source.c.claim_id, order_by=(source.c.evaluated_at, source.c.id)
        )

    prior = sa.select(
        source.c.id,
        lag(source.c.id).label("previous_id"),
        lag(source.c.state).label("previous_state"),
        lag(source.c.trend).label("previous_trend"),
    ).subquery("prior")
    moved = sa.or_(
        evaluation.c.state.is_distinct_from(prior.c.previous_state),
        evaluation.c.trend.is_distinct_from(prior.c.previous_trend),
    )
    op.execute(
        sa.update(evaluation)
        .where(evaluation.c.id == prior.c.id)
        .values(
            previous_state=prior.c.previous_state,
            previous_trend=prior.c.previous_trend,
            status_change=sa.case(
                (prior.c.previous_id.is_(None), "first"), (moved, "moved"), else_=None
            ),
        )
    )


def upgrade() -> None:
    with op.batch_alter_table("evaluation", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("previous_state", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True)
        )
        batch_op.add_column(
            sa.Column("previous_trend", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True)
        )
        batch_op.add_column(
            sa.Column("status_change", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True)
        )
    _backfill()
    with op.batch_alter_table("evaluation", schema=None) as batch_op:
        batch_op.create_index(
            "ix_evaluation_change_at", ["status_change", "evaluated_at", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("evaluation", schema=None) as batch_op:
        batch_op.drop_index("ix_evaluation_change_at")
        batch_op.drop_column("status_change")
        batch_op.drop_column("previous_trend")
        batch_op.drop_column("previous_state")
