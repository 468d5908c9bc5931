"""tickets: idempotency key of the creating request

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 17:00:00

A form submitted twice (a reload, a double click, a retry after a lost answer) names the same
key: the second submission answers the ticket the first one created (dispatch/service.py).
"""

import sqlalchemy as sa
from alembic import op


revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("idempotency_key", sa.String(length=64), nullable=True))
        batch_op.create_index(
            "ux_tickets_idempotency", ["created_by", "idempotency_key"], unique=True
        )


def downgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ux_tickets_idempotency")
        batch_op.drop_column("idempotency_key")
