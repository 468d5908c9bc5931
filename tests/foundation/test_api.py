import json

import pytest
from sqlalchemy import func, select

from hotline.models import AuditEntry, User
from tests.conftest import login


async def table_counts(db):
    async with db.read() as s:
        return (
            await s.scalar(select(func.count()).select_from(User)),
            await s.scalar(select(func.count()).select_from(AuditEntry)),
        )


def assert_error(body, code):
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]


async def admin_token(client, csrf) -> str:
    resp = await client.post(
        "/api/v1/users/root/tokens", json={"name": "ci"}, headers={"X-CSRF-Token": csrf}
    )
    assert resp.status == 201
    return (await resp.json())["token"]


async def test_unknown_route_and_wrong_method_get_json_errors(client, accounts):
    resp = await client.get("/api/v1/nothing-here")
    assert resp.status == 404
    assert_error(await resp.json(), "not_found")
    resp = await client.delete("/api/v1/me")
    assert resp.status == 405
    assert_error(await resp.json(), "method_not_allowed")


async def test_anonymous_api_calls_get_401(client, accounts):
    resp = await client.get("/api/v1/units")
    assert resp.status == 401
    assert_error(await resp.json(), "unauthenticated")
    resp = await client.get("/api/v1/units", headers={"Authorization": "Bearer hl_bogus"})
    assert resp.status == 401
    resp = await client.get("/api/v1/units", headers={"Authorization": "Basic abc"})
    assert resp.status == 401


