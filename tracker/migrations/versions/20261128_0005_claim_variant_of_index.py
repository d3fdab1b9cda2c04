"""Claim: an index on variant_of

A claim's page and GET /api/v1/claims/{slug} list the claims that are variant readings of it
(`variant_of` = its slug), and the API's cached body is checked against them on every read:
an index lookup instead of a scan of the claim table. No row changes.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 09:18:11.352219+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("claim", schema=None) as batch_op:
        batch_op.create_index("ix_claim_variant_of", ["variant_of"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("claim", schema=None) as batch_op:
        batch_op.drop_index("ix_claim_variant_of")
