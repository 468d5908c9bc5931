"""live_boards: each PBX's live board as its leading instance sees it, for the others (issue 16)

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-04 20:00:00
"""

import sqlalchemy as sa
from alembic import op

from hotline.db import UTCDateTime

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "live_boards",
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("restore_from", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("source", name=op.f("pk_live_boards")),
    )


def downgrade() -> None:
    op.drop_table("live_boards")
