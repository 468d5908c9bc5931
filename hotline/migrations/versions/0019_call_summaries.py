"""the agent's after-call summary (小结) kept with the call (issue 12)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04 19:30:00
"""

import sqlalchemy as sa
from alembic import op

from hotline.db import UTCDateTime

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "call_summaries",
        sa.Column("uniqueid", sa.String(length=64), nullable=False),
        sa.Column("agent_user_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.String(length=2000), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_user_id"], ["users.id"], name=op.f("fk_call_summaries_agent_user_id_users")
        ),
        sa.PrimaryKeyConstraint("uniqueid", name=op.f("pk_call_summaries")),
    )
    op.create_index(
        op.f("ix_call_summaries_agent_user_id"), "call_summaries", ["agent_user_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_call_summaries_agent_user_id"), table_name="call_summaries")
    op.drop_table("call_summaries")
