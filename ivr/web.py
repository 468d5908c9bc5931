"""The IVR in the web shell: its FastAGI counters on `/metrics` while this process runs the
`agi` worker, and the citizens' scores per agent and day beside the call figures:

  GET /api/v1/ivr/surveys?days=7    per agent and local day: 满意 / 基本满意 / 不满意 / 未评价
                                    (manager, admin); the manager's /dashboard shows it

and the admins' page of the flow (语音导航流程):

  GET  /admin/ivr    the running flow: version, entry numbers with their category and
                     greeting, business hours, menus; the text to edit (admin)
  POST /admin/ivr    a new version (form field `text`, or the upload `file`): validated, a
                     mistake shown in Chinese with its line and the running flow kept; stored
                     (ivr.flowstore) for every instance, then 303 back to the page (admin)
  GET  /admin/ivr/versions/{n}           a saved version: who saved it when, its text and
                                         what differs from the running flow (admin)
  POST /admin/ivr/versions/{n}/restore   恢复: version n's text runs again, saved as the next
                                         version; 303 back to /admin/ivr (admin)
"""

from __future__ import annotations

import datetime as dt
import difflib
from pathlib import Path
from typing import Any, AsyncIterator

from aiohttp import web
from aiohttp.web_request import FileField

from hotline.auth import allow
from hotline.errors import DomainError
from hotline.localtime import SHANGHAI
from hotline.models import Role
from hotline.web.api import ok
from hotline.web.keys import REGISTRY, SERVICES, principal
from hotline.web.pages import page
from hotline.web.validation import form_error, query_int
from ivr import wiring
from ivr.agi.server import FastAgiServer
from ivr.flows import Action, Flow, FlowError, Hours

routes = web.RouteTableDef()
HERE = Path(__file__).parent


@routes.get("/api/v1/ivr/surveys")
@allow(Role.MANAGER, Role.ADMIN)
async def surveys(request: web.Request) -> web.Response:
    days = query_int(request, "days", 7, 1, 92)
    services = request.app[SERVICES]
    now = services.clock()
    today = now.astimezone(SHANGHAI).date()
    since = dt.datetime.combine(today - dt.timedelta(days=days - 1), dt.time(), SHANGHAI)
    tallies = await services[wiring.SURVEYS].tallies(since, now + dt.timedelta(seconds=1))
    return ok(
        {
            "days": days,
            "rows": [
                {
                    "agent": t.agent,
                    "day": t.day.isoformat(),
                    "satisfied": t.satisfied,
                    "fairly_satisfied": t.fairly,
                    "unsatisfied": t.unsatisfied,
                    "no_answer": t.no_answer,
                }
                for t in tallies
            ],
        }
    )


# --- the flow, for admins --------------------------------------------------------------------

# A flow file is a few kilobytes; this bounds what a form may hand the validator.
FLOW_MAX_BYTES = 256 * 1024
DAY_KINDS = ("workday", "restday", "holiday")


def _hours_zh(hours: Hours) -> str:
    if hours.opens is None or hours.closes is None:
        return "全天不开放"
    return f"{hours.opens:%H:%M}-{hours.closes:%H:%M}"


def _action_zh(flow: Flow, action: Action) -> str:
    if action.kind == "queue":
        tag = action.category or "接入号码的预设分类"
        return f"排队转坐席（{flow.default_queue}，分类：{tag}）"
    return {
        "progress": "自助查询工单进度",
        "callback": "留下回拨请求",
        "person": f"转人工（{flow.person_queue}）",
    }[action.kind]


def flow_view(flow: Flow) -> dict[str, Any]:
    """The running flow as the page shows it."""
    return {
        "version": flow.version,
        "retries": flow.retries,
        "entries": [
            {
                "number": e.number,
                "name": e.name,
                "category": e.category,
                "greeting": flow.prompts.get(e.greeting, e.greeting),
                "menu": e.menu,
            }
            for e in flow.entries.values()
        ],
        "hours": [_hours_zh(flow.hours[kind]) for kind in DAY_KINDS],
        "menus": [
            {
                "name": m.name,
                "prompt": flow.prompts.get(m.prompt, m.prompt),
                "choices": [(k, _action_zh(flow, a)) for k, a in sorted(m.keys.items())],
            }
            for m in flow.menus.values()
        ],
    }


async def _flow_page(
    request: web.Request,
    *,
    status: int = 200,
    error: str | None = None,
    error_line: int = 0,
    text: str | None = None,
    done: str | None = None,
) -> web.Response:
    sync = request.app[SERVICES][wiring.FLOWS]
    history = await sync.history()
    flow = sync.store.flow
    lines = (text or "").split("\n")
    return await page(
        request,
        "ivr/admin_flow.html",
        status=status,
        flow=flow_view(flow),
        source=next((h for h in history if h.version == flow.version), None),
        history=history,
        text=sync.store.text if text is None else text,
        error=error,
        error_line=(
            {"number": error_line, "text": lines[error_line - 1]}
            if 0 < error_line <= len(lines)
            else None
        ),
        done=done,
    )


@routes.get("/admin/ivr")
@allow(Role.ADMIN)
async def flow_page(request: web.Request) -> web.Response:
    await request.app[SERVICES][wiring.FLOWS].refresh()
    saved = request.query.get("saved", "")
    done = f"已保存并启用版本 {saved}" if saved.isascii() and saved.isdigit() else None
    return await _flow_page(request, done=done)


