"""ami_events partitioned by month on PostgreSQL (issue 16); stamped_at on both databases

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-04 20:00:00

The partition key must be part of every unique index of a partitioned table, and the event key
must stay unique per source (an event received again is a no-op, 0017). `received_at` cannot
be the key: for a stamped event it is the local time it arrived, so the same event received by
a standby has another. Hence `stamped_at`, a function of the event alone: its Timestamp header
(a stamped event: one whose key is set), or `received_at` for list items without one (they
carry no key), 0 for a Timestamp that is not a number. Same key => same headers => same
stamped_at, so UNIQUE (source, event_key, stamped_at) refuses exactly what UNIQUE (source,
event_key) refused.

PostgreSQL: the table is renamed, a partitioned one created (RANGE on stamped_at, one partition
per local month from the oldest stored event to three months ahead, and a DEFAULT one), every
row copied with its id (the id sequence moves over), counts compared, the old table dropped.
The append-only triggers are recreated on the partitioned table. New months get their
partition from calls.partitions (at the store's start and on archiving).

SQLite (not partitioned): the column, filled for the rows stored before (the UPDATE trigger is
lifted for it and put back in the same transaction), and the same unique index.
"""

import datetime as dt
import json
import re
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op


revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

SHANGHAI = ZoneInfo("Asia/Shanghai")
STAMP = (
    "CASE WHEN event_key IS NULL THEN received_at "
    "WHEN (headers::json->>'Timestamp') ~ '^[0-9]{1,12}(\\.[0-9]{1,9})?$' "
    "THEN (headers::json->>'Timestamp')::double precision ELSE 0 END"
)
STAMP_RE = re.compile(r"[0-9]{1,12}(\.[0-9]{1,9})?")
COLUMNS = "id, source, received_at, name, headers, event_key"


