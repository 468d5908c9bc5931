"""The admins' flow page (/admin/ivr) over HTTP: the running flow shown, a flow with a mistake
refused with its line in Chinese while the running flow stays, a valid one stored as a new
version that the serving instance runs at once and every other instance loads from the
database (ivr.flowstore); every other role refused. The flow checker's Chinese messages name
the line of each kind of mistake."""

from __future__ import annotations

import logging
import re
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from hotline.db import Database
from hotline.models import AuditEntry
from hotline.web.keys import SERVICES
from ivr import wiring
from ivr.flows import FlowError, FlowStore, packaged_flow_text, parse_flow
from ivr.flowstore import FlowSync
from ivr.models import FlowVersionRow
from tests.conftest import login

HAN = re.compile(r"[\u4e00-\u9fff]")
PACKAGED = packaged_flow_text()


def version(n: int, text: str = PACKAGED) -> str:
    assert text.count("\nversion = 1\n") == 1
    return text.replace("\nversion = 1\n", f"\nversion = {n}\n")


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.split("\n"), 1) if needle in line)


async def stored_versions(db: Database) -> list[int]:
    async with db.read() as s:
        return list((await s.execute(select(FlowVersionRow.version))).scalars())


async def test_the_admin_sees_the_running_flow(client: Any, accounts: Any) -> None:
    await login(client, "root")
    resp = await client.get("/admin/ivr")
    page = await resp.text()
    assert resp.status == 200
    assert "当前运行版本 1" in page
    for shown in (
        "12345",
        "原12315市场监管投诉举报热线",
        "市场监管",  # the entry's preset category
        "您好，原12369环保举报热线已并入12345政务服务便民热线。",  # its greeting's text
        "08:00-20:00",
        "09:00-17:00",
        "全天不开放",  # holidays: closed all day
        "分类：投诉举报",  # menu main, key 2
        "自助查询工单进度",
        "留下回拨请求",
    ):
        assert shown in page, shown
    assert 'href="/admin/ivr"' in page  # the admin's navigation links it
    # The editor starts from the running text.
    assert "[menus.closed]" in page


@pytest.mark.parametrize("who", ["agent1", "boss", "rsj", "editor"])
async def test_other_roles_are_refused(client: Any, accounts: Any, db: Database, who: str) -> None:
    csrf = await login(client, who)
    assert (await client.get("/admin/ivr")).status == 403
    resp = await client.post("/admin/ivr", data={"_csrf": csrf, "text": version(2)})
    assert resp.status == 403
    assert await stored_versions(db) == []
    assert client.app[SERVICES][wiring.IVR].flows.flow.version == 1


async def test_not_logged_in_is_sent_to_login(client: Any, accounts: Any) -> None:
    resp = await client.get("/admin/ivr", allow_redirects=False)
    assert resp.status in (302, 303) and "/login" in resp.headers["Location"]


async def test_a_bad_flow_is_refused_with_its_line_and_the_running_flow_stays(
    client: Any, accounts: Any, db: Database
) -> None:
    csrf = await login(client, "root")
    running = client.app[SERVICES][wiring.IVR].flows
    bad = version(2).replace('menu = "legacy"', 'menu = "old"', 1)
    resp = await client.post("/admin/ivr", data={"_csrf": csrf, "text": bad})
    page = await resp.text()
    line = line_of(bad, 'menu = "old"')
    assert resp.status == 400
    assert f"第 {line} 行：菜单 old 未定义" in page
    assert "正在运行的版本 1 保持不变" in page
    assert "menu = &#34;old&#34;" in page or "menu = &quot;old&quot;" in page  # the line shown
    assert running.flow.version == 1 and await stored_versions(db) == []

    # Not TOML at all: its line and column, in Chinese.
    broken = version(2).replace("retries = 2", "retries = two")
    resp = await client.post("/admin/ivr", data={"_csrf": csrf, "text": broken})
    assert resp.status == 400
    assert f"第 {line_of(broken, 'retries = two')} 行：不是合法的 TOML 格式" in await resp.text()

    # A valid flow whose version is not above the running one.
    same = PACKAGED.replace("09:00-17:00", "09:00-18:00")
    resp = await client.post("/admin/ivr", data={"_csrf": csrf, "text": same})
    page = await resp.text()
    assert resp.status == 400
    assert f"第 {line_of(same, 'version = 1')} 行：版本号须大于 1" in page
    assert running.flow.hours["restday"].closes.hour == 17  # type: ignore[union-attr]

    # Nothing given; a NUL in the text (the page's form check); no CSRF token.
    resp = await client.post("/admin/ivr", data={"_csrf": csrf, "text": "  "})
    assert resp.status == 400 and "请粘贴流程文本或上传流程文件" in await resp.text()
    resp = await client.post("/admin/ivr", data={"_csrf": csrf, "text": version(2) + "\x00"})
    assert resp.status == 400
    resp = await client.post("/admin/ivr", data={"text": version(2)})
    assert resp.status == 403
    assert running.flow.version == 1 and await stored_versions(db) == []


