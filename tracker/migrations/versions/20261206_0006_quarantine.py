"""Quarantine of implausible vintages: Observation.quarantined, FetchRun.quarantined and the
append-only QuarantineDecision table

A vintage that fails a plausibility gate (tracker.plausibility) is stored with its rows marked
quarantined: kept, never read by evaluation, and not closing the rows it would have revised.
The current-row unique index now takes `quarantined` after `indicator_id`, so a period has at
most one current used row and one pending quarantined row, and "the latest period in use" is
still one index seek. Existing rows are all unquarantined
(the server default), so an upgraded database reads exactly what it read before.

Revision ID: 0006_quarantine
Revises: 0005
Create Date: 2026-12-06 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import tracker.models

revision: str = "0006_quarantine"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("observation", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("quarantined", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.drop_index(
            "uq_observation_current",
            sqlite_where=sa.text("known_until IS NULL"),
            postgresql_where=sa.text("known_until IS NULL"),
        )
        batch_op.create_index(
            "uq_observation_current",
            ["indicator_id", "quarantined", "period"],
            unique=True,
            sqlite_where=sa.text("known_until IS NULL"),
            postgresql_where=sa.text("known_until IS NULL"),
        )
    with op.batch_alter_table("fetchrun", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("quarantined", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.create_table(
        "quarantinedecision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fetch_run_id", sa.Integer(), nullable=False),
        sa.Column("indicator_id", sa.Integer(), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("decided_at", tracker.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("by_fetch_run_id", sa.Integer(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["by_fetch_run_id"],
            ["fetchrun.id"],
            name=op.f("fk_quarantinedecision_by_fetch_run_id_fetchrun"),
        ),
        sa.ForeignKeyConstraint(
            ["fetch_run_id"],
            ["fetchrun.id"],
            name=op.f("fk_quarantinedecision_fetch_run_id_fetchrun"),
        ),
        sa.ForeignKeyConstraint(
            ["indicator_id"],
            ["indicator.id"],
            name=op.f("fk_quarantinedecision_indicator_id_indicator"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantinedecision")),
    )
    with op.batch_alter_table("quarantinedecision", schema=None) as batch_op:
        batch_op.create_index(
            "ix_quarantinedecision_run", ["fetch_run_id", "decided_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_quarantinedecision_indicator_id"), ["indicator_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("quarantinedecision", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quarantinedecision_indicator_id"))
        batch_op.drop_index("ix_quarantinedecision_run")
    op.drop_table("quarantinedecision")
    # quarantined rows are not history a database without quarantine can read: they go
    op.execute("DELETE FROM observation WHERE quarantined")
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        # in place (SQLite 3.35+): batch mode would copy the tables others refer to
        op.execute("ALTER TABLE fetchrun DROP COLUMN quarantined")
    else:
        op.drop_column("fetchrun", "quarantined")
    with op.batch_alter_table("observation", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_observation_current",
            sqlite_where=sa.text("known_until IS NULL"),
            postgresql_where=sa.text("known_until IS NULL"),
        )
        batch_op.create_index(
            "uq_observation_current",
            ["indicator_id", "period"],
            unique=True,
            sqlite_where=sa.text("known_until IS NULL"),
            postgresql_where=sa.text("known_until IS NULL"),
        )
    if sqlite:
        op.execute("ALTER TABLE observation DROP COLUMN quarantined")
    else:
        op.drop_column("observation", "quarantined")
