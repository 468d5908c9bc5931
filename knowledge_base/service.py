"""Knowledge-base use cases: article editing with version history, the per-process live search
index, answers, flags and gaps.

Every writing use case runs in one transaction (`Database.write()`), bumps the KB revision
counter first (which serialises KB writers on both databases) and records which articles it
touched in `kb_changes` at that revision; each process's `LiveIndex` polls the change log and
reloads those articles, so publishing, editing or retiring reaches every process's search.
"""

from __future__ import annotations

# The use cases live in modules by concern; this module re-exports their public names,
# so `from knowledge_base.service import X` and `service.X` keep working.
from hotline.db import utcnow
from knowledge_base.articles import (
    ArticleFilter,
    bump_revision,
    can_see,
    categories,
    create_article,
    get_article,
    get_version,
    list_articles,
    list_versions,
    publish_article,
    retire_article,
    snapshot,
    update_article,
)
from knowledge_base.content import (
    CONTENT_FIELDS,
    EDITORS,
    FIELD_LABELS_ZH,
    INPUT_FIELDS,
    OVERSEERS,
    ArticleInput,
    apply_content,
    check_article_id,
    doc_of,
    local_iso,
    parse_input,
    parse_time,
    same_content,
)
from knowledge_base.diff import (
    FieldDiff,
    VersionDiff,
    diff_versions,
)
from knowledge_base.feedback import (
    ANSWER_QUERY_MAX,
    GAP_QUERY_MAX,
    MIN_QUERY_CHARS,
    AnswerCount,
    FlagView,
    answer_counts,
    clean_query,
    flag_article,
    list_answers,
    list_flags,
    list_gaps,
    normalize_query,
    record_answer,
    record_gap,
    resolve_flag,
    resolve_gap,
    searchable,
)
from knowledge_base.index import (
    REBUILD_THRESHOLD,
    LiveIndex,
    Meta,
    build_index,
    published_docs,
)
from knowledge_base.policy import (
    UpdateDeadline,
    track_policy,
    update_deadline,
)

__all__ = [
    "utcnow",
    "ArticleFilter",
    "bump_revision",
    "can_see",
    "categories",
    "create_article",
    "get_article",
    "get_version",
    "list_articles",
    "list_versions",
    "publish_article",
    "retire_article",
    "snapshot",
    "update_article",
    "CONTENT_FIELDS",
    "EDITORS",
    "FIELD_LABELS_ZH",
    "INPUT_FIELDS",
    "OVERSEERS",
    "ArticleInput",
    "apply_content",
    "check_article_id",
    "doc_of",
    "local_iso",
    "parse_input",
    "parse_time",
    "same_content",
    "FieldDiff",
    "VersionDiff",
    "diff_versions",
    "ANSWER_QUERY_MAX",
    "GAP_QUERY_MAX",
    "MIN_QUERY_CHARS",
    "AnswerCount",
    "FlagView",
    "answer_counts",
    "clean_query",
    "flag_article",
    "list_answers",
    "list_flags",
    "list_gaps",
    "normalize_query",
    "record_answer",
    "record_gap",
    "resolve_flag",
    "resolve_gap",
    "searchable",
    "REBUILD_THRESHOLD",
    "LiveIndex",
    "Meta",
    "build_index",
    "published_docs",
    "UpdateDeadline",
    "track_policy",
    "update_deadline",
]