@pytest.mark.parametrize(
    "body, content_type, status, code",
    [
        (b"{not json", "application/json", 400, "invalid_input"),
        (b"[1, 2]", "application/json", 400, "invalid_input"),
        (
            b'{"username": "x1", "display_name": "x", "password": "long-enough"}',
            "application/json",
            400,
            "invalid_input",
        ),  # role missing
        (
            b'{"username": 5, "display_name": "x", "role": "agent", "password": "long-enough"}',
            "application/json",
            400,
            "invalid_input",
        ),
        (
            b'{"username": "x1", "display_name": "x", "role": "pilot", "password": "long-enough"}',
            "application/json",
            400,
            "invalid_input",
        ),
        (
            b'{"username": "x1", "display_name": "x", "role": "agent", "password": "long-enough", '
            b'"extra": 1}',
            "application/json",
            400,
            "invalid_input",
        ),
        (
            b'{"username": "x1", "display_name": "x", "role": "unit_handler", "password": "long-enough",'
            b' "unit_code": "NO-SUCH"}',
            "application/json",
            404,
            "not_found",
        ),
        (
            b'{"username": "root", "display_name": "x", "role": "admin", "password": "long-enough"}',
            "application/json",
            409,
            "conflict",
        ),
        (b"username=x", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        (b"\xff\xfe", "application/json", 400, "invalid_input"),
    ],
)
async def test_bad_input_gets_a_clear_error_and_writes_nothing(
    client, db, accounts, body, content_type, status, code
):
    token = await admin_token(client, await login(client, "root"))
    before = await table_counts(db)
    resp = await client.post(
        "/api/v1/users",
        data=body,
        headers={"Content-Type": content_type, "Authorization": f"Bearer {token}"},
    )
    assert resp.status == status, await resp.text()
    assert_error(await resp.json(), code)
    assert await table_counts(db) == before


async def test_oversize_body_is_refused_with_413(client, db, accounts):
    token = await admin_token(client, await login(client, "root"))
    before = await table_counts(db)
    big = json.dumps({"username": "x" * 2_000_000}).encode()
    resp = await client.post(
        "/api/v1/users",
        data=big,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    assert resp.status == 413
    assert_error(await resp.json(), "payload_too_large")
    assert await table_counts(db) == before


async def test_session_api_writes_need_the_csrf_header(client, db, accounts):
    await login(client, "root")
    before = await table_counts(db)
    resp = await client.post(
        "/api/v1/users",
        json={"username": "x1", "display_name": "x", "role": "agent", "password": "long-enough"},
    )
    assert resp.status == 403
    assert await table_counts(db) == before


async def test_admin_creates_users_over_the_api_with_a_token(client, db, accounts):
    token = await admin_token(client, await login(client, "root"))
    client.session.cookie_jar.clear()
    resp = await client.post(
        "/api/v1/users",
        json={
            "username": "agent9",
            "display_name": "九号",
            "role": "agent",
            "password": "long-enough",
            "agent_interface": "Local/8009@agents/n",
            "agent_member_name": "坐席9",
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    assert resp.status == 201
    body = await resp.json()
    assert body["role"] == "agent" and body["agent_member_name"] == "坐席9"
    resp = await client.get(
        "/api/v1/audit?action=user.create&limit=5", headers={"Authorization": f"Bearer {token}"}
    )
    entries = (await resp.json())["entries"]
    assert entries[0]["actor"] == "root" and entries[0]["detail"]["username"] == "agent9"


@pytest.mark.parametrize(
    "user, path, status",
    [
        ("agent1", "/api/v1/users", 403),
        ("rsj", "/api/v1/users", 403),
        ("boss", "/api/v1/users", 403),
        ("editor", "/api/v1/audit", 403),
        ("agent1", "/api/v1/audit", 403),
        ("rsj", "/api/v1/audit", 403),
        ("rsj", "/metrics", 403),
        ("boss", "/api/v1/audit", 200),
        ("boss", "/metrics", 200),
    ],
)
async def test_roles_are_checked_on_every_route(client, accounts, user, path, status):
    await login(client, user)
    resp = await client.get(path)
    assert resp.status == status


async def test_a_unit_handler_sees_only_its_own_unit(client, accounts):
    await login(client, "rsj")
    units = (await (await client.get("/api/v1/units")).json())["units"]
    assert [u["code"] for u in units] == ["ZZ-RSJ"]
    assert (await client.get("/api/v1/units/ZZ-RSJ")).status == 200
    other = await client.get("/api/v1/units/ZZ-GJJ")
    missing = await client.get("/api/v1/units/NO-SUCH")
    # Another unit's record is indistinguishable from a missing one.
    assert other.status == missing.status == 404
    assert (await other.json())["error"]["code"] == (await missing.json())["error"]["code"]
    me = await (await client.get("/api/v1/me")).json()
    assert me["role"] == "unit_handler" and me["unit_code"] == "ZZ-RSJ"


async def test_agents_see_every_unit(client, accounts):
    await login(client, "agent1")
    units = (await (await client.get("/api/v1/units")).json())["units"]
    assert len(units) == 60
    assert (await client.get("/api/v1/units/ZZ-GJJ")).status == 200


async def test_healthz_tells_anonymous_callers_only_up_or_down(client, accounts):
    resp = await client.get("/healthz")
    assert resp.status == 200 and await resp.json() == {"status": "ok"}
    await login(client, "boss")
    body = await (await client.get("/healthz")).json()
    assert body["status"] == "ok" and body["schema_revision"]
    assert body["database"] in ("sqlite", "postgresql")
    assert isinstance(body["calendar_missing_years"], list)
    assert bool(body["calendar_missing_years"]) == ("warnings" in body)
    text = await (await client.get("/metrics")).text()
    assert 'hotline_http_requests_total{method="GET",route="/healthz",status="200"}' in text


async def test_metrics_refuses_in_the_json_error_shape(client, accounts):
    resp = await client.get("/metrics", allow_redirects=False)
    assert resp.status == 401
    assert (await resp.json())["error"]["code"] == "unauthenticated"
    resp = await client.get("/metrics", headers={"Authorization": "Bearer hl_not-a-token"})
    assert resp.status == 401 and resp.content_type == "application/json"
    assert (await resp.json())["error"]["code"] == "unauthenticated"


async def test_units_import_over_the_api_reports_bad_lines(client, db, accounts):
    token = await admin_token(client, await login(client, "root"))
    bad = '{"code": "Q1", "name": "甲", "kind": "municipal_bureau"}\n{"code": "Q2"}\n'
    resp = await client.post(
        "/api/v1/units/import", data=bad.encode(), headers={"Authorization": f"Bearer {token}"}
    )
    assert resp.status == 400
    body = await resp.json()
    assert body["error"]["details"]["errors"] == [
        {"line": 2, "message": "name is required", "message_zh": "缺少名称"}
    ]
    resp = await client.post(
        "/api/v1/units/import?partial=1",
        data=bad.encode(),
        headers={"Authorization": f"Bearer {token}"},
    )
    assert resp.status == 200 and (await resp.json())["created"] == 1
