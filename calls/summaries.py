"""The agent's after-call summary (小结), saved with the call it is about.

Only the agent who answered a call writes its summary: the call is the agent's current call
(connected now, stored only once it ends) or a stored record the agent answered, by member name
or interface. One summary per call; saving again replaces the text.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Iterable

from sqlalchemy import select

from calls.models import CallRow, CallSummary
from hotline.auth import Principal
from hotline.db import Database, upsert, utcnow
from hotline.errors import InvalidInput, NotFound, PermissionDenied

MAX_LEN = 2000


@dataclass(frozen=True, slots=True)
class Summary:
    uniqueid: str
    text: str
    agent_user_id: int
    updated_at: dt.datetime


def _answered_by(row: CallRow, member: str, interface: str) -> bool:
    if member and row.agent == member:
        return True
    return bool(interface) and any(
        a.get("interface") == interface and a.get("outcome") == "answered"
        for a in row.attempts or ()
    )


async def save(
    db: Database,
    who: Principal,
    uniqueid: str,
    text: str,
    *,
    member: str,
    interface: str,
    on_call_now: bool,
) -> Summary:
    """Saves `who`'s summary of call `uniqueid` (`on_call_now`: the PBX reports the agent
    connected to that call at this moment, so no stored record is needed yet)."""
    text = text.strip()
    if not text:
        raise InvalidInput("the summary is empty", field="text", zh="小结不能为空")
    if len(text) > MAX_LEN:
        raise InvalidInput(
            f"the summary is longer than {MAX_LEN} characters",
            field="text",
            zh=f"小结不能超过 {MAX_LEN} 字",
        )
    now = utcnow()
    async with db.write() as s:
        if not on_call_now:
            row = await s.get(CallRow, uniqueid)
            if row is None:
                raise NotFound(f"call {uniqueid} not found", zh="找不到这通来电的记录")
            if not _answered_by(row, member, interface):
                raise PermissionDenied(
                    "only the agent who answered a call writes its summary",
                    zh="只能为自己接听的来电填写小结",
                )
        existing = await s.get(CallSummary, uniqueid)
        if existing is not None and existing.agent_user_id != who.user_id:
            raise PermissionDenied(
                "another agent wrote this call's summary", zh="这通来电的小结由其他坐席填写"
            )
        await s.execute(
            upsert(
                s,
                CallSummary,
                {
                    "uniqueid": uniqueid,
                    "agent_user_id": who.user_id,
                    "text": text,
                    "created_at": now,
                    "updated_at": now,
                },
                index_elements=["uniqueid"],
                set_excluded=("text", "updated_at"),
            )
        )
    return Summary(uniqueid, text, who.user_id, now)


async def of_calls(db: Database, uniqueids: Iterable[str]) -> dict[str, str]:
    """The summaries of these calls, by uniqueid (calls without one are absent)."""
    wanted = list(dict.fromkeys(u for u in uniqueids if u))
    if not wanted:
        return {}
    async with db.read() as s:
        rows = await s.execute(
            select(CallSummary.uniqueid, CallSummary.text).where(CallSummary.uniqueid.in_(wanted))
        )
        return {u: t for u, t in rows.all()}
