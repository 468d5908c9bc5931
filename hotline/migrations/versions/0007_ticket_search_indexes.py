"""ticket search indexes: similar open tickets by district or category, newly answered tickets

Revision ID: 0007
Revises: 0004
Create Date: 2026-12-03 12:40:00

The similar-ticket search runs on every ticket created: the newest open tickets of the caller's
district and of the request's category, each side walked newest first in its own index, status
and age read from the index. The router reads the tickets answered since its last look.
"""

from alembic import op


revision = "0007"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.create_index(
            "ix_tickets_district_recent", ["district", "id", "status", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_tickets_category_recent", ["category", "id", "status", "created_at"], unique=False
        )
        batch_op.create_index("ix_tickets_replied", ["replied_at", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_tickets_replied")
        batch_op.drop_index("ix_tickets_category_recent")
        batch_op.drop_index("ix_tickets_district_recent")
