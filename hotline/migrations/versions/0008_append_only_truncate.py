"""append-only tables refuse TRUNCATE too (PostgreSQL)

Revision ID: 0008
Revises: 0005
Create Date: 2026-12-03

Row triggers refuse UPDATE and DELETE on the audit log, ticket history, raw AMI events and
call-back attempts; TRUNCATE fires no row trigger, so each also gets a statement trigger.
"""

from hotline.migrations.helpers import no_truncate_down, no_truncate_up


revision = "0008"
down_revision = "0005"
branch_labels = None
depends_on = ("0004",)

TABLES = ("audit_log", "ticket_events", "ami_events", "call_callback_attempts")


def upgrade() -> None:
    for table in TABLES:
        no_truncate_up(table)


def downgrade() -> None:
    for table in TABLES:
        no_truncate_down(table)
