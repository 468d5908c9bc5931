"""Chinese names of ticket statuses and event actions, shared by the work-order pages."""

from __future__ import annotations

from typing import Any

from dispatch.tickets import Status

ACTION_LABELS = {
    "create": "受理",
    "dispatch": "派单",
    "sign": "签收",
    "return": "退单",
    "redispatch": "改派",
    "send_back": "退单驳回",
    "request_extension": "申请延期",
    "approve_extension": "同意延期",
    "refuse_extension": "不同意延期",
    "reply": "答复",
    "master_replied": "主工单答复",
    "callback": "回访",
    "close": "办结",
    "reopen": "重办",
    "merge": "并单",
    "merge_in": "并入工单",
    "answer_on_spot": "当场解答",
    "ack_overdue": "签收超时",
    "remind": "催办",
    "escalate": "督办",
    "callback_due": "待回访",
}


def _page_context() -> dict[str, Any]:
    return {"labels": {s.value: s.label for s in Status}, "actions": ACTION_LABELS}
