"""knowledge base: daily use (searches that reached an article, unanswered searches)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 17:30:00

Per local day: settled searches that showed each article among the first hits, and settled
searches nothing answered or the agent rejected (knowledge_base/learning.py).
"""

import sqlalchemy as sa
from alembic import op


revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kb_daily_use",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("article_id", sa.String(length=32), nullable=False),
        sa.Column("reached", sa.Integer(), nullable=False),
        sa.Column("no_result", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "article_id", name=op.f("pk_kb_daily_use")),
    )


def downgrade() -> None:
    op.drop_table("kb_daily_use")
