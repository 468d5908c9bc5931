"""ivr: post-call satisfaction surveys

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 16:30:00

One row per queue call the caller scored (or did not) after the agent hung up, keyed by the
caller channel's Uniqueid, with the agent (Queue's MEMBERNAME).
"""

from alembic import op
import sqlalchemy as sa

import hotline.db


revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ivr_surveys",
        sa.Column("uniqueid", sa.String(length=64), nullable=False),
        sa.Column("agent", sa.String(length=120), nullable=False),
        sa.Column("queue", sa.String(length=80), nullable=False),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("at", hotline.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("score IS NULL OR score IN (1, 2, 3)", name="ck_ivr_surveys_score"),
        sa.PrimaryKeyConstraint("uniqueid"),
    )
    op.create_index("ix_ivr_surveys_agent_at", "ivr_surveys", ["agent", "at"], unique=False)
    op.create_index("ix_ivr_surveys_at", "ivr_surveys", ["at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_ivr_surveys_at", table_name="ivr_surveys")
    op.drop_index("ix_ivr_surveys_agent_at", table_name="ivr_surveys")
    op.drop_table("ivr_surveys")
