"""raw AMI events carry a key: an event received again (a standby that takes over and replays
history overlapping what was stored) is not stored twice (issue 16)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04 17:20:00

Plain ADD COLUMN and CREATE INDEX (no batch copy of the table): on SQLite a rebuilt table
would lose the append-only triggers. Rows stored before stay without a key (the table is
append-only; NULL keys never conflict).
"""

import sqlalchemy as sa
from alembic import op


revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("ami_events", sa.Column("event_key", sa.String(length=32), nullable=True))
    op.create_index("ux_ami_events_source_key", "ami_events", ["source", "event_key"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_ami_events_source_key", table_name="ami_events")
    op.drop_column("ami_events", "event_key")
