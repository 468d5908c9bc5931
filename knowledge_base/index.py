"""The per-process live search index over published articles, kept current by polling the
change log (`kb_changes`), and one-off indexes for the batch CLI commands."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections import Counter
from dataclasses import dataclass
from typing import Iterable

from sqlalchemy import func, select

from hotline.db import Database, upsert, utcnow
from hotline.errors import Conflict
from hotline.localtime import SHANGHAI
from knowledge_base.content import doc_of
from knowledge_base.feedback import clean_query
from knowledge_base.models import Article, Change, DailyUse
from knowledge_base.search import ArticleDoc, Hit, SearchIndex
from knowledge_base import vocabulary
from knowledge_base.synonyms import Synonyms, default_synonyms
from knowledge_base.text import RAW_QUERY_LIMIT

log = logging.getLogger("hotline.kb")

# Past this many changed articles in one poll, the index is rebuilt off the event loop
# instead of updated article by article (an upsert costs a few ms of CPU on the loop).
REBUILD_THRESHOLD = 200


# ---------------------------------------------------------------------- live search index


@dataclass(frozen=True, slots=True)
class Meta:
    version: int
    category: str


class LiveIndex:
    """This process's search index over published articles.

    `load` builds it from the database; `sync` applies the changes recorded since (an
    article whose current state is published is upserted, anything else removed). Both are
    idempotent: a change applied twice gives the same index."""

    def __init__(self, synonyms: Synonyms | None = None) -> None:
        self._synonyms = synonyms  # None: the editors' vocabulary (knowledge_base.vocabulary)
        self._vocabulary: tuple[int, int | None] | None = None
        self.index: SearchIndex | None = None
        self.meta: dict[str, Meta] = {}
        self.revision = 0
        self._lock = asyncio.Lock()
        # Settled searches that showed each article, per local day, not yet written.
        self._reached: Counter[tuple[dt.date, str]] = Counter()

    @property
    def ready(self) -> bool:
        return self.index is not None

    async def _rebuild(self, db: Database) -> None:
        async with db.read() as s:
            # The revision is read before the articles: a change committed in between is
            # applied again by the next sync, which is harmless.
            revision = await s.scalar(select(func.max(Change.revision))) or 0
            rows = list(await s.scalars(select(Article).where(Article.status == "published")))
        docs = [doc_of(a) for a in rows]
        synonyms = self._synonyms
        if synonyms is None:
            self._vocabulary = await vocabulary.stamp(db)
            synonyms = await vocabulary.current(db)

        def build() -> SearchIndex:
            return SearchIndex.build(docs, synonyms or default_synonyms())

        # Building costs a few ms per article of pure Python: off the event loop.
        self.index = await asyncio.to_thread(build)
        self.meta = {a.id: Meta(a.version, a.category) for a in rows}
        self.revision = revision
        log.info(
            "knowledge base: search index of %d published articles at revision %d",
            len(rows),
            revision,
        )

    async def load(self, db: Database) -> None:
        async with self._lock:
            await self._rebuild(db)

    async def sync(self, db: Database) -> int:
        """Apply changes committed since the last sync; returns how many articles changed."""
        async with self._lock:
            if self.index is None or (
                self._synonyms is None and await vocabulary.stamp(db) != self._vocabulary
            ):
                # First use, or an editor saved a vocabulary list: every article is indexed
                # again with it.
                await self._rebuild(db)
                return len(self.meta)
            async with db.read() as s:
                rows = list(
                    await s.execute(
                        select(Change.revision, Change.article_id)
                        .where(Change.revision > self.revision)
                        .order_by(Change.revision)
                    )
                )
                if not rows:
                    return 0
                ids = {a for _, a in rows}
                if len(ids) > REBUILD_THRESHOLD:
                    articles = None
                else:
                    articles = {
                        a.id: a for a in await s.scalars(select(Article).where(Article.id.in_(ids)))
                    }
            if articles is None:
                await self._rebuild(db)
                return len(ids)
            for article_id in sorted(ids):
                article = articles.get(article_id)
                if article is not None and article.status == "published":
                    self.index.upsert(doc_of(article))
                    self.meta[article_id] = Meta(article.version, article.category)
                else:
                    self.index.remove(article_id)
                    self.meta.pop(article_id, None)
            self.revision = max(r for r, _ in rows)
            log.info(
                "knowledge base: applied changes to %d article(s), now at revision %d",
                len(ids),
                self.revision,
            )
            return len(ids)

    def search(self, query: str, limit: int = 5, category: str | None = None) -> list[Hit]:
        if self.index is None:
            raise Conflict(
                "the knowledge base index is still loading; try again in a moment",
                zh="知识库索引正在加载，请稍后再试",
            )
        return self.index.search(
            clean_query(query, RAW_QUERY_LIMIT), limit=limit, category=category
        )

    def categories(self) -> list[tuple[str, int]]:
        return sorted(Counter(m.category for m in self.meta.values()).items())

    def note_reached(self, article_ids: Iterable[str]) -> None:
        """Count a settled search that showed these articles; written by flush_reached (a
        write per search would cost the search its speed)."""
        day = utcnow().astimezone(SHANGHAI).date()
        self._reached.update((day, a) for a in article_ids)

    async def flush_reached(self, db: Database) -> int:
        """Write the counts noted since the last flush (kept for the next one if the write
        fails); returns how many (day, article) rows were written."""
        pending, self._reached = self._reached, Counter()
        if not pending:
            return 0
        try:
            async with db.write() as s:
                table = DailyUse.__table__
                for (day, article_id), n in sorted(pending.items()):
                    await s.execute(
                        upsert(
                            s,
                            table,
                            {
                                "day": day,
                                "article_id": article_id,
                                "reached": n,
                                "no_result": 0,
                                "rejected": 0,
                            },
                            index_elements=[table.c.day, table.c.article_id],
                            set_={"reached": table.c.reached + n},
                        )
                    )
        except BaseException:
            self._reached.update(pending)
            raise
        return len(pending)


async def published_docs(db: Database) -> list[ArticleDoc]:
    async with db.read() as s:
        return [
            doc_of(a)
            for a in await s.scalars(
                select(Article).where(Article.status == "published").order_by(Article.id)
            )
        ]


async def build_index(db: Database, synonyms: Synonyms | None = None) -> SearchIndex:
    """A one-off index over the published articles (the batch CLI commands)."""
    docs = await published_docs(db)
    return await asyncio.to_thread(SearchIndex.build, docs, synonyms or default_synonyms())
