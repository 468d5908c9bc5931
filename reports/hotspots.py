"""热点诉求: categories and districts (and the pairs of both) whose new tickets in the last hours
rise sharply against their own recent baseline. Pure: no I/O.

For each key, `recent` counts the tickets recorded in the window [now - window, now) and the
baseline is the key's mean per window over the `baseline_days` before it (so a key that is
always busy is not a hot spot, and a new key has a baseline of 0). A key is hot when
recent >= Policy.hotspot_min_tickets and recent >= Policy.hotspot_ratio x baseline. Hot spots
come out most surprising first (by recent / max(baseline, one ticket per baseline period)),
each with its tickets, newest first.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable

from hotline.policy import Policy
from hotline.ports import TicketRecord

KINDS = {"category": "诉求分类", "district": "区县", "pair": "区县 · 分类"}


@dataclass(frozen=True, slots=True)
class HotSpot:
    kind: str  # category | district | pair
    key: str  # e.g. 供水供电供气, 金水区, 金水区 · 供水供电供气
    recent: int
    baseline: float  # mean tickets per window before it
    tickets: tuple[TicketRecord, ...]

    @property
    def ratio(self) -> float | None:
        return round(self.recent / self.baseline, 1) if self.baseline else None

    @property
    def label(self) -> str:
        return KINDS[self.kind]


def window(now: dt.datetime, policy: Policy) -> tuple[dt.datetime, dt.datetime, dt.datetime]:
    """(start of the baseline, start of the recent window, now)."""
    recent = now - dt.timedelta(hours=policy.hotspot_window_hours)
    return recent - dt.timedelta(days=policy.hotspot_baseline_days), recent, now


def _keys(r: TicketRecord) -> list[tuple[str, str]]:
    keys = []
    if r.category:
        keys.append(("category", r.category))
    if r.district:
        keys.append(("district", r.district))
    if r.category and r.district:
        keys.append(("pair", f"{r.district} · {r.category}"))
    return keys


def hot_spots(records: Iterable[TicketRecord], now: dt.datetime, policy: Policy) -> list[HotSpot]:
    since, recent_start, _ = window(now, policy)
    windows = policy.hotspot_baseline_days * 24 / policy.hotspot_window_hours
    recent: dict[tuple[str, str], list[TicketRecord]] = defaultdict(list)
    before: dict[tuple[str, str], int] = defaultdict(int)
    for r in records:
        if not since <= r.created_at < now:
            continue
        for pair in _keys(r):
            if r.created_at >= recent_start:
                recent[pair].append(r)
            else:
                before[pair] += 1
    out = []
    for (kind, key), tickets in recent.items():
        baseline = before.get((kind, key), 0) / windows
        if (
            len(tickets) >= policy.hotspot_min_tickets
            and len(tickets) >= policy.hotspot_ratio * baseline
        ):
            tickets.sort(key=lambda t: t.created_at, reverse=True)
            out.append(HotSpot(kind, key, len(tickets), round(baseline, 2), tuple(tickets)))
    floor = 1 / windows
    out.sort(key=lambda h: (-h.recent / max(h.baseline, floor), -h.recent, h.kind, h.key))
    return out
