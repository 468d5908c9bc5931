"""Articles over the API: create, edit, publish, retire, version history, diff, the policy
update deadline, and who may do what."""

from __future__ import annotations

import datetime as dt

from hotline.auth import Principal
from hotline.models import Role
from knowledge_base import service
from tests.conftest import login

ARTICLE = {
    "title": "居住证办理（首次申领）",
    "answer": "在本市居住半年以上，符合有合法稳定就业、合法稳定住所、连续就读条件之一的，可以申领居住证。",
    "category": "户籍身份",
    "unit": "郑州市公安局人口管理支队",
    "basis": "《居住证暂行条例》",
    "time_limit": "15个工作日",
    "materials": ["本人居民身份证", "居住地住址证明"],
    "fee": "首次申领不收费",
    "contact": "0371-12345678",
    "questions": ["外地人怎么办居住证", "居住证要什么材料"],
    "keywords": ["暂住证"],
}


async def as_user(client, username):
    return {"X-CSRF-Token": await login(client, username)}


async def create(client, headers, **changes):
    resp = await client.post("/api/v1/kb/articles", json={**ARTICLE, **changes}, headers=headers)
    assert resp.status == 201, await resp.text()
    return await resp.json()


async def test_create_edit_publish_retire_with_versions_and_diff(client, accounts):
    editor = await as_user(client, "editor")
    a = await create(client, editor, note="新建")
    assert a["id"] == "KB-0001" and a["status"] == "draft" and a["version"] == 1
    assert a["materials"] == ARTICLE["materials"] and a["created_by"] == "editor"

    resp = await client.put(
        f"/api/v1/kb/articles/{a['id']}",
        headers=editor,
        json={
            **ARTICLE,
            "fee": "不收费",
            "materials": ["本人居民身份证", "租房合同或房产证"],
            "base_version": 1,
            "note": "材料调整",
        },
    )
    assert resp.status == 200, await resp.text()
    edited = await resp.json()
    assert edited["version"] == 2 and edited["changed"] is True and edited["status"] == "draft"

    # Saving identical content writes no version.
    resp = await client.put(
        f"/api/v1/kb/articles/{a['id']}",
        headers=editor,
        json={
            **ARTICLE,
            "fee": "不收费",
            "materials": ["本人居民身份证", "租房合同或房产证"],
            "base_version": 2,
        },
    )
    assert (await resp.json())["changed"] is False

    # A stale base version is refused: someone else saved in between.
    resp = await client.put(
        f"/api/v1/kb/articles/{a['id']}", headers=editor, json={**ARTICLE, "base_version": 1}
    )
    assert resp.status == 409
    assert (await resp.json())["error"]["code"] == "conflict"

    resp = await client.post(
        f"/api/v1/kb/articles/{a['id']}/publish", headers=editor, json={"note": "审核通过"}
    )
    published = await resp.json()
    assert published["status"] == "published" and published["version"] == 3
    assert published["published_at"]
    resp = await client.post(f"/api/v1/kb/articles/{a['id']}/publish", headers=editor)
    assert resp.status == 409

    resp = await client.post(f"/api/v1/kb/articles/{a['id']}/retire", headers=editor)
    assert (await resp.json())["status"] == "retired"

    versions = await (await client.get(f"/api/v1/kb/articles/{a['id']}/versions")).json()
    assert [
        (v["version"], v["action"], v["status"], v["author"]) for v in versions["versions"]
    ] == [
        (4, "retire", "retired", "editor"),
        (3, "publish", "published", "editor"),
        (2, "edit", "draft", "editor"),
        (1, "create", "draft", "editor"),
    ]
    assert versions["versions"][2]["note"] == "材料调整"

    old = await (await client.get(f"/api/v1/kb/articles/{a['id']}/versions/1")).json()
    assert old["fee"] == "首次申领不收费" and old["materials"] == ARTICLE["materials"]
    resp = await client.get(f"/api/v1/kb/articles/{a['id']}/versions/99")
    assert resp.status == 404

    diff = await (await client.get(f"/api/v1/kb/articles/{a['id']}/diff?from=1&to=2")).json()
    by_field = {f["field"]: f for f in diff["fields"]}
    assert set(by_field) == {"fee", "materials", "updated_at"}
    assert {"op": "delete", "text": "首次申领"} in by_field["fee"]["pieces"]
    assert {"op": "insert", "text": "租房合同或房产证"} in by_field["materials"]["pieces"]
    assert "-fee: 首次申领不收费" in diff["unified"] and "+fee: 不收费" in diff["unified"]
    # Default: the newest version against the one before it.
    diff = await (await client.get(f"/api/v1/kb/articles/{a['id']}/diff")).json()
    assert (diff["from"], diff["to"]) == (3, 4)
    assert [f["field"] for f in diff["fields"]] == ["status"]

    # The retired article stays readable, with its history, by its id.
    await as_user(client, "agent1")  # the rest is read as an agent
    got = await (await client.get(f"/api/v1/kb/articles/{a['id']}")).json()
    assert got["status"] == "retired" and got["fee"] == "不收费"
    assert "changed_by" not in got  # editorial detail is for editors and managers


