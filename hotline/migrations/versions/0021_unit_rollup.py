"""unit ranking rollup: each assignment's counts and the sums per unit and month (issue 15)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-04 19:40:00

The ranking (承办单位考核) read every ticket of the month with its history: 3-6 s with
200,000 tickets. reports/unitrollup.py keeps what each assignment counts and the month's sums
per unit. Triggers keep it in step in the changing transaction, whatever writes the ticket:
a ticket event, or a change of the ticket's type, urgency or deadlines, queues its number
(only while the rollup is built: before, the first read builds it from every ticket); a change
of a unit's term or of the holiday calendar deletes the state row, so the next read rebuilds
(the deadlines of earlier assignments are worked out again from both).
"""

import sqlalchemy as sa
from alembic import op

import hotline.db


revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

BUILT = "EXISTS (SELECT 1 FROM report_unit_state)"
TICKET_CHANGED = (
    "OLD.type IS DISTINCT FROM NEW.type OR OLD.urgency IS DISTINCT FROM NEW.urgency"
    " OR OLD.acknowledge_due IS DISTINCT FROM NEW.acknowledge_due"
    " OR OLD.due IS DISTINCT FROM NEW.due"
)
UNIT_CHANGED = "OLD.default_deadline_workdays IS DISTINCT FROM NEW.default_deadline_workdays"


def _tables() -> None:
    op.create_table(
        "report_unit_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("ready", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_unit_state")),
    )
    op.create_table(
        "report_ticket_queue",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket", sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_ticket_queue")),
    )
    op.create_table(
        "report_unit_assignments",
        sa.Column("ticket", sa.String(length=20), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("unit", sa.String(length=32), nullable=False),
        sa.Column("at", hotline.db.UTCDateTime(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("signed", sa.Integer(), nullable=False),
        sa.Column("signed_on_time", sa.Integer(), nullable=False),
        sa.Column("ack_pending", hotline.db.UTCDateTime(), nullable=True),
        sa.Column("replied", sa.Integer(), nullable=False),
        sa.Column("replied_on_time", sa.Integer(), nullable=False),
        sa.Column("due_pending", hotline.db.UTCDateTime(), nullable=True),
        sa.Column("returned", sa.Integer(), nullable=False),
        sa.Column("extended", sa.Integer(), nullable=False),
        sa.Column("callbacks", sa.Integer(), nullable=False),
        sa.Column("resolved", sa.Integer(), nullable=False),
        sa.Column("satisfied", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("ticket", "seq", name=op.f("pk_report_unit_assignments")),
    )
    op.create_index("ix_report_unit_assignments_at", "report_unit_assignments", ["at"])
    op.create_index(
        "ix_report_unit_assignments_ack",
        "report_unit_assignments",
        ["month", "ack_pending", "unit"],
    )
    op.create_index(
        "ix_report_unit_assignments_due",
        "report_unit_assignments",
        ["month", "due_pending", "unit"],
    )
    op.create_table(
        "report_unit_months",
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("unit", sa.String(length=32), nullable=False),
        *(
            sa.Column(name, sa.Integer(), nullable=False)
            for name in (
                "assigned",
                "signed",
                "signed_on_time",
                "replied",
                "replied_on_time",
                "returned",
                "extended",
                "callbacks",
                "resolved",
                "satisfied",
            )
        ),
        sa.PrimaryKeyConstraint("month", "unit", name=op.f("pk_report_unit_months")),
    )


def upgrade() -> None:
    _tables()
    if op.get_bind().dialect.name == "sqlite":
        sqlite_changed = TICKET_CHANGED.replace("IS DISTINCT FROM", "IS NOT")
        op.execute(
            "CREATE TRIGGER report_queue_ticket_event AFTER INSERT ON ticket_events "
            f"WHEN {BUILT} BEGIN "
            "INSERT INTO report_ticket_queue (ticket) "
            "SELECT number FROM tickets WHERE id = NEW.ticket_id; END"
        )
        op.execute(
            "CREATE TRIGGER report_queue_ticket_row AFTER UPDATE ON tickets "
            f"WHEN {BUILT} AND ({sqlite_changed}) BEGIN "
            "INSERT INTO report_ticket_queue (ticket) VALUES (NEW.number); END"
        )
        unit_changed = UNIT_CHANGED.replace("IS DISTINCT FROM", "IS NOT")
        op.execute(
            "CREATE TRIGGER report_stale_unit_term AFTER UPDATE ON units "
            f"WHEN {unit_changed} BEGIN DELETE FROM report_unit_state; END"
        )
        for verb in ("INSERT", "UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER report_stale_calendar_{verb.lower()} AFTER {verb} "
                "ON calendar_years BEGIN DELETE FROM report_unit_state; END"
            )
        return
    op.execute(
        "CREATE FUNCTION report_queue_ticket_event() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN IF {BUILT} THEN "
        "INSERT INTO report_ticket_queue (ticket) "
        "SELECT number FROM tickets WHERE id = NEW.ticket_id; END IF; RETURN NULL; END $$"
    )
    op.execute(
        "CREATE TRIGGER report_queue_ticket_event AFTER INSERT ON ticket_events "
        "FOR EACH ROW EXECUTE FUNCTION report_queue_ticket_event()"
    )
    op.execute(
        "CREATE FUNCTION report_queue_ticket_row() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN IF {BUILT} THEN "
        "INSERT INTO report_ticket_queue (ticket) VALUES (NEW.number); END IF; "
        "RETURN NULL; END $$"
    )
    op.execute(
        "CREATE TRIGGER report_queue_ticket_row AFTER UPDATE ON tickets "
        f"FOR EACH ROW WHEN ({TICKET_CHANGED}) EXECUTE FUNCTION report_queue_ticket_row()"
    )
    op.execute(
        "CREATE FUNCTION report_stale() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN DELETE FROM report_unit_state; RETURN NULL; END $$"
    )
    op.execute(
        "CREATE TRIGGER report_stale_unit_term AFTER UPDATE ON units "
        f"FOR EACH ROW WHEN ({UNIT_CHANGED}) EXECUTE FUNCTION report_stale()"
    )
    op.execute(
        "CREATE TRIGGER report_stale_calendar AFTER INSERT OR UPDATE OR DELETE ON calendar_years "
        "FOR EACH STATEMENT EXECUTE FUNCTION report_stale()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in (
            "report_queue_ticket_event",
            "report_queue_ticket_row",
            "report_stale_unit_term",
            "report_stale_calendar_insert",
            "report_stale_calendar_update",
            "report_stale_calendar_delete",
        ):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    else:
        for name, table in (
            ("report_queue_ticket_event", "ticket_events"),
            ("report_queue_ticket_row", "tickets"),
            ("report_stale_unit_term", "units"),
            ("report_stale_calendar", "calendar_years"),
        ):
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        for name in ("report_queue_ticket_event", "report_queue_ticket_row", "report_stale"):
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    for table in (
        "report_unit_months",
        "report_unit_assignments",
        "report_ticket_queue",
        "report_unit_state",
    ):
        op.drop_table(table)
