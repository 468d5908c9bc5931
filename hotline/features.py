"""THE list of the product's features, as plain data. The kernel (app factory, CLI, models
registry, navigation, desk and dashboard pages) iterates this list and names no feature
anywhere else: a new feature is one package plus one line here.

Each feature names its modules by dotted path, imported only when the kernel needs that part:
- `models`: registers its ORM classes on `hotline.db.Base.metadata` (migrations, tests);
- `templates`: a package holding a `templates/` folder (Jinja2 names are `<feature>/...`);
- `web`: a module with `setup(app)` adding routes, static files and cleanup contexts;
- `cli`: a module with `register(subparsers)` adding `hotline <feature> ...` commands;
- `nav`: per role, (order, path, label) entries merged with the shell's own into the top bar;
- `wiring`: a module with `async provide(services)` adding the feature's services and
  `workers(services)` returning its long-running `Worker`s by role (hotline.bootstrap);
- `panels`: per page of the shell (`desk`: the agent's desk; `dashboard`: the manager's board;
  `unit`: a unit handler's home),
  (order, template) entries it includes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from hotline.models import Role

NavEntry = tuple[int, str, str]  # (order in the bar, path, label)


@dataclass(frozen=True)
class Feature:
    name: str
    models: str | None = None
    templates: str | None = None
    web: str | None = None
    cli: str | None = None
    wiring: str | None = None
    nav: Mapping[Role, tuple[NavEntry, ...]] = field(default_factory=dict)
    panels: Mapping[str, tuple[tuple[int, str], ...]] = field(default_factory=dict)


FEATURES: tuple[Feature, ...] = (
    Feature(
        "knowledge_base",
        models="knowledge_base.models",
        templates="knowledge_base",
        web="knowledge_base.web",
        cli="knowledge_base.cli",
        wiring="knowledge_base.wiring",
        nav={
            Role.KB_EDITOR: (
                (10, "/kb/editor", "知识库编辑"),
                (20, "/kb/gaps", "知识缺口"),
                (30, "/kb/vocabulary", "检索词表"),
            ),
            Role.MANAGER: ((40, "/kb/gaps", "知识缺口"),),
        },
        panels={"desk": ((20, "kb/desk_search.html"),)},
    ),
    Feature(
        "dispatch",
        models="dispatch.models",
        templates="dispatch",
        web="dispatch.web",
        cli="dispatch.cli",
        wiring="dispatch.wiring",
        nav={
            Role.AGENT: (
                (20, "/tickets/new", "新建工单"),
                (25, "/tickets?mine=1", "我的工单"),
                (30, "/tickets/callbacks", "回访"),
                (35, "/tickets", "工单查询"),
            ),
            Role.UNIT_HANDLER: ((20, "/unit/tickets", "工单办理"), (25, "/tickets", "工单查询")),
            Role.MANAGER: (
                (20, "/tickets/review", "工单审核"),
                (25, "/tickets", "工单查询"),
                (26, "/tickets?overdue=1", "超期督办"),
                (35, "/dispatch/catalogue", "派单目录"),
            ),
        },
        panels={
            "desk": ((30, "dispatch/desk_ticket.html"),),
            "unit": ((10, "dispatch/unit_queue.html"),),
        },
    ),
    Feature(
        "calls",
        models="calls.models",
        templates="calls",
        web="calls.web",
        cli="calls.cli",
        wiring="calls.wiring",
        nav={Role.AGENT: ((40, "/calls/missed", "未接回拨"),)},
        panels={"desk": ((10, "calls/desk_call.html"),), "dashboard": ((10, "calls/board.html"),)},
    ),
    Feature(
        "ivr",
        models="ivr.models",
        templates="ivr",
        web="ivr.web",
        cli="ivr.cli",
        wiring="ivr.wiring",
        nav={Role.ADMIN: ((60, "/admin/ivr", "语音导航"),)},
        panels={"dashboard": ((20, "ivr/surveys_panel.html"),)},
    ),
    Feature(
        "reports",
        models="reports.models",
        templates="reports",
        web="reports.web",
        cli="reports.cli",
        wiring="reports.wiring",
        nav={
            Role.MANAGER: (
                (50, "/reports/calls", "话务历史"),
                (51, "/reports/units", "单位考核"),
                (52, "/reports/hotspots", "热点诉求"),
                (53, "/reports/staffing", "排班建议"),
                (54, "/reports/monthly", "月度报告"),
            )
        },
    ),
    # A kernel service (features write to it in their transactions), declared here for its
    # tables, dead-letter page and delivery worker.
    Feature(
        "outbox",
        models="hotline.outbox.models",
        templates="hotline.outbox",
        web="hotline.outbox.web",
        wiring="hotline.outbox.wiring",
        nav={Role.MANAGER: ((58, "/outbox", "外发通知"),)},
    ),
)


def panels(page: str, features: tuple[Feature, ...] = FEATURES) -> tuple[str, ...]:
    """Templates the shell's `page` includes, by their order numbers."""
    return tuple(t for _, t in sorted(p for f in features for p in f.panels.get(page, ())))
