"""knowledge base: articles with version history, change log, answers, flags, gaps

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-26
"""

from alembic import op
import sqlalchemy as sa
import hotline.db


revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None


def _content_columns() -> list[sa.Column]:
    # The 办事指南 fields shared by kb_articles and kb_article_versions.
    return [
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("questions", sa.JSON(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("category", sa.String(length=50), nullable=False),
        sa.Column("unit", sa.String(length=200), nullable=True),
        sa.Column("basis", sa.Text(), nullable=True),
        sa.Column("time_limit", sa.String(length=200), nullable=True),
        sa.Column("materials", sa.JSON(), nullable=False),
        sa.Column("fee", sa.String(length=200), nullable=True),
        sa.Column("contact", sa.String(length=200), nullable=True),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.Column("policy_changed_at", hotline.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", hotline.db.UTCDateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "kb_articles",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("published_at", hotline.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("policy_published_at", hotline.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", hotline.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("changed_at", hotline.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("changed_by", sa.String(length=64), nullable=False),
        *_content_columns(),
        sa.CheckConstraint(
            "status IN ('draft', 'published', 'retired')", name=op.f("ck_kb_articles_status_known")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_articles")),
    )
    with op.batch_alter_table("kb_articles", schema=None) as batch_op:
        batch_op.create_index(
            "ix_kb_articles_status_category", ["status", "category"], unique=False
        )

    op.create_table(
        "kb_article_versions",
        sa.Column("article_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("author", sa.String(length=64), nullable=False),
        sa.Column("at", hotline.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("published_at", hotline.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        *_content_columns(),
        sa.CheckConstraint(
            "action IN ('create', 'edit', 'publish', 'retire', 'import')",
            name=op.f("ck_kb_article_versions_action_known"),
        ),
        sa.CheckConstraint(
            "status IN ('draft', 'published', 'retired')",
            name=op.f("ck_kb_article_versions_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["kb_articles.id"],
            name=op.f("fk_kb_article_versions_article_id_kb_articles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("article_id", "version", name=op.f("pk_kb_article_versions")),
    )

    op.create_table(
        "kb_revision",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_revision")),
    )
    op.create_table(
        "kb_changes",
        sa.Column("revision", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("article_id", sa.String(length=32), nullable=False),
        sa.Column("at", hotline.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("revision", "article_id", name=op.f("pk_kb_changes")),
    )

    op.create_table(
        "kb_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=True),
        sa.Column("query", sa.String(length=500), nullable=True),
        sa.Column("at", hotline.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["users.id"], name=op.f("fk_kb_answers_agent_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["article_id"], ["kb_articles.id"], name=op.f("fk_kb_answers_article_id_kb_articles")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_answers")),
    )
    with op.batch_alter_table("kb_answers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_kb_answers_agent_id"), ["agent_id"], unique=False)
        batch_op.create_index("ix_kb_answers_article", ["article_id", "at"], unique=False)
        batch_op.create_index(batch_op.f("ix_kb_answers_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_kb_answers_call_id"), ["call_id"], unique=False)

    op.create_table(
        "kb_flags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reporter_id", sa.Integer(), nullable=False),
        sa.Column("created_at", hotline.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("resolved_by_id", sa.Integer(), nullable=True),
        sa.Column("resolved_at", hotline.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('wrong', 'outdated', 'other')", name=op.f("ck_kb_flags_kind_known")
        ),
        sa.CheckConstraint("status IN ('open', 'resolved')", name=op.f("ck_kb_flags_status_known")),
        sa.ForeignKeyConstraint(
            ["article_id"], ["kb_articles.id"], name=op.f("fk_kb_flags_article_id_kb_articles")
        ),
        sa.ForeignKeyConstraint(
            ["reporter_id"], ["users.id"], name=op.f("fk_kb_flags_reporter_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by_id"], ["users.id"], name=op.f("fk_kb_flags_resolved_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_flags")),
    )
    with op.batch_alter_table("kb_flags", schema=None) as batch_op:
        batch_op.create_index("ix_kb_flags_status_article", ["status", "article_id"], unique=False)

    op.create_table(
        "kb_gaps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("query", sa.String(length=200), nullable=False),
        sa.Column("sample", sa.String(length=500), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("no_result_count", sa.Integer(), nullable=False),
        sa.Column("rejected_count", sa.Integer(), nullable=False),
        sa.Column("first_seen", hotline.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen", hotline.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", hotline.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.String(length=64), nullable=True),
        sa.Column("resolution_article_id", sa.String(length=32), nullable=True),
        sa.Column("resolution_note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_gaps")),
        sa.UniqueConstraint("query", name=op.f("uq_kb_gaps_query")),
    )
    with op.batch_alter_table("kb_gaps", schema=None) as batch_op:
        batch_op.create_index("ix_kb_gaps_open_count", ["resolved_at", "count"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("kb_gaps", schema=None) as batch_op:
        batch_op.drop_index("ix_kb_gaps_open_count")
    op.drop_table("kb_gaps")
    with op.batch_alter_table("kb_flags", schema=None) as batch_op:
        batch_op.drop_index("ix_kb_flags_status_article")
    op.drop_table("kb_flags")
    with op.batch_alter_table("kb_answers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kb_answers_call_id"))
        batch_op.drop_index(batch_op.f("ix_kb_answers_at"))
        batch_op.drop_index("ix_kb_answers_article")
        batch_op.drop_index(batch_op.f("ix_kb_answers_agent_id"))
    op.drop_table("kb_answers")
    op.drop_table("kb_changes")
    op.drop_table("kb_revision")
    op.drop_table("kb_article_versions")
    with op.batch_alter_table("kb_articles", schema=None) as batch_op:
        batch_op.drop_index("ix_kb_articles_status_category")
    op.drop_table("kb_articles")
