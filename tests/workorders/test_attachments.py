"""Files a unit sends with its reply: accepted by what the bytes are (photos, PDF, Word, Excel),
stored with the reply in one transaction, listed on the ticket's pages and served only as
downloads to those who may see the ticket."""

from __future__ import annotations

import io
import re
import zipfile
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from dispatch import attachments
from dispatch.attachments import Upload
from dispatch.models import TicketAttachment
from hotline.errors import InvalidInput
from tests.conftest import login

from .conftest import AGENT, RSJ, wages_ticket

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def docx() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")
    return out.getvalue()


def test_files_are_accepted_by_their_bytes_not_their_names():
    got = attachments.accept(
        [Upload("../../现场照片.png.exe", PNG), Upload("决定书", PDF), Upload("报告.doc", docx())]
    )
    assert [(a.name, a.content_type) for a in got] == [
        ("现场照片.png.png", "image/png"),
        ("决定书.pdf", "application/pdf"),
        ("报告.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ]
    for bad, words in (
        (Upload("photo.png", b"<html><script>alert(1)</script>"), "格式不受支持"),
        (Upload("a.zip", b"PK\x03\x04" + b"\x00" * 30), "格式不受支持"),
        (Upload("empty.png", b""), "空文件"),
        (Upload("big.png", PNG + b"\x00" * attachments.MAX_BYTES), "超过 5 MB"),
    ):
        with pytest.raises(InvalidInput) as refused:
            attachments.accept([bad])
        assert words in refused.value.zh
    with pytest.raises(InvalidInput):
        attachments.accept([Upload(f"{i}.png", PNG) for i in range(attachments.MAX_FILES + 1)])


@pytest.fixture
async def signed(service: Any, accounts: Any) -> str:
    number = (await service.create(AGENT, wages_ticket())).ticket.number
    await service.sign(RSJ, number)
    return number


def reply_form(csrf: str, version: str, *files: tuple[str, bytes, str]) -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("_csrf", csrf)
    form.add_field("version", version)
    form.add_field("text", "已责令公司三日内支付工资，附整改通知书。")
    for name, data, content_type in files:
        form.add_field("files", data, filename=name, content_type=content_type)
    return form


async def test_a_unit_replies_with_files_and_only_those_who_see_the_ticket_get_them(
    wo_client: Any, signed: str, db: Any
) -> None:
    csrf = await login(wo_client, "rsj")
    html = await (await wo_client.get(f"/unit/tickets/{signed}")).text()
    assert 'enctype="multipart/form-data"' in html
    version = re.search(r'name="version" value="(\d+)"', html).group(1)

    refused = await wo_client.post(
        f"/unit/tickets/{signed}/reply",
        data=reply_form(
            csrf, version, ("整改通知.png", b"<html><script>alert(1)</script></html>", "image/png")
        ),
    )
    assert refused.status == 400 and "格式不受支持" in await refused.text()
    async with db.read() as s:
        assert await s.scalar(select(func.count()).select_from(TicketAttachment)) == 0

    done = await wo_client.post(
        f"/unit/tickets/{signed}/reply",
        allow_redirects=False,
        data=reply_form(
            csrf,
            version,
            ("现场.jpg", PNG, "image/jpeg"),
            ("整改通知书.pdf", PDF, "application/pdf"),
        ),
    )
    assert done.status == 303, await done.text()
    page = await (await wo_client.get(f"/tickets/{signed}")).text()
    listed = re.search(r'data-testid="ticket-attachments">(.*?)</ul>', page, re.S).group(1)
    links = re.findall(r'href="(/api/v1/tickets/[^"]+)" download>([^<]+)</a>', listed)
    assert [name for _, name in links] == ["现场.png", "整改通知书.pdf"]

    got = await wo_client.get(links[1][0])
    assert got.status == 200 and await got.read() == PDF
    assert got.headers["Content-Type"] == "application/pdf"
    assert got.headers["Content-Disposition"].startswith("attachment; filename*=UTF-8''")
    assert got.headers["X-Content-Type-Options"] == "nosniff"

    wo_client.session.cookie_jar.clear()
    await login(wo_client, "gjj")  # another unit: the ticket and its files do not exist for it
    assert (await wo_client.get(links[0][0])).status == 404
    wo_client.session.cookie_jar.clear()
    await login(wo_client, "agent1")
    assert await (await wo_client.get(links[0][0])).read() == PNG
    assert (await wo_client.get(f"/api/v1/tickets/{signed}/attachments/999999")).status == 404


async def test_a_unit_replies_with_files_over_the_api(wo_client: Any, signed: str, db: Any) -> None:
    """The API takes the reply as multipart/form-data too, with the page's checks; JSON
    replies (no files) keep working."""
    csrf = await login(wo_client, "rsj")
    headers = {"X-CSRF-Token": csrf}
    ticket = await (await wo_client.get(f"/api/v1/tickets/{signed}")).json()
    version = str(ticket["version"])

    refused = await wo_client.post(
        f"/api/v1/tickets/{signed}/reply",
        headers=headers,
        data=reply_form(csrf, version, ("a.png", b"<html><script>x</script>", "image/png")),
    )
    assert refused.status == 400
    assert "格式不受支持" in (await refused.json())["error"]["message_zh"]
    too_long = aiohttp.FormData()
    too_long.add_field("text", "长" * 100_000)
    too_long.add_field("files", PDF, filename="a.pdf", content_type="application/pdf")
    resp = await wo_client.post(f"/api/v1/tickets/{signed}/reply", headers=headers, data=too_long)
    assert resp.status == 400
    async with db.read() as s:
        assert await s.scalar(select(func.count()).select_from(TicketAttachment)) == 0

    done = await wo_client.post(
        f"/api/v1/tickets/{signed}/reply",
        headers=headers,
        data=reply_form(csrf, version, ("决定书.pdf", PDF, "application/pdf")),
    )
    assert done.status == 200, await done.text()
    body = await done.json()
    assert body["status"] == "replied"
    detail = await (await wo_client.get(f"/api/v1/tickets/{signed}")).json()
    assert [a["name"] for a in detail["attachments"]] == ["决定书.pdf"]