async def test_auto_ids_explicit_ids_and_validation(client, accounts):
    editor = await as_user(client, "editor")
    assert (await create(client, editor, id="KB-0100"))["id"] == "KB-0100"
    assert (await create(client, editor))["id"] == "KB-0101"
    resp = await client.post(
        "/api/v1/kb/articles", headers=editor, json={**ARTICLE, "id": "KB-0100"}
    )
    assert resp.status == 409
    bad_cases = [
        ({"title": "  "}, "title is required"),
        ({"id": "no spaces allowed"}, "id must be"),
        ({"materials": "one string"}, "materials must be a list"),
        ({"answer": "x" * 20_001}, "answer is longer than"),
        ({"title": "nul\x00byte"}, "control characters"),
        ({"policy_changed_at": "yesterday"}, "ISO 8601"),
        ({"unknown_field": 1}, "unknown field"),
    ]
    for change, message in bad_cases:
        resp = await client.post("/api/v1/kb/articles", headers=editor, json={**ARTICLE, **change})
        assert resp.status == 400, change
        assert message in (await resp.json())["error"]["message"], change
    resp = await client.post(
        "/api/v1/kb/articles",
        headers=editor,
        data="{not json",
        skip_auto_headers=["Content-Type"],
    )
    assert resp.status == 415
    assert (await resp.json())["error"]["code"] == "unsupported_media_type"
    resp = await client.post(
        "/api/v1/kb/articles",
        data="{not json",
        headers={**editor, "Content-Type": "application/json"},
    )
    assert resp.status == 400
    assert "malformed JSON" in (await resp.json())["error"]["message"]


async def test_unknown_articles_are_404_everywhere(client, accounts):
    editor = await as_user(client, "editor")
    for method, path in [
        ("GET", "/api/v1/kb/articles/KB-9999"),
        ("GET", "/api/v1/kb/articles/KB-9999/versions"),
        ("GET", "/api/v1/kb/articles/KB-9999/diff"),
        ("POST", "/api/v1/kb/articles/KB-9999/publish"),
        ("POST", "/api/v1/kb/articles/KB-9999/retire"),
        ("GET", "/api/v1/kb/articles/..%2F..%2Fetc"),
        ("GET", "/kb/editor/KB-9999"),
        ("GET", "/kb/articles/KB-9999"),
    ]:
        resp = await client.request(method, path, headers=editor)
        assert resp.status == 404, (method, path)
    resp = await client.put(
        "/api/v1/kb/articles/KB-9999", headers=editor, json={**ARTICLE, "base_version": 1}
    )
    assert resp.status == 404


async def test_roles(client, accounts):
    editor = await as_user(client, "editor")
    draft = await create(client, editor)
    public = await create(client, editor)
    await client.post(f"/api/v1/kb/articles/{public['id']}/publish", headers=editor)
    await client.post("/logout", headers=editor)

    writes = [
        ("POST", "/api/v1/kb/articles", ARTICLE),
        ("PUT", f"/api/v1/kb/articles/{public['id']}", {**ARTICLE, "base_version": 2}),
        ("POST", f"/api/v1/kb/articles/{draft['id']}/publish", None),
        ("POST", f"/api/v1/kb/articles/{public['id']}/retire", None),
        ("POST", "/api/v1/kb/import", None),
        ("GET", "/api/v1/kb/export", None),
    ]
    for username in ("agent1", "boss", "rsj"):
        headers = await as_user(client, username)
        for method, path, body in writes:
            resp = await client.request(method, path, json=body, headers=headers)
            assert resp.status == 403, (username, method, path)
        # Everyone on staff reads published articles; only overseers see drafts.
        assert (await client.get(f"/api/v1/kb/articles/{public['id']}")).status == 200
        draft_status = (await client.get(f"/api/v1/kb/articles/{draft['id']}")).status
        assert draft_status == (200 if username == "boss" else 404), username
        listing = await (await client.get("/api/v1/kb/articles")).json()
        assert {a["id"] for a in listing["articles"]} == (
            {draft["id"], public["id"]} if username == "boss" else {public["id"]}
        )
        # Version history is editorial.
        versions = await client.get(f"/api/v1/kb/articles/{public['id']}/versions")
        assert versions.status == (200 if username == "boss" else 403), username
        # Unit handlers may read, not search.
        search = await client.get("/api/v1/kb/search", params={"q": "居住证"})
        assert search.status == (403 if username == "rsj" else 200), username
        await client.post("/logout", headers=headers)

    admin = await as_user(client, "root")
    resp = await client.post(f"/api/v1/kb/articles/{draft['id']}/publish", headers=admin)
    assert resp.status == 200
    await client.post("/logout", headers=admin)

    # Not logged in: 401 on the API, redirect to login for pages.
    assert (await client.get("/api/v1/kb/articles")).status == 401
    assert (await client.get("/api/v1/kb/search?q=居住证")).status == 401
    resp = await client.get("/kb/editor", allow_redirects=False)
    assert resp.status == 302 and resp.headers["Location"].startswith("/login")


