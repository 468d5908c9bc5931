"""calendar_years: holiday schedules entered by an admin

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 17:25:00

The State Council publishes next year's schedule in the autumn; an admin enters it in a page
instead of waiting for a release (hotline/workcalendar.py).
"""

import sqlalchemy as sa
from alembic import op

import hotline.db


revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calendar_years",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("holidays", sa.JSON(), nullable=False),
        sa.Column("workdays", sa.JSON(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.Column("updated_at", hotline.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_calendar_years")),
    )


def downgrade() -> None:
    op.drop_table("calendar_years")
