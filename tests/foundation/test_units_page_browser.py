"""Admins manage the responsible units in a page (Chromium, 1366x768): a bad file is refused
with each bad row named by line in Chinese and nothing imported; the sample directory uploads;
a unit is withdrawn from dispatch and returned. Other roles see the list only."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select

from hotline.db import Database
from hotline.directory.models import Unit
from tests.conftest import browser_login, shared_path

from .test_units_import import BAD


async def _count(db: Database) -> int:
    async with db.read() as s:
        return int(await s.scalar(select(func.count()).select_from(Unit)) or 0)


async def test_admin_imports_units_and_withdraws_one(
    client: Any, db: Database, accounts: Any, browser: Any, tmp_path: Any
) -> None:
    from playwright.async_api import expect

    before = await _count(db)
    base = str(client.make_url("")).rstrip("/")
    page = await browser_login(browser, base, "root")
    await page.set_viewport_size({"width": 1366, "height": 768})
    await page.goto(base + "/units")

    await page.locator("[data-testid=units-import-box] summary").click()
    await page.locator("[data-testid=units-text]").fill(BAD)
    await page.click("[data-testid=units-import-submit]")
    errors = page.locator("[data-testid=units-row-errors] li")
    await expect(page.locator("[data-testid=units-error]")).to_contain_text("未导入")
    await expect(errors).to_have_count(3)
    texts = await errors.all_inner_texts()
    assert texts[0].startswith("第 4 行：类型须为以下之一")
    assert texts[1] == "第 6 行：编码 A 重复（第 2 行已有）"
    assert texts[2] == "第 8 行：办理时限须为 1 到 60 之间的整数（工作日）"
    assert all(not t.isascii() for t in texts)
    assert await page.locator("[data-testid=units-text]").input_value() == BAD  # kept to fix
    assert await _count(db) == before

    sample = shared_path("units", "units.json")
    await page.locator("[data-testid=units-text]").fill("")  # open: the errors are shown
    await page.locator("[data-testid=units-file]").set_input_files(str(sample))
    await page.click("[data-testid=units-import-submit]")
    total = len(json.loads(sample.read_text(encoding="utf-8")))
    created = total - before
    await expect(page.locator("[data-testid=units-done]")).to_have_text(
        f"已导入：新增 {created} 个，更新 {before} 个承办单位"
    )
    assert await _count(db) == total

    row = page.locator("tr[data-code=ZZ-RSJ]")
    await row.locator("[data-testid=unit-toggle]").click()
    await expect(page.locator("[data-testid=units-done]")).to_have_text("已停用承办单位 ZZ-RSJ")
    await expect(page.locator("tr[data-code=ZZ-RSJ]")).to_contain_text("已停用")
    async with db.read() as s:
        assert (await s.get(Unit, "ZZ-RSJ")).active is False
    await page.locator("tr[data-code=ZZ-RSJ] [data-testid=unit-toggle]").click()
    await expect(page.locator("[data-testid=units-done]")).to_have_text("已启用承办单位 ZZ-RSJ")
    async with db.read() as s:
        assert (await s.get(Unit, "ZZ-RSJ")).active is True

    manager = await browser_login(browser, base, "boss")
    await manager.goto(base + "/units")
    await expect(manager.locator("#units")).to_be_visible()
    await expect(manager.locator("[data-testid=units-import]")).to_have_count(0)
    await expect(manager.locator("[data-testid=unit-toggle]")).to_have_count(0)


async def test_only_admins_may_import_or_withdraw(client: Any, accounts: Any) -> None:
    from tests.conftest import login

    csrf = await login(client, "boss")
    resp = await client.post("/units/import", data={"_csrf": csrf, "text": BAD})
    assert resp.status == 403
    resp = await client.post("/units/ZZ-RSJ/active", data={"_csrf": csrf, "active": "0"})
    assert resp.status == 403
    csrf = await login(client, "root")
    resp = await client.post("/units/NOPE/active", data={"_csrf": csrf, "active": "0"})
    assert resp.status == 404 and "不存在" in await resp.text()
