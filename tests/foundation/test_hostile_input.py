"""Hostile input at the edge: each defect once, by example. Every one of these used to answer 500;
each must be a 400 (404 for a path naming nothing) in the one error shape, on SQLite and on
PostgreSQL, and must write nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import func, select
from yarl import URL

from dispatch.models import Ticket
from hotline.accounts import issue_token
from tests.conftest import login

CONTENT = "来电人反映小区门口道路破损多日无人修理，要求尽快修复。"


def assert_error(body: Any, status: int, resp_status: int) -> None:
    assert resp_status == status, body
    assert set(body) == {"error"}, body
    assert isinstance(body["error"]["code"], str) and body["error"]["code"]
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]


@pytest.fixture
async def bearer(db, accounts) -> dict[str, dict[str, str]]:
    out = {}
    for acc in accounts.values():
        token = await issue_token(db, "test", acc.username, "hostile")
        out[acc.role if acc.role != "unit_handler" else acc.username] = {
            "Authorization": f"Bearer {token}"
        }
    return out


async def send(
    client: Any,
    method: str,
    path: str,
    who: dict[str, str] | None = None,
    raw: bytes | str | None = None,
    status: int = 400,
) -> dict[str, Any]:
    """`raw` is sent as it is, as application/json; `path` is sent already encoded."""
    headers = dict(who or {})
    if raw is not None:
        headers["Content-Type"] = "application/json"
        raw = raw.encode() if isinstance(raw, str) else raw
    resp = await client.request(method, URL(path, encoded=True), data=raw, headers=headers)
    assert resp.content_type == "application/json", (resp.status, await resp.text())
    body = await resp.json()
    assert_error(body, status, resp.status)
    return body


async def tickets_in(db) -> int:
    async with db.read() as s:
        return await s.scalar(select(func.count()).select_from(Ticket))


def ticket(**changes: Any) -> dict[str, Any]:
    body = {"content": CONTENT, "type": "投诉", "unit_code": "ZZ-RSJ"}
    body.update(changes)
    return body


# --- JSON bodies -----------------------------------------------------------------------------


async def test_deeply_nested_json_is_a_400(client, db, bearer):
    deep = "[" * 5000 + "]" * 5000  # 10 KB
    body = await send(
        client,
        "POST",
        "/api/v1/tickets",
        bearer["agent"],
        '{"content": ' + deep + ', "type": "投诉"}',
    )
    assert body["error"]["code"] == "invalid_input"
    await send(client, "POST", "/api/v1/kb/search", bearer["agent"], deep)
    assert await tickets_in(db) == 0


async def test_an_integer_of_thousands_of_digits_is_a_400(client, bearer):
    huge = "9" * 5000
    body = await send(
        client,
        "POST",
        "/api/v1/kb/search",
        bearer["agent"],
        '{"q": "社保卡", "limit": ' + huge + "}",
    )
    assert "number" in body["error"]["message"]
    await send(
        client,
        "POST",
        "/api/v1/dispatch/catalogue",
        bearer["manager"],
        '{"category": "x", "unit_code": "ZZ-RSJ", "district": -' + huge + "}",
    )


@pytest.mark.parametrize(
    "changes",
    [
        {"content": CONTENT + "\ud800"},
        {"caller_name": "张\udfff三"},
        {"assisting_units": ["ZZ-GJJ", "\ud83d"]},  # half an emoji, in a nested list item
    ],
)
async def test_lone_surrogates_in_stored_strings_are_a_400(client, db, bearer, changes):
    body = await send(
        client, "POST", "/api/v1/tickets", bearer["agent"], json.dumps(ticket(**changes))
    )  # ensure_ascii: sent as \\udXXX escapes
    assert body["error"]["details"]["field"] in changes or "[" in body["error"]["details"]["field"]
    assert await tickets_in(db) == 0


@pytest.mark.parametrize(
    "changes",
    [
        {"content": CONTENT + "\x00"},
        {"address": "\x00"},
        {"assisting_units": ["ZZ-\x00GJJ"]},
    ],
)
async def test_nul_in_json_strings_is_a_400(client, db, bearer, changes):
    await send(client, "POST", "/api/v1/tickets", bearer["agent"], json.dumps(ticket(**changes)))
    assert await tickets_in(db) == 0


async def test_unknown_field_names_are_echoed_safely(client, bearer):
    body = await send(
        client,
        "POST",
        "/api/v1/tickets",
        bearer["agent"],
        json.dumps({**ticket(), "\ud800x\x00": 1}),
    )
    assert "unknown field" in body["error"]["message"]


async def test_nan_and_infinity_are_not_json(client, bearer):
    await send(client, "POST", "/api/v1/kb/search", bearer["agent"], '{"q": "社保", "limit": NaN}')
    await send(
        client, "POST", "/api/v1/kb/search", bearer["agent"], '{"q": "社保", "limit": Infinity}'
    )


@pytest.mark.parametrize("version", [2**31, -(2**31) - 1, 2**63, 2**64])
async def test_integers_beyond_the_column_range_in_bodies_are_a_400(client, bearer, version):
    created = await client.post("/api/v1/tickets", json=ticket(), headers=bearer["agent"])
    number = (await created.json())["ticket"]["number"]
    body = await send(
        client,
        "POST",
        f"/api/v1/tickets/{number}/sign",
        bearer["rsj"],
        json.dumps({"version": version}),
    )
    assert body["error"]["details"]["field"] == "version"
    await send(
        client,
        "POST",
        "/api/v1/kb/articles/KB-0001/answers",
        bearer["agent"],
        json.dumps({"version": version}),
    )


# --- paths -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method, path",
    [
        ("DELETE", "/api/v1/dispatch/catalogue/99999999999999999999999"),
        ("DELETE", "/api/v1/dispatch/catalogue/2147483648"),
        ("DELETE", "/api/v1/dispatch/catalogue/9223372036854775808"),
        ("DELETE", "/api/v1/dispatch/catalogue/%C2%B2"),  # '²' is a digit to str.isdigit
        ("POST", "/api/v1/notifications/2147483648/read"),
        ("POST", "/api/v1/kb/flags/999999999999999999/resolve"),
        ("POST", "/api/v1/kb/gaps/%C2%B2/resolve"),
        ("GET", "/api/v1/kb/articles/KB-0001/versions/2147483648"),
        ("POST", "/api/v1/calls/missed/99999999999999999999999/attempts"),
    ],
)
async def test_path_ids_beyond_the_column_range_are_a_404(client, bearer, method, path):
    who = (
        bearer["manager"]
        if "notifications" in path or "catalogue" in path
        else (bearer["kb_editor"] if "/kb/" in path else bearer["agent"])
    )
    raw = '{"outcome": "answered"}' if "attempts" in path else None
    await send(client, method, path, who, raw, status=404)


@pytest.mark.parametrize(
    "method, path, role",
    [
        ("GET", "/api/v1/units/ZZ-%00RSJ", "agent"),
        ("POST", "/api/v1/users/root%00/tokens", "admin"),
        ("GET", "/api/v1/kb/articles/KB-0001%00", "agent"),
        ("GET", "/api/v1/tickets/20260101-0001%00", "agent"),
    ],
)
async def test_nul_in_path_segments_is_a_404(client, bearer, method, path, role):
    raw = '{"name": "x"}' if path.endswith("/tokens") else None
    await send(client, method, path, bearer[role], raw, status=404)


# --- query strings ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path, role",
    [
        ("/api/v1/audit?actor=root%00", "manager"),
        ("/api/v1/audit?target_id=%00", "admin"),
        ("/api/v1/audit?before=2147483648", "manager"),
        ("/api/v1/tickets?unit=ZZ-%00RSJ", "agent"),
        ("/api/v1/tickets?phone=138%0012345678", "agent"),
        ("/api/v1/kb/articles?category=%00", "agent"),
        ("/api/v1/kb/articles?text=%E7%A4%BE%00", "agent"),
        ("/api/v1/kb/articles?status=%00", "kb_editor"),
        ("/api/v1/kb/answers?article_id=KB%00", "manager"),
        ("/api/v1/kb/answers?call_id=%00", "manager"),
        ("/api/v1/kb/flags?article_id=%00", "kb_editor"),
        ("/api/v1/calls?caller=%00", "agent"),
        ("/api/v1/calls/missed?status=%00", "agent"),
        ("/api/v1/tickets?limit=99999999999999999999999", "agent"),
    ],
)
async def test_nul_and_huge_numbers_in_query_strings_are_a_400(client, bearer, path, role):
    await send(client, "GET", path, bearer[role])


# --- page forms ------------------------------------------------------------------------------


async def test_nul_in_page_forms_is_a_400(client, db, accounts):
    csrf = await login(client, "agent1")
    resp = await client.post(
        "/tickets/new",
        data={
            "_csrf": csrf,
            "content": CONTENT + "\x00",
            "type": "投诉",
            "caller_phone": "13812345678",
        },
    )
    assert resp.status == 400
    assert await tickets_in(db) == 0
    resp = await client.post(
        "/login", data={"_csrf": csrf, "username": "agent1\x00", "password": "x"}
    )
    assert resp.status == 400
    resp = await client.post(
        "/calls/missed/1", data={"_csrf": csrf, "outcome": "answered", "version": "²"}
    )
    assert resp.status in (400, 404)


async def test_a_form_body_that_is_not_utf8_is_a_400(client, accounts):
    resp = await client.post(
        "/login",
        data=b"username=\xff\xfe&password=x",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert resp.status == 400
    resp = await client.post(
        "/login",
        data=b"username=x",
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=no-such-charset"},
    )
    assert resp.status == 400


# --- static files ----------------------------------------------------------------------------


async def test_an_overlong_static_file_name_is_a_404(client):
    resp = await client.get("/static/" + "a" * 256)
    assert resp.status == 404
    resp = await client.get("/static/" + "a" * 5000)
    assert resp.status in (404, 414)
    resp = await client.get("/kb/static/" + "b" * 300 + ".js")
    assert resp.status == 404


# --- the safety net behind the edge ------------------------------------------------------------


def _sqlalchemy_data_error() -> Exception:
    from sqlalchemy.exc import DataError

    return DataError("SELECT 1", {}, Exception("numeric field overflow"))


def _pg_data_error() -> Exception:
    """What asyncpg's int4 overflow and NUL refusals look like through SQLAlchemy."""
    from asyncpg.exceptions import DataError as PgDataError
    from sqlalchemy.exc import DBAPIError

    adapted = Exception("invalid input for query argument $1: 2147483648")
    adapted.__cause__ = PgDataError("value out of int32 range")
    return DBAPIError("SELECT 1", {}, adapted)


@pytest.mark.parametrize(
    "make, status",
    [
        (_sqlalchemy_data_error, 400),
        (_pg_data_error, 400),
        (lambda: UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed"), 400),
        (lambda: OverflowError("Python int too large to convert to SQLite INTEGER"), 400),
        (lambda: RuntimeError("a bug"), 500),
    ],
)
@pytest.mark.expect_errors("hotline.web")
async def test_database_data_errors_that_pass_the_edge_are_a_400(aiohttp_client, make, status):
    """What the edge validation misses and the database refuses as data is the client's 400
    (logged as a warning); anything else stays a 500."""
    from aiohttp import web

    from hotline.web.errors import error_middleware

    async def handler(request: web.Request) -> web.Response:
        raise make()

    app = web.Application(middlewares=[error_middleware])
    app.router.add_get("/api/v1/boom", handler)
    client = await aiohttp_client(app)
    resp = await client.get("/api/v1/boom")
    assert_error(await resp.json(), status, resp.status)
