"""Claim: the last run that evaluated it (status_checked_at, status_inputs_key,
status_data_watermark, status_stable_until)

A run that re-evaluates a claim and gets the same result appends no Evaluation, so what the
sweep compares against (the inputs key, observation watermark and stable-until date recorded
in the current Evaluation's details) went stale, and every later sweep re-evaluated such a
claim again. These columns record every run's check on the claim row instead. Existing rows
are backfilled from the claim's current Evaluation (its time and the keys in its details), so
an upgraded database skips exactly what it skipped before.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 09:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import tracker.models

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _backfill() -> None:
    """Each claim's last check, from its current Evaluation (the tables as this revision knows
    them, not the current models)."""
    claim = sa.table(
        "claim",
        sa.column("status_evaluation_id", sa.Integer()),
        sa.column("status_checked_at", sa.DateTime()),
        sa.column("status_inputs_key", sa.String()),
        sa.column("status_data_watermark", sa.Integer()),
        sa.column("status_stable_until", sa.Date()),
    )
    evaluation = sa.table(
        "evaluation",
        sa.column("id", sa.Integer()),
        sa.column("evaluated_at", sa.DateTime()),
        sa.column("details", sa.JSON()),
    )
    stable_until: sa.ColumnElement[object] = evaluation.c.details["stable_until"].as_string()
    if op.get_bind().dialect.name != "sqlite":  # SQLite keeps a date as its ISO text
        stable_until = sa.cast(stable_until, sa.Date())
    op.execute(
        sa.update(claim)
        .where(claim.c.status_evaluation_id == evaluation.c.id)
        .values(
            status_checked_at=evaluation.c.evaluated_at,
            status_inputs_key=evaluation.c.details["inputs_key"].as_string(),
            status_data_watermark=evaluation.c.details["data_watermark"].as_integer(),
            status_stable_until=stable_until,
        )
    )


def upgrade() -> None:
    with op.batch_alter_table("claim", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("status_checked_at", tracker.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "status_inputs_key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True
            )
        )
        batch_op.add_column(sa.Column("status_data_watermark", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("status_stable_until", sa.Date(), nullable=True))
    _backfill()


def downgrade() -> None:
    # not batch mode on SQLite: it would copy the claim table, which the foreign keys of other
    # tables refer to; SQLite (3.35+) drops a column in place
    sqlite = op.get_bind().dialect.name == "sqlite"
    for name in (
        "status_stable_until",
        "status_data_watermark",
        "status_inputs_key",
        "status_checked_at",
    ):
        if sqlite:
            op.execute(f"ALTER TABLE claim DROP COLUMN {name}")
        else:
            op.drop_column("claim", name)
