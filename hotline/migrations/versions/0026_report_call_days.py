"""report_call_days: past days' call history folded once and kept (issue 15: a month's history
does not scan raw rows, after a restart or in each worker either)

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-04 22:00:00
"""

import sqlalchemy as sa
from alembic import op

from hotline.db import UTCDateTime

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_call_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("dimension", sa.String(length=8), nullable=False),
        sa.Column("queue", sa.String(length=100), nullable=False),
        sa.Column("agent", sa.String(length=100), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("folded_at", UTCDateTime(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint(
            "day", "dimension", "queue", "agent", name=op.f("pk_report_call_days")
        ),
    )


def downgrade() -> None:
    op.drop_table("report_call_days")