async def test_a_good_flow_runs_here_at_once_and_on_every_other_instance(
    client: Any, accounts: Any, db: Database
) -> None:
    csrf = await login(client, "root")
    running = client.app[SERVICES][wiring.IVR].flows
    other = FlowSync(db, FlowStore.packaged())  # another instance, started from the file
    text = version(2).replace('category = "市场监管"', 'category = "市场监管投诉"')
    resp = await client.post(
        "/admin/ivr",
        data={"_csrf": csrf, "text": text.replace("\n", "\r\n")},
        allow_redirects=False,
    )
    assert resp.status == 303 and resp.headers["Location"] == "/admin/ivr?saved=2"
    page = await (await client.get(resp.headers["Location"])).text()
    assert "已保存并启用版本 2" in page and "当前运行版本 2" in page and "市场监管投诉" in page
    assert "由 root 于" in page  # who saved the running version
    assert running.flow.version == 2 and running.text == text
    assert running.flow.entries["12315"].category == "市场监管投诉"
    assert await stored_versions(db) == [2]
    async with db.read() as s:
        audits = (
            await s.execute(
                select(func.count()).where(
                    AuditEntry.action == "ivr.flow.save", AuditEntry.target_id == "2"
                )
            )
        ).scalar()
    assert audits == 1

    assert other.store.flow.version == 1
    loaded = await other.refresh()
    assert loaded is not None and other.store.flow.entries["12315"].category == "市场监管投诉"
    assert await other.refresh() is None  # nothing newer since

    # A new process starts from the file, then runs the newest saved version.
    services = client.app[SERVICES]
    fresh = FlowSync(db, wiring.load_store(services.settings.ivr.flow_file))
    await fresh.refresh()
    assert fresh.store.flow.version == 2

    # The upload: a file replaces the text area.
    form = aiohttp.FormData()
    form.add_field("_csrf", csrf)
    form.add_field("text", "ignored")
    form.add_field("file", version(3).encode(), filename="flows.toml", content_type="text/plain")
    resp = await client.post("/admin/ivr", data=form, allow_redirects=False)
    assert resp.status == 303 and running.flow.version == 3
    form = aiohttp.FormData()
    form.add_field("_csrf", csrf)
    form.add_field("file", "version = 4\n".encode("gbk") + "名".encode("gbk"), filename="x.toml")
    resp = await client.post("/admin/ivr", data=form)
    assert resp.status == 400 and "流程文件不是 UTF-8 文本" in await resp.text()
    assert await stored_versions(db) == [2, 3]


