"""ami_event_archives: raw AMI events exported to files may leave ami_events, no other row may

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-04 19:40:00

`hotline ami archive` (calls/archive.py) writes a verified month file, records it here (id
range and PBX-time range), then deletes exactly those rows in short batches. The append-only
row trigger of ami_events now lets a DELETE through only for a row such a record covers;
UPDATE, any other DELETE and (PostgreSQL) TRUNCATE are still refused. SQLite: the delete
trigger gets a WHEN clause (DROP and CREATE TRIGGER, no copy of the table).
"""

import sqlalchemy as sa
from alembic import op

import hotline.db


revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

EventId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

COVERED = (
    "EXISTS (SELECT 1 FROM ami_event_archives a WHERE OLD.id BETWEEN a.first_id AND a.last_id "
    "AND OLD.received_at >= a.from_ts AND OLD.received_at < a.to_ts)"
)


def upgrade() -> None:
    op.create_table(
        "ami_event_archives",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("file", sa.String(length=200), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("first_id", EventId, nullable=False),
        sa.Column("last_id", EventId, nullable=False),
        sa.Column("from_ts", sa.Double(), nullable=False),
        sa.Column("to_ts", sa.Double(), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("archived_at", hotline.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER ami_events_no_delete")
        op.execute(
            "CREATE TRIGGER ami_events_no_delete BEFORE DELETE ON ami_events "
            f"WHEN NOT {COVERED} "
            "BEGIN SELECT RAISE(ABORT, 'ami_events is append-only'); END"
        )
    else:
        op.execute(
            "CREATE FUNCTION ami_events_archived_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN IF TG_OP = 'DELETE' AND {COVERED} THEN RETURN OLD; END IF; "
            "RAISE EXCEPTION 'ami_events is append-only'; END $$"
        )
        op.execute("DROP TRIGGER ami_events_append_only ON ami_events")
        op.execute(
            "CREATE TRIGGER ami_events_append_only BEFORE UPDATE OR DELETE ON ami_events "
            "FOR EACH ROW EXECUTE FUNCTION ami_events_archived_only()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER ami_events_no_delete")
        op.execute(
            "CREATE TRIGGER ami_events_no_delete BEFORE DELETE ON ami_events "
            "BEGIN SELECT RAISE(ABORT, 'ami_events is append-only'); END"
        )
    else:
        op.execute("DROP TRIGGER ami_events_append_only ON ami_events")
        op.execute(
            "CREATE TRIGGER ami_events_append_only BEFORE UPDATE OR DELETE ON ami_events "
            "FOR EACH ROW EXECUTE FUNCTION ami_events_append_only()"
        )
        op.execute("DROP FUNCTION ami_events_archived_only()")
    op.drop_table("ami_event_archives")