async def test_writes_need_the_csrf_token(client, accounts):
    await login(client, "editor")
    resp = await client.post("/api/v1/kb/articles", json=ARTICLE)
    assert resp.status == 403
    assert "CSRF" in (await resp.json())["error"]["message"]


# ---------------------------------------------------------------------- update deadline


def _shanghai(*args: int) -> dt.datetime:
    from sla.calendar import SHANGHAI

    return dt.datetime(*args, tzinfo=SHANGHAI)


def test_update_deadline_counts_working_days():
    from knowledge_base.models import Article

    # Friday 2026-02-13 before the Spring Festival: the next working day is the make-up
    # Saturday 2026-02-14, so the guide is due by the end of that day.
    article = Article(id="KB-1", policy_changed_at=_shanghai(2026, 2, 13, 16, 0))
    d = service.update_deadline(article, 1, now=_shanghai(2026, 2, 14, 9, 0))
    assert d.due_at == _shanghai(2026, 2, 14, 23, 59, 59) and d.state == "pending"
    assert service.update_deadline(article, 1, now=_shanghai(2026, 2, 15, 9)).state == "overdue"
    article.policy_published_at = _shanghai(2026, 2, 14, 18, 0)
    assert service.update_deadline(article, 1).state == "on_time"
    article.policy_published_at = _shanghai(2026, 2, 24, 9, 0)
    assert service.update_deadline(article, 1).state == "late"
    # A year the calendar does not know is not guessed.
    article = Article(id="KB-2", policy_changed_at=_shanghai(2031, 5, 6, 10, 0))
    assert service.update_deadline(article, 1) == service.UpdateDeadline(None, "unknown")
    assert service.update_deadline(Article(id="KB-3"), 1) is None


async def test_policy_change_is_flagged_when_published_late(db, accounts):
    from knowledge_base.models import Article

    who = Principal(1, "editor", "editor", Role.KB_EDITOR)
    long_ago = service.ArticleInput(**{**_input(), "policy_changed_at": _shanghai(2026, 1, 5, 9)})
    late = await service.create_article(db, "editor", long_ago)
    late = await service.publish_article(db, "editor", late.id)
    assert late.policy_published_at is not None
    assert service.update_deadline(late, 1).state == "late"

    recent = service.ArticleInput(**{**_input(), "policy_changed_at": service.utcnow()})
    fresh = await service.create_article(db, "editor", recent)
    assert service.update_deadline(fresh, 1).state == "pending"
    fresh = await service.publish_article(db, "editor", fresh.id)
    assert service.update_deadline(fresh, 1).state == "on_time"

    # Editing a published article with a new policy change publishes it at once.
    newer = service.ArticleInput(
        **{**_input(), "fee": "收费标准调整", "policy_changed_at": service.utcnow()}
    )
    fresh, changed = await service.update_article(db, "editor", fresh.id, newer, fresh.version)
    assert changed and fresh.policy_published_at is not None
    assert service.update_deadline(fresh, 1).state == "on_time"

    late_rows, total = await service.list_articles(
        db, who, service.ArticleFilter(update_state="late")
    )
    assert [a.id for a in late_rows] == [late.id] and total == 1
    assert isinstance(late_rows[0], Article)


def _input() -> dict:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in ARTICLE.items()}


async def test_listing_filters_and_paging(client, accounts):
    editor = await as_user(client, "editor")
    for i in range(5):
        await create(client, editor, title=f"测试文章{i}", category="教育" if i % 2 else "税务")
    listing = await (await client.get("/api/v1/kb/articles?category=教育")).json()
    assert listing["total"] == 2
    listing = await (await client.get("/api/v1/kb/articles?limit=2&offset=2")).json()
    assert listing["total"] == 5 and [a["title"] for a in listing["articles"]] == [
        "测试文章2",
        "测试文章3",
    ]
    listing = await (await client.get("/api/v1/kb/articles?text=文章4")).json()
    assert [a["title"] for a in listing["articles"]] == ["测试文章4"]
    listing = await (await client.get("/api/v1/kb/articles?text=%_")).json()
    assert listing["total"] == 0  # LIKE wildcards are escaped
    for bad in ("status=gone", "limit=0", "limit=x", "update=soon"):
        assert (await client.get(f"/api/v1/kb/articles?{bad}")).status == 400, bad
