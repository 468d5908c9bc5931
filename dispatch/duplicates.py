"""Duplicate requests (重复件): open tickets about the same matter, offered for merging (并单).

Candidates: open tickets of the last 30 days in the same district or of the same category.
Text similarity with rapidfuzz over overlapping character pairs: rapidfuzz's token scorers split
on spaces, so unspaced Chinese would be compared as one token (the shared folder's LIBRARIES.md); pairs
joined by spaces make the comparison insensitive to word order ("噪音扰民 施工" vs "施工噪音").
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass
from typing import Iterable, Sequence

from rapidfuzz import fuzz
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.models import Ticket
from dispatch.tickets import OPEN

WINDOW = dt.timedelta(days=30)
THRESHOLD = 50.0
MAX_CANDIDATES = 2000
# Openings every caller's record shares; they say nothing about the matter.
_BOILERPLATE = ("来电人", "来电反映", "市民来电", "来电", "反映", "咨询", "投诉", "举报", "要求", "希望",
                "相关部门", "尽快", "处理", "解决")
_DROP = set("，。、；：！？“”‘’（）《》【】,.;:!?()[]\"'-— \t\r\n")


def _pairs(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    for phrase in _BOILERPLATE:
        text = text.replace(phrase, " ")
    chars = [c for c in text if c not in _DROP]
    return " ".join(sorted({"".join(chars[i:i + 2]) for i in range(len(chars) - 1)}))


def similarity(a: str, b: str) -> float:
    """0-100: how much two requests read alike, ignoring word order and boilerplate."""
    pa, pb = _pairs(a), _pairs(b)
    if not pa or not pb:
        return 0.0
    # token_sort over sorted unique pairs ~ their overlap; token_set forgives one text being
    # a longer account of the other, but only counts when it shares enough pairs.
    sort_score = fuzz.token_sort_ratio(pa, pb)
    set_score = fuzz.token_set_ratio(pa, pb)
    shorter = min(pa.count(" "), pb.count(" ")) + 1
    return max(sort_score, set_score * 0.85 if shorter >= 6 else 0.0)


@dataclass(frozen=True)
class Candidate:
    ticket: Ticket
    score: float


def rank(text: str, tickets: Iterable[Ticket], threshold: float = THRESHOLD,
         limit: int = 10) -> list[Candidate]:
    scored = [Candidate(t, round(similarity(text, t.content), 1)) for t in tickets]
    scored = [c for c in scored if c.score >= threshold]
    scored.sort(key=lambda c: (-c.score, -c.ticket.id))
    return scored[:limit]


async def find(s: AsyncSession, text: str, district: str | None, category: str | None,
               now: dt.datetime, exclude: Sequence[int] = (), limit: int = 10) -> list[Candidate]:
    query = select(Ticket).where(Ticket.status.in_([st.value for st in OPEN]),
                                 Ticket.created_at >= now - WINDOW)
    near = [c for c in (Ticket.district == district if district else None,
                        Ticket.category == category if category else None) if c is not None]
    if near:
        query = query.where(or_(*near))
    if exclude:
        query = query.where(Ticket.id.not_in(list(exclude)))
    pool = await s.scalars(query.order_by(Ticket.id.desc()).limit(MAX_CANDIDATES))
    return rank(text, pool, limit=limit)