def _submitted_text(form: Any) -> str:
    """The uploaded file when one was chosen, else the text area; CRLF as LF."""
    upload = form.get("file")
    if isinstance(upload, FileField) and upload.filename:
        raw = upload.file.read(FLOW_MAX_BYTES + 1)
        if len(raw) > FLOW_MAX_BYTES:
            raise FlowError(0, "the file is too large", "流程文件过大（上限 256 KB）")
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise FlowError(0, "the file is not UTF-8 text", "流程文件不是 UTF-8 文本") from None
    else:
        text = str(form.get("text", ""))
        if len(text.encode("utf-8")) > FLOW_MAX_BYTES:
            raise FlowError(0, "the text is too large", "流程文本过长（上限 256 KB）")
    text = text.replace("\r\n", "\n")
    if not text.strip():
        raise FlowError(0, "no flow given", "请粘贴流程文本或上传流程文件")
    return text


@routes.post("/admin/ivr")
@allow(Role.ADMIN)
async def flow_save(request: web.Request) -> web.Response:
    form = await request.post()
    text: str | None = None
    try:
        text = _submitted_text(form)
        flow = await request.app[SERVICES][wiring.FLOWS].save(principal(request).username, text)
    except FlowError as exc:
        return await _flow_page(
            request, status=400, error=exc.message_zh, error_line=exc.line, text=text
        )
    except DomainError as exc:
        status, message = form_error(exc)
        return await _flow_page(request, status=status, error=message, text=text)
    raise web.HTTPSeeOther(f"/admin/ivr?saved={flow.version}")


def _version_of(request: web.Request) -> int:
    return int(request.match_info["version"])  # the route admits 1 to 9 digits only


def flow_diff(
    running: str, saved: str, running_version: int, version: int
) -> list[tuple[str, str]]:
    """The lines that differ from the running text to `saved`, with 3 lines of context, as
    (kind, line): kind is "del" (only in the running flow), "add" (only in the saved
    version), "hunk" (where a part starts) or "" (the same in both)."""
    out: list[tuple[str, str]] = []
    lines = difflib.unified_diff(
        running.split("\n"),
        saved.split("\n"),
        f"当前运行版本 {running_version}",
        f"版本 {version}",
        lineterm="",
    )
    for line in list(lines)[2:]:
        kind = {"-": "del", "+": "add", "@": "hunk"}.get(line[:1], "")
        out.append((kind, line))
    return out


@routes.get(r"/admin/ivr/versions/{version:\d{1,9}}")
@allow(Role.ADMIN)
async def flow_version_page(request: web.Request) -> web.Response:
    sync = request.app[SERVICES][wiring.FLOWS]
    await sync.refresh()
    saved, text = await sync.text_of(_version_of(request))
    running = sync.store
    return await page(
        request,
        "ivr/admin_flow_version.html",
        saved=saved,
        text=text,
        running_version=running.flow.version,
        diff=flow_diff(running.text, text, running.flow.version, saved.version),
    )


@routes.post(r"/admin/ivr/versions/{version:\d{1,9}}/restore")
@allow(Role.ADMIN)
async def flow_restore(request: web.Request) -> web.Response:
    sync = request.app[SERVICES][wiring.FLOWS]
    try:
        flow = await sync.restore(principal(request).username, _version_of(request))
    except FlowError as exc:
        # The line is in the restored version's text, not the editor's: named, not shown.
        return await _flow_page(request, status=400, error=exc.message_zh)
    raise web.HTTPSeeOther(f"/admin/ivr?saved={flow.version}")


class AgiCollector:
    def __init__(self, server: FastAgiServer) -> None:
        self.server = server

    def collect(self) -> Any:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        c = self.server.counters
        for name, value, help_ in (
            ("hotline_agi_connections", c.connections, "FastAGI connections accepted"),
            ("hotline_agi_sessions_completed", c.completed, "IVR sessions run to their end"),
            (
                "hotline_agi_protocol_errors",
                c.protocol_errors,
                "FastAGI sessions ended by garbage, an over-long line or a closed socket",
            ),
            (
                "hotline_agi_timeouts",
                c.timeouts,
                "FastAGI sessions ended because Asterisk did not answer a command in time",
            ),
            (
                "hotline_agi_handler_errors",
                c.handler_errors,
                "IVR sessions ended by an error of ours (logged with its traceback)",
            ),
            (
                "hotline_agi_closed_by_peer",
                c.closed_by_peer,
                "IVR sessions Asterisk closed before they ended (a channel torn down)",
            ),
            (
                "hotline_agi_refused",
                c.refused,
                "FastAGI connections closed at once: too many sessions open",
            ),
        ):
            yield CounterMetricFamily(name, help_, value=value)
        yield GaugeMetricFamily(
            "hotline_agi_sessions_active", "IVR sessions now open", value=c.active
        )


def setup(app: web.Application) -> None:
    app.router.add_routes(routes)
    app.router.add_static("/ivr/static", HERE / "static")

    async def agi_metrics_ctx(app: web.Application) -> AsyncIterator[None]:
        # After the services context: the agi worker, when enabled here, listens by now.
        server = app[SERVICES].get(wiring.AGI_SERVER)
        if server is None:
            yield
            return
        collector = AgiCollector(server)
        app[REGISTRY].register(collector)
        try:
            yield
        finally:
            app[REGISTRY].unregister(collector)

    app.cleanup_ctx.append(agi_metrics_ctx)
