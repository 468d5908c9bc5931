"""call records: index on stored_at

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 13:00:00

The dashboard metrics keep tallies of the stored calls and read again only the calls stored
since their last look (calls/rollup.py).
"""

from alembic import op


revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_calls_stored_at"), ["stored_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_calls_stored_at"))
