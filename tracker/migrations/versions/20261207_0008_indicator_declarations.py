"""Indicators declared over the API: Indicator.origin and the append-only IndicatorRevision

`origin` is `file` for every existing row (they all came from indicators.yaml) and `api` for an
indicator declared through `POST /api/v1/indicators` or the dashboard's form; a claims sync
leaves the latter alone until a file lists it. Each declaration is kept as an IndicatorRevision.

Revision ID: 0008_indicator_declarations
Revises: 0007_lease_epoch
Create Date: 2026-12-07 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import tracker.models

revision: str = "0008_indicator_declarations"
down_revision: str | None = "0007_lease_epoch"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("indicator", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "origin",
                sqlmodel.sql.sqltypes.AutoString(length=10),
                server_default="file",
                nullable=False,
            )
        )
    op.create_table(
        "indicatorrevision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("indicator_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("change", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("origin", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("author", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("created_at", tracker.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["indicator_id"],
            ["indicator.id"],
            name=op.f("fk_indicatorrevision_indicator_id_indicator"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_indicatorrevision")),
        sa.UniqueConstraint(
            "indicator_id", "version", name=op.f("uq_indicatorrevision_indicator_id")
        ),
    )
    with op.batch_alter_table("indicatorrevision", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_indicatorrevision_indicator_id"), ["indicator_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("indicatorrevision", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_indicatorrevision_indicator_id"))
    op.drop_table("indicatorrevision")
    with op.batch_alter_table("indicator", schema=None) as batch_op:
        batch_op.drop_column("origin")