def _month_start(year: int, month: int) -> dt.datetime:
    return dt.datetime(year + (month - 1) // 12, (month - 1) % 12 + 1, 1, tzinfo=SHANGHAI)


def _months(first: float, last: float) -> list[tuple[str, float, float]]:
    start = dt.datetime.fromtimestamp(first, SHANGHAI)
    end = dt.datetime.fromtimestamp(last, SHANGHAI)
    out = []
    year, month = start.year, start.month
    while (year, month) <= (end.year, end.month):
        a, b = _month_start(year, month), _month_start(year, month + 1)
        out.append((f"{year:04d}_{month:02d}", a.timestamp(), b.timestamp()))
        year, month = b.year, b.month
    return out


def _triggers() -> None:
    op.execute(
        "CREATE TRIGGER ami_events_append_only BEFORE UPDATE OR DELETE ON ami_events "
        "FOR EACH ROW EXECUTE FUNCTION ami_events_archived_only()"
    )
    op.execute(
        "CREATE TRIGGER ami_events_no_truncate BEFORE TRUNCATE ON ami_events "
        "FOR EACH STATEMENT EXECUTE FUNCTION ami_events_append_only()"
    )


def _indexes(unique: str) -> None:
    op.execute("CREATE INDEX ix_ami_events_source_id ON ami_events (source, id)")
    op.execute("CREATE INDEX ix_ami_events_source_received_at ON ami_events (source, received_at)")
    op.execute(f"CREATE UNIQUE INDEX {unique}")


def _set_aside() -> int:
    """Renames ami_events out of the way (its indexes and triggers go); its row count."""
    for name in (
        "ix_ami_events_source_id",
        "ix_ami_events_source_received_at",
        "ux_ami_events_source_key",
    ):
        op.execute(f"DROP INDEX IF EXISTS {name}")
    op.execute("DROP TRIGGER ami_events_append_only ON ami_events")
    op.execute("DROP TRIGGER ami_events_no_truncate ON ami_events")
    op.execute("ALTER TABLE ami_events RENAME CONSTRAINT pk_ami_events TO pk_ami_events_old")
    op.execute("ALTER TABLE ami_events RENAME TO ami_events_old")
    return int(op.get_bind().execute(sa.text("SELECT count(*) FROM ami_events_old")).scalar_one())


def _moved(before: int) -> None:
    bind = op.get_bind()
    after = int(bind.execute(sa.text("SELECT count(*) FROM ami_events")).scalar_one())
    if after != before:
        raise RuntimeError(f"ami_events: {before} rows before, {after} after; nothing changed")
    op.execute("ALTER SEQUENCE ami_events_id_seq OWNED BY ami_events.id")
    op.execute("DROP TABLE ami_events_old")


def _stamp(headers: str, received_at: float, keyed: bool) -> float:
    """calls.models.stamped_at as of this revision."""
    if not keyed:
        return received_at
    stamp = json.loads(headers).get("Timestamp", "")
    return float(stamp) if STAMP_RE.fullmatch(stamp) else 0.0


def _sqlite_upgrade() -> None:
    bind = op.get_bind()
    op.add_column(
        "ami_events",
        sa.Column("stamped_at", sa.Double(), nullable=False, server_default="0"),
    )
    op.execute("DROP TRIGGER ami_events_no_update")
    last = 0
    while True:
        rows = bind.execute(
            sa.text(
                "SELECT id, headers, received_at, event_key FROM ami_events WHERE id > :last "
                "ORDER BY id LIMIT 10000"
            ),
            {"last": last},
        ).all()
        if not rows:
            break
        bind.execute(
            sa.text("UPDATE ami_events SET stamped_at = :stamp WHERE id = :id"),
            [
                {"id": r.id, "stamp": _stamp(r.headers, r.received_at, r.event_key is not None)}
                for r in rows
            ],
        )
        last = rows[-1].id
    op.execute(
        "CREATE TRIGGER ami_events_no_update BEFORE UPDATE ON ami_events "
        "BEGIN SELECT RAISE(ABORT, 'ami_events is append-only'); END"
    )
    op.drop_index("ux_ami_events_source_key", table_name="ami_events")
    op.create_index(
        "ux_ami_events_source_key",
        "ami_events",
        ["source", "event_key", "stamped_at"],
        unique=True,
    )


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        _sqlite_upgrade()
        return
    rows = _set_aside()
    op.execute(
        "CREATE TABLE ami_events ("
        "id bigint NOT NULL DEFAULT nextval('ami_events_id_seq'), "
        "source varchar(100) NOT NULL, received_at double precision NOT NULL, "
        "name varchar(64) NOT NULL, headers text NOT NULL, event_key varchar(32), "
        "stamped_at double precision NOT NULL, "
        "CONSTRAINT pk_ami_events PRIMARY KEY (id, stamped_at)"
        ") PARTITION BY RANGE (stamped_at)"
    )
    op.execute("CREATE TABLE ami_events_default PARTITION OF ami_events DEFAULT")
    now = dt.datetime.now(SHANGHAI).timestamp()
    first = bind.execute(
        sa.text(f"SELECT min({STAMP}) FROM ami_events_old WHERE ({STAMP}) > 0")
    ).scalar_one()
    # Older than five years (or a bogus Timestamp): the default partition.
    oldest = max(first if first is not None else now, now - 5 * 366 * 86400)
    for suffix, a, b in _months(oldest, now + 92 * 86400):
        op.execute(
            f"CREATE TABLE ami_events_{suffix} PARTITION OF ami_events "
            f"FOR VALUES FROM ({a!r}) TO ({b!r})"
        )
    op.execute(
        f"INSERT INTO ami_events ({COLUMNS}, stamped_at) "
        f"SELECT {COLUMNS}, {STAMP} FROM ami_events_old ORDER BY id"
    )
    _moved(rows)
    _indexes("ux_ami_events_source_key ON ami_events (source, event_key, stamped_at)")
    _triggers()


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        op.drop_index("ux_ami_events_source_key", table_name="ami_events")
        op.create_index(
            "ux_ami_events_source_key", "ami_events", ["source", "event_key"], unique=True
        )
        op.drop_column("ami_events", "stamped_at")
        return
    rows = _set_aside()
    op.execute(
        "CREATE TABLE ami_events ("
        "id bigint NOT NULL DEFAULT nextval('ami_events_id_seq'), "
        "source varchar(100) NOT NULL, received_at double precision NOT NULL, "
        "name varchar(64) NOT NULL, headers text NOT NULL, event_key varchar(32), "
        "CONSTRAINT pk_ami_events PRIMARY KEY (id))"
    )
    op.execute(
        f"INSERT INTO ami_events ({COLUMNS}) SELECT {COLUMNS} FROM ami_events_old ORDER BY id"
    )
    _moved(rows)
    _indexes("ux_ami_events_source_key ON ami_events (source, event_key)")
    _triggers()
