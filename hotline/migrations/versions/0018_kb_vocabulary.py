"""kb_vocabulary: the search vocabulary lists as editors saved them

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04 17:40:00

Synonyms, concepts and spoken forms were package data only; an editor's saved list replaces
the shipped one (knowledge_base/vocabulary.py).
"""

import sqlalchemy as sa
from alembic import op

import hotline.db


revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kb_vocabulary",
        sa.Column("name", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.Column("updated_at", hotline.db.UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "name IN ('synonyms', 'concepts', 'spoken')", name=op.f("ck_kb_vocabulary_name_known")
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_kb_vocabulary")),
    )


def downgrade() -> None:
    op.drop_table("kb_vocabulary")
