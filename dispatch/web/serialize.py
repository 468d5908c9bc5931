"""JSON shapes of tickets, routing suggestions, duplicate candidates, catalogue rules and
notifications.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from dispatch import duplicates
from dispatch.models import CatalogueEntry, Notification
from dispatch.routing import Suggestion
from dispatch.service import TicketView
from dispatch.tickets import Status
from hotline.localtime import iso


def _iso(value: dt.datetime | None) -> str | None:
    # One offset for every instant (the city's), whether it was just computed or read back.
    return iso(value)


# --- serialising ----------------------------------------------------------------------------------


def ticket_json(view: TicketView) -> dict[str, Any]:
    t = view.ticket
    status = Status(t.status)
    data = {
        "id": t.id,
        "number": t.number,
        "status": status.value,
        "status_label": status.label,
        "version": t.version,
        "source": t.source,
        "call_id": view.call_id,
        "caller_name": view.caller_name,
        "caller_phone": view.caller_phone,
        "confidential": t.confidential,
        "type": t.type,
        "category": t.category,
        "content": t.content,
        "district": t.district,
        "address": t.address,
        "urgency": t.urgency,
        "main_unit": t.main_unit_code,
        "assisting_units": list(t.assisting_units),
        "acknowledge_due": _iso(t.acknowledge_due),
        "due": _iso(t.due),
        "overdue": view.overdue,
        "extension": None
        if t.extension_requested_due is None
        else {
            "requested_due": _iso(t.extension_requested_due),
            "reason": t.extension_reason,
            "requested_at": _iso(t.extension_requested_at),
        },
        "returned_by": t.returned_by,
        "return_reason": t.return_reason,
        "reply": t.reply_text,
        "signed_at": _iso(t.signed_at),
        "replied_at": _iso(t.replied_at),
        "closed_at": _iso(t.closed_at),
        "resolution": t.resolution,
        "satisfaction": t.satisfaction,
        "review_needed": t.review_needed,
        "kb_article_id": t.kb_article_id,
        "reopen_count": t.reopen_count,
        "created_by": t.created_by,
        "created_at": _iso(t.created_at),
        "updated_at": _iso(t.updated_at),
    }
    if view.events or view.master_number or view.merged_numbers:
        data["master"] = view.master_number
        data["merged"] = list(view.merged_numbers)
    if view.attachments:
        data["attachments"] = [
            {
                "id": a.id,
                "name": a.name,
                "content_type": a.content_type,
                "size": a.size,
                "sha256": a.sha256,
                "uploaded_by": a.uploaded_by,
                "uploaded_at": _iso(a.uploaded_at),
                "url": f"/api/v1/tickets/{t.number}/attachments/{a.id}",
            }
            for a in view.attachments
        ]
    if view.events:
        data["events"] = [
            {
                "at": _iso(e.at),
                "actor": e.actor,
                "action": e.action,
                "from": e.from_status,
                "to": e.to_status,
                "note": e.note,
                "detail": e.detail,
            }
            for e in view.events
        ]
    return data


def suggestion_json(s: Suggestion) -> dict[str, Any]:
    return {"unit_code": s.unit_code, "score": s.score, "reasons": list(s.reasons)}


def candidate_json(c: duplicates.Candidate) -> dict[str, Any]:
    t = c.ticket
    return {
        "number": t.number,
        "score": c.score,
        "status": t.status,
        "status_label": Status(t.status).label,
        "content": t.content,
        "district": t.district,
        "category": t.category,
        "created_at": _iso(t.created_at),
    }


def rule_json(r: CatalogueEntry) -> dict[str, Any]:
    return {
        "id": r.id,
        "category": r.category,
        "district": r.district,
        "unit_code": r.unit_code,
        "note": r.note,
        "created_by": r.created_by,
        "created_at": _iso(r.created_at),
    }


def notification_json(n: Notification, number: str) -> dict[str, Any]:
    return {
        "id": n.id,
        "ticket": number,
        "unit_code": n.unit_code,
        "kind": n.kind,
        "message": n.message,
        "created_at": _iso(n.created_at),
        "read_at": _iso(n.read_at),
    }
