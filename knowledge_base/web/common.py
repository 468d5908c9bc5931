"""What the knowledge base's API and pages share: the roles allowed, the live index key, and
the request helpers (path ids, optional bodies, applying this process's own write)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TypeVar

from aiohttp import web

from hotline.errors import InvalidInput, NotFound
from hotline.models import Role
from hotline.web.keys import DB, SETTINGS, principal
from hotline.web.validation import json_body, path_int, query_int
from knowledge_base import service
from knowledge_base.service import LiveIndex

log = logging.getLogger("hotline.kb")

LIVE_INDEX = web.AppKey("kb_live_index", LiveIndex)
HERE = Path(__file__).parent.parent

SEARCHERS = (Role.AGENT, Role.KB_EDITOR, Role.MANAGER, Role.ADMIN)
EDITORS = service.EDITORS
OVERSEERS = service.OVERSEERS
UPDATE_STATES = ("on_time", "late", "pending", "overdue", "unknown")
UPDATE_STATE_LABELS_ZH = {
    "on_time": "按时更新",
    "late": "超时更新",
    "pending": "待更新",
    "overdue": "已超时未更新",
    "unknown": "无法判断（缺少日历）",
}

T = TypeVar("T")


async def _synced(request: web.Request) -> None:
    """Apply this process's own write at once (other processes pick it up by polling)."""
    try:
        await request.app[LIVE_INDEX].sync(request.app[DB])
    except Exception:
        log.exception(
            "knowledge base: applying a change to the index failed; the poller will retry"
        )


def _workdays(request: web.Request) -> int:
    return request.app[SETTINGS].policy.kb_update_workdays


def _article_id(request: web.Request) -> str:
    article_id = request.match_info["article_id"]
    try:
        return service.check_article_id(article_id)
    except InvalidInput:
        raise NotFound(
            f"article {article_id[:40]} does not exist", zh=f"知识条目 {article_id[:40]} 不存在"
        ) from None


def _int_id(request: web.Request, name: str, what: str) -> int:
    return path_int(request, name, what)


async def _optional_body(request: web.Request, cls: type[T]) -> T:
    if not request.body_exists:
        return cls()
    return await json_body(request, cls)


async def _diff_range(request: web.Request, article_id: str) -> tuple[int, int]:
    db = request.app[DB]
    who = principal(request)
    current = (await service.get_article(db, who, article_id)).version
    new = query_int(request, "to", current, 1, 10**9)
    old = query_int(request, "from", max(new - 1, 1), 1, 10**9)
    return old, new
