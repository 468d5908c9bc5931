"""Navigation per role: what each kind of user sees in the top bar (labels in 简体中文)."""

from __future__ import annotations

from hotline.models import Role

NAV: dict[Role, tuple[tuple[str, str], ...]] = {
    Role.AGENT: (("/desk", "坐席工作台"), ("/tickets/new", "新建工单"), ("/tickets/callbacks", "回访"),
                 ("/calls/missed", "未接回拨"), ("/units", "承办单位")),
    Role.UNIT_HANDLER: (("/unit", "本单位工单"), ("/unit/tickets", "工单办理")),
    Role.MANAGER: (("/dashboard", "运行监控"), ("/tickets/review", "工单审核"), ("/units", "承办单位"),
                   ("/kb/gaps", "知识缺口"), ("/audit", "审计日志"), ("/login-locks", "登录锁定")),
    Role.KB_EDITOR: (("/kb/editor", "知识库编辑"), ("/kb/gaps", "知识缺口")),
    Role.ADMIN: (("/admin", "系统管理"), ("/units", "承办单位"), ("/audit", "审计日志"),
                 ("/login-locks", "登录锁定")),
}


def home_of(role: Role) -> str:
    return NAV[role][0][0]
