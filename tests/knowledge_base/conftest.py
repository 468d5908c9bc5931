"""Shared fixtures: the shipped sample articles, the default index, the dev queries."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge_base.evaluation import LabelledQuery, parse_queries
from knowledge_base.search import ArticleDoc, SearchIndex, default_articles
from knowledge_base.synonyms import default_synonyms

SHARED_KB = Path(__file__).resolve().parents[3] / "shared" / "kb"


def _shared_file(name: str) -> Path:
    path = SHARED_KB / name
    if not path.is_file():
        pytest.fail(
            f"{path} is missing: the knowledge-base quality tests need the shared sample data "
            f"(expected at ../shared/kb/ next to the repository)",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session")
def articles() -> list[ArticleDoc]:
    return default_articles()


@pytest.fixture(scope="session")
def index(articles: list[ArticleDoc]) -> SearchIndex:
    """Built once per session; tests must not modify it (build their own to mutate)."""
    return SearchIndex.build(articles, default_synonyms())


@pytest.fixture(scope="session")
def dev_queries() -> list[LabelledQuery]:
    return parse_queries(_shared_file("queries-dev.jsonl").read_text("utf-8").splitlines())


@pytest.fixture(scope="session")
def shared_articles_text() -> str:
    return _shared_file("articles.jsonl").read_text("utf-8")
