"""call records: index on queue

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-04 23:40:00

The reports list every queue of the stored calls by a loose index scan
(hotline.db.distinct_values): a seek per queue instead of reading every call.
"""

from alembic import op


revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_calls_queue"), ["queue"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_calls_queue"))
