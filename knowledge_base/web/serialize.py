"""The knowledge base's JSON shapes: articles, versions, search hits, flags, gaps, answers."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hotline.auth import Principal
from knowledge_base import importer, service
from knowledge_base.models import STATUS_LABELS_ZH, Answer, Article, ArticleVersion, Gap
from knowledge_base.search import Hit
from knowledge_base.service import LiveIndex, local_iso
from knowledge_base.web.common import OVERSEERS


def article_json(
    a: Article, who: Principal, workdays: int, now: dt.datetime | None = None
) -> dict[str, Any]:
    record = importer.export_record(a)
    deadline = service.update_deadline(a, workdays, now)
    record.update(
        {
            "version": a.version,
            "status_label": STATUS_LABELS_ZH[a.status],
            "published_at": local_iso(a.published_at),
            "created_at": local_iso(a.created_at),
            "changed_at": local_iso(a.changed_at),
            "policy_changed_at": local_iso(a.policy_changed_at),
            "policy_published_at": local_iso(a.policy_published_at),
            "update_due_at": local_iso(deadline.due_at) if deadline else None,
            "update_state": deadline.state if deadline else None,
        }
    )
    if who.role in OVERSEERS:
        record.update({"created_by": a.created_by, "changed_by": a.changed_by})
    return record


def version_json(v: ArticleVersion, full: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "version": v.version,
        "action": v.action,
        "status": v.status,
        "author": v.author,
        "at": local_iso(v.at),
        "note": v.note,
        "title": v.title,
    }
    if full:
        out.update(
            {
                f: local_iso(getattr(v, f))
                if isinstance(getattr(v, f), dt.datetime)
                else getattr(v, f)
                for f in service.CONTENT_FIELDS
            }
        )
        out["published_at"] = local_iso(v.published_at)
    return out


# A hit's tier as the agent sees it: whether the article answers the question on the call, or
# is only related to it (knowledge_base.answering).
TIER_LABELS_ZH = {"answers": "可直接答复", "related": "相关参考"}


def hit_json(hit: Hit, live: LiveIndex) -> dict[str, Any]:
    meta = live.meta.get(hit.id)
    tier = "answers" if hit.answers else "related"
    return {
        "id": hit.id,
        "score": hit.score,
        "title": hit.title,
        "tier": tier,
        "tier_label": TIER_LABELS_ZH[tier],
        "category": meta.category if meta else None,
        "version": meta.version if meta else None,
        "snippet": [{"text": text, "hit": flag} for text, flag in hit.snippet],
    }


def flag_json(v: service.FlagView) -> dict[str, Any]:
    f = v.flag
    return {
        "id": f.id,
        "article_id": f.article_id,
        "article_title": v.article_title,
        "version": f.version,
        "kind": f.kind,
        "note": f.note,
        "status": f.status,
        "reporter": v.reporter,
        "created_at": local_iso(f.created_at),
        "resolved_by": v.resolver,
        "resolved_at": local_iso(f.resolved_at),
        "resolution": f.resolution,
    }


def gap_json(g: Gap) -> dict[str, Any]:
    return {
        "id": g.id,
        "query": g.query,
        "sample": g.sample,
        "count": g.count,
        "no_result_count": g.no_result_count,
        "rejected_count": g.rejected_count,
        "first_seen": local_iso(g.first_seen),
        "last_seen": local_iso(g.last_seen),
        "resolved_at": local_iso(g.resolved_at),
        "resolved_by": g.resolved_by,
        "resolution_article_id": g.resolution_article_id,
        "resolution_note": g.resolution_note,
    }


def answer_json(a: Answer) -> dict[str, Any]:
    return {
        "id": a.id,
        "article_id": a.article_id,
        "version": a.version,
        "agent_id": a.agent_id,
        "call_id": a.call_id,
        "query": a.query,
        "at": local_iso(a.at),
    }
