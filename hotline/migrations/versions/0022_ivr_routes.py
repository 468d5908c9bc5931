"""ivr_routes: the entry and category the IVR gave each queued call

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-04 20:00:00

The category (the entry's preset or the caller's menu choice) lived only in the channel
variable IVR_CATEGORY; kept here by the call's Uniqueid, the agent's screen pop reads it.
"""

import sqlalchemy as sa
from alembic import op

import hotline.db


revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ivr_routes",
        sa.Column("uniqueid", sa.String(length=64), nullable=False),
        sa.Column("entry", sa.String(length=20), nullable=False),
        sa.Column("category", sa.String(length=80), nullable=False),
        sa.Column("queue", sa.String(length=80), nullable=False),
        sa.Column("at", hotline.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("uniqueid", name=op.f("pk_ivr_routes")),
    )
    op.create_index("ix_ivr_routes_at", "ivr_routes", ["at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_ivr_routes_at", table_name="ivr_routes")
    op.drop_table("ivr_routes")