async def test_a_stored_version_this_instance_cannot_load_is_skipped(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    async with db.write() as s:
        s.add(FlowVersionRow(version=5, text="version = 5\n", saved_by="root"))
    sync = FlowSync(db, FlowStore.packaged())
    with caplog.at_level(logging.WARNING, logger="ivr.flowstore"):
        assert await sync.refresh() is None
        assert await sync.refresh() is None  # refused once, not logged at every poll
    assert sync.store.flow.version == 1
    assert len([r for r in caplog.records if "refused" in r.getMessage()]) == 1


async def test_the_agi_watch_loads_a_saved_version(db: Database) -> None:
    store = FlowStore.packaged()
    watch = wiring.FlowWatch(store, "", FlowSync(db, store))
    watch.check()  # no file to watch
    async with db.write() as s:
        s.add(FlowVersionRow(version=2, text=version(2), saved_by="root"))
    assert watch.sync is not None and await watch.sync.refresh() is not None
    assert store.flow.version == 2


MISTAKES = [
    # (what is changed, into what (its line is the mistake's), Chinese words expected)
    ('workday = "08:00-20:00"', 'workday = "20:00-08:00"', "结束时间早于开始时间"),
    ('workday = "08:00-20:00"', 'workday = "8点"', "HH:MM-HH:MM"),
    ("retries = 2 ", "retries = -1 ", "不能小于 0"),
    ('person = "hotline"', 'person = "热线"', "只能含字母、数字"),
    ('keys = { 1 = "queue", 8 = "progress"', 'keys = { 1 = "queue", 8 = "dance"', "未知的动作"),
    (
        'keys = { 1 = "callback", 8 = "progress", 0 = "person" }',
        'keys = { 1 = "callback" }',
        "按键 0 须为",
    ),
    ('greeting = "welcome_12319"', 'greeting = "hello"', "欢迎语提示音 hello 不在"),
    ('number = "12369"', 'number = "12315"  # twice', "号码 12315 重复定义"),
    ('welcome = "您好', 'Welcome = "您好', "只能含小写字母"),
    ("version = 1", 'version = "一"', "version 须为整数"),
]


@pytest.mark.parametrize("old,new,words", MISTAKES)
def test_each_mistake_is_named_in_chinese_on_its_line(old: str, new: str, words: str) -> None:
    assert PACKAGED.count(old) == 1, old
    text = PACKAGED.replace(old, new)
    with pytest.raises(FlowError) as err:
        parse_flow(text)
    line = line_of(text, new)
    assert err.value.line == line, err.value
    assert err.value.message_zh.startswith(f"第 {line} 行："), err.value.message_zh
    assert words in err.value.message_zh and HAN.search(err.value.zh)


def test_a_missing_prompt_is_named_at_its_table() -> None:
    text = PACKAGED.replace('survey_thanks = "感谢您的评价，再见。"\n', "")
    with pytest.raises(FlowError) as err:
        parse_flow(text)
    assert (
        err.value.message_zh
        == f"第 {line_of(text, '[prompts]')} 行：[prompts] 缺少提示音 survey_thanks"
    )


def test_hostile_flow_texts_are_flow_errors_never_crashes() -> None:
    for text in (
        "version = 2\nentries = [1, 2]\n",
        version(2) + "\nentries = 3\n",
        version(2).replace("[timing]", "timing = 3\n[timing2]"),
        version(2).replace('keys = { 1 = "queue", 8', "keys = { 1 = 5, 8"),
        "\x00",
        "version = 99999999999999999999999\n",
        "[" * 5000,
        "a = " + "[" * 100_000,  # deeper than tomllib's recursion
        "a = " + "{b = " * 50_000,
    ):
        with pytest.raises(FlowError) as err:
            parse_flow(text)
        assert HAN.search(err.value.message_zh)


async def test_a_saved_version_is_shown_with_its_diff_and_restored_as_the_next(
    client: Any, accounts: Any, db: Database
) -> None:
    csrf = await login(client, "root")
    running = client.app[SERVICES][wiring.IVR].flows
    two = version(2).replace("09:00-17:00", "09:00-18:00")
    three = two.replace("\nversion = 2\n", "\nversion = 3\n").replace(
        'category = "市场监管"', 'category = "市场监管投诉"'
    )
    for text in (two, three):
        resp = await client.post("/admin/ivr", data={"_csrf": csrf, "text": text})
        assert resp.status == 200  # followed the 303 to the page
    assert running.flow.version == 3
    page = await (await client.get("/admin/ivr")).text()
    assert 'href="/admin/ivr/versions/2"' in page and "版本 3</a>（运行中）" in page

    # Version 2 against the running 3: the category line differs, the hours do not.
    resp = await client.get("/admin/ivr/versions/2")
    page = await resp.text()
    assert resp.status == 200 and "与当前运行版本 3 的差异" in page
    assert '<span class="diff-del">-version = 3</span>' in page
    assert '<span class="diff-add">+version = 2</span>' in page
    assert '<span class="diff-del">-category = &#34;市场监管投诉&#34;</span>' in page
    assert 'diff-add">+category = &#34;市场监管&#34;' in page
    assert "-" + "restday" not in page  # an unchanged line is context, not a change

    # 恢复: version 2's text runs as version 4; the history keeps 2 and 3.
    resp = await client.post(
        "/admin/ivr/versions/2/restore", data={"_csrf": csrf}, allow_redirects=False
    )
    assert resp.status == 303 and resp.headers["Location"] == "/admin/ivr?saved=4"
    assert running.flow.version == 4
    assert running.flow.entries["12315"].category == "市场监管"
    assert running.flow.hours["restday"].closes.hour == 18  # type: ignore[union-attr]
    assert running.text == two.replace("\nversion = 2\n", "\nversion = 4\n")
    assert sorted(await stored_versions(db)) == [2, 3, 4]
    async with db.read() as s:
        detail = (
            await s.execute(
                select(AuditEntry.detail).where(
                    AuditEntry.action == "ivr.flow.save", AuditEntry.target_id == "4"
                )
            )
        ).scalar_one()
    assert detail["restored_from"] == 2
    page = await (await client.get("/admin/ivr/versions/4")).text()
    assert "这就是正在运行的版本" in page and "flow-restore" not in page

    # Unknown or absurd versions; no CSRF token; other roles.
    resp = await client.get("/admin/ivr/versions/99")
    assert resp.status == 404 and "没有已保存的流程版本 99" in await resp.text()
    assert (await client.get("/admin/ivr/versions/99999999999999")).status == 404
    resp = await client.post("/admin/ivr/versions/99/restore", data={"_csrf": csrf})
    assert resp.status == 404
    resp = await client.post("/admin/ivr/versions/2/restore", data={})
    assert resp.status == 403 and running.flow.version == 4
    client.session.cookie_jar.clear()
    csrf = await login(client, "boss")
    assert (await client.get("/admin/ivr/versions/2")).status == 403
    resp = await client.post("/admin/ivr/versions/2/restore", data={"_csrf": csrf})
    assert resp.status == 403 and running.flow.version == 4


async def test_a_saved_version_this_release_refuses_is_not_restored(
    client: Any, accounts: Any, db: Database
) -> None:
    csrf = await login(client, "root")
    running = client.app[SERVICES][wiring.IVR].flows
    async with db.write() as s:  # saved by an older release, refused by this one's checker
        s.add(FlowVersionRow(version=1, text="version = 1\n", saved_by="root"))
    resp = await client.post("/admin/ivr/versions/1/restore", data={"_csrf": csrf})
    page = await resp.text()
    assert resp.status == 400 and "流程未保存" in page and "正在运行的版本 1 保持不变" in page
    assert HAN.search(page.split("flow-error-message")[1][:200])
    assert running.flow.version == 1 and await stored_versions(db) == [1]
