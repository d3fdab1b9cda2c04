"""SchedulerLease.epoch: the fencing token of the scheduler lease

Every acquisition of the lease adds one; each scheduler write commits only while the row still
names its holder at its epoch (tracker.scheduler.Fence), so a holder that lost the lease (e.g.
frozen, then resumed) stores nothing. Existing rows start at 0.

Revision ID: 0007_lease_epoch
Revises: 0007_webhooks
Create Date: 2026-12-07 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_lease_epoch"
down_revision: str | None = "0007_webhooks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("schedulerlease", schema=None) as batch_op:
        batch_op.add_column(sa.Column("epoch", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("schedulerlease", schema=None) as batch_op:
        batch_op.drop_column("epoch")
