"""The chance of coming true: Evaluation.probability

A nullable float: the chance, from the projection's predictive distribution, that the claim's
criteria are met at the deadline (1 or 0 once resolved; NULL without a projection). Rows stored
before it (evaluator versions before 1.4.0) keep NULL: history is not rewritten.

Revision ID: 0007_probability
Revises: 0007_data_overdue
Create Date: 2026-12-07 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_probability"
down_revision: str | None = "0007_data_overdue"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("evaluation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("probability", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("evaluation", schema=None) as batch_op:
        batch_op.drop_column("probability")
