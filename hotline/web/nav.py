"""Navigation per role: what each kind of user sees in the top bar (labels in 简体中文). The
shell's own pages are listed here; each feature adds its entries in `hotline.features`."""

from __future__ import annotations

from hotline.features import FEATURES, Feature, NavEntry
from hotline.models import Role

SHELL_NAV: dict[Role, tuple[NavEntry, ...]] = {
    Role.AGENT: ((10, "/desk", "坐席工作台"), (50, "/units", "承办单位")),
    Role.UNIT_HANDLER: ((10, "/unit", "本单位工单"),),
    Role.MANAGER: (
        (10, "/dashboard", "运行监控"),
        (30, "/units", "承办单位"),
        (50, "/audit", "审计日志"),
        (60, "/login-locks", "登录锁定"),
    ),
    Role.KB_EDITOR: (),
    Role.ADMIN: (
        (10, "/admin", "系统管理"),
        (20, "/units", "承办单位"),
        (30, "/audit", "审计日志"),
        (40, "/login-locks", "登录锁定"),
        (50, "/admin/calendar", "节假日安排"),
    ),
}


def build_nav(features: tuple[Feature, ...] = FEATURES) -> dict[Role, tuple[tuple[str, str], ...]]:
    nav = {}
    for role in Role:
        entries = list(SHELL_NAV.get(role, ())) + [e for f in features for e in f.nav.get(role, ())]
        nav[role] = tuple((path, label) for _, path, label in sorted(entries))
    return nav


NAV: dict[Role, tuple[tuple[str, str], ...]] = build_nav()


def home_of(role: Role) -> str:
    return NAV[role][0][0]
