"""Webhooks: subscriptions, the outbox of events, deliveries and their attempts

New tables only (tracker.webhooks); nothing existing changes. The outbox (webhookevent) is
written in the transaction of the change it describes; deliveries are one per event and
subscription (unique), each try logged in webhookattempt.

Revision ID: 0007_webhooks
Revises: 0007_probability
Create Date: 2026-12-07 02:23:37.287897
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import tracker.models

revision: str = "0007_webhooks"
down_revision: str | None = "0007_probability"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "webhooksubscription",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("filter", sa.JSON(), nullable=False),
        sa.Column("deadline_days", sa.Integer(), nullable=False),
        sa.Column("secret", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("previous_secret", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column(
            "previous_secret_until", tracker.models.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("created_at", tracker.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("failing_since", tracker.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("disabled_at", tracker.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("disabled_reason", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("deleted_at", tracker.models.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhooksubscription")),
    )
    op.create_table(
        "webhookevent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("type", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("claim_id", sa.Integer(), nullable=True),
        sa.Column("evaluation_id", sa.Integer(), nullable=True),
        sa.Column("resolution_id", sa.Integer(), nullable=True),
        sa.Column("fetch_run_id", sa.Integer(), nullable=True),
        sa.Column("subscription_id", sa.Integer(), nullable=True),
        sa.Column("dedupe_key", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.Column("created_at", tracker.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("dispatched_at", tracker.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claim.id"], name=op.f("fk_webhookevent_claim_id_claim")
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["webhooksubscription.id"],
            name=op.f("fk_webhookevent_subscription_id_webhooksubscription"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhookevent")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_webhookevent_dedupe_key")),
        sa.UniqueConstraint("uid", name=op.f("uq_webhookevent_uid")),
    )
    with op.batch_alter_table("webhookevent", schema=None) as batch_op:
        batch_op.create_index("ix_webhookevent_pending", ["dispatched_at", "id"], unique=False)

    op.create_table(
        "webhookdelivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", tracker.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", tracker.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", tracker.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", tracker.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_id"], ["webhookevent.id"], name=op.f("fk_webhookdelivery_event_id_webhookevent")
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["webhooksubscription.id"],
            name=op.f("fk_webhookdelivery_subscription_id_webhooksubscription"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhookdelivery")),
        sa.UniqueConstraint(
            "event_id", "subscription_id", name=op.f("uq_webhookdelivery_event_id")
        ),
    )
    with op.batch_alter_table("webhookdelivery", schema=None) as batch_op:
        batch_op.create_index("ix_webhookdelivery_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index(
            "ix_webhookdelivery_subscription", ["subscription_id", "id"], unique=False
        )

    op.create_table(
        "webhookattempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("started_at", tracker.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", tracker.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=True),
        sa.Column("error", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("holder", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("replay", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["webhookdelivery.id"],
            name=op.f("fk_webhookattempt_delivery_id_webhookdelivery"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhookattempt")),
        sa.UniqueConstraint("delivery_id", "number", name=op.f("uq_webhookattempt_delivery_id")),
    )
    with op.batch_alter_table("webhookattempt", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_webhookattempt_delivery_id"), ["delivery_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("webhookattempt", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhookattempt_delivery_id"))

    op.drop_table("webhookattempt")
    with op.batch_alter_table("webhookdelivery", schema=None) as batch_op:
        batch_op.drop_index("ix_webhookdelivery_subscription")
        batch_op.drop_index("ix_webhookdelivery_due")

    op.drop_table("webhookdelivery")
    with op.batch_alter_table("webhookevent", schema=None) as batch_op:
        batch_op.drop_index("ix_webhookevent_pending")

    op.drop_table("webhookevent")
    op.drop_table("webhooksubscription")
