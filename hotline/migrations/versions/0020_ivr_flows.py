"""ivr_flows: IVR flow versions admins saved on /admin/ivr

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04 19:40:00

The flow was a file only (ivr.flow_file or the packaged one), read by each instance; a saved
version in the database reaches every instance (ivr.flowstore), the newest valid one runs.
"""

import sqlalchemy as sa
from alembic import op

import hotline.db


revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ivr_flows",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("saved_by", sa.String(length=64), nullable=False),
        sa.Column("saved_at", hotline.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_ivr_flows")),
    )


def downgrade() -> None:
    op.drop_table("ivr_flows")
