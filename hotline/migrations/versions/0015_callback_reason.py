"""missed-call callbacks say why they were opened (issue 16: callers of calls that ended
while the service was away are owed a call back too)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 17:30:00
"""

import sqlalchemy as sa
from alembic import op


revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("call_callbacks") as batch:
        batch.add_column(sa.Column("reason", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("call_callbacks") as batch:
        batch.drop_column("reason")
