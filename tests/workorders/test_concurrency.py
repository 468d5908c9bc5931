"""Many agents creating tickets at once through the real app: every creation is stored under a
number of its own, and the advice asked meanwhile names earlier tickets; a write that cannot
start in time is a 503 that wrote nothing, never a 500. Not timed (benchmarks/http_load.py is).
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from dispatch.models import Ticket, TicketEvent
from dispatch import duplicates
from tests.workorders.test_api import call, ticket_body, tokens  # noqa: F401 (fixture)

PARALLEL = 60


async def test_parallel_creations_are_all_stored_with_distinct_numbers(wo_client, tokens, db):
    first = await call(wo_client, "POST", "/api/v1/tickets", tokens["agent1"], ticket_body(), 201)
    bodies = [
        ticket_body(caller_phone=f"1380000{i:04d}", **({} if i % 3 else {"unit_code": None}))
        for i in range(PARALLEL)
    ]
    text = {"text": ticket_body()["content"], "district": "金水区", "category": "劳动就业"}
    answers, advice = await asyncio.gather(
        asyncio.gather(
            *(
                call(wo_client, "POST", "/api/v1/tickets", tokens["agent1"], body, 201)
                for body in bodies
            )
        ),
        asyncio.gather(
            *(
                call(wo_client, "POST", "/api/v1/tickets/advice", tokens["agent1"], text)
                for _ in range(10)
            )
        ),
    )
    numbers = [a["ticket"]["number"] for a in answers]
    assert len(set(numbers)) == PARALLEL
    async with db.read() as s:
        stored = set(await s.scalars(select(Ticket.number)))
        events = await s.scalar(
            select(func.count()).select_from(TicketEvent).where(TicketEvent.action == "create")
        )
    assert stored == set(numbers) | {first["ticket"]["number"]} and events == PARALLEL + 1
    # The same matter told again and again: advice asked for while creations go on suggests
    # units and names similar tickets that are all stored: the first ticket, unless ten newer
    # ones fill the list.
    for a in advice:
        assert a["suggestions"]
        similar = [c["number"] for c in a["similar"]]
        assert first["ticket"]["number"] in similar or len(similar) == 10
        assert set(similar) <= stored


async def test_advice_names_the_similar_tickets_and_suggests_units(wo_client, tokens):
    first = await call(wo_client, "POST", "/api/v1/tickets", tokens["agent1"], ticket_body(), 201)
    other = await call(
        wo_client,
        "POST",
        "/api/v1/tickets",
        tokens["agent1"],
        ticket_body(
            content="来电人反映二七区一处建筑工地夜间施工噪音扰民，要求城管部门查处。",
            category="城市管理",
            district="二七区",
            unit_code=None,
        ),
        201,
    )
    again = await call(
        wo_client,
        "POST",
        "/api/v1/tickets/advice",
        tokens["agent1"],
        {
            "text": "金水区某公司拖欠我三个月工资一万二千元，多次讨要未果，请劳动监察督促支付",
            "district": "金水区",
            "category": "劳动就业",
        },
    )
    assert again["suggestions"][0]["unit_code"] in ("ZZ-RSJ", "ZZ-RSJ-JC")
    similar = [c["number"] for c in again["similar"]]
    assert similar == [first["ticket"]["number"]]
    assert other["ticket"]["number"] not in similar
    assert again["similar"][0]["score"] >= duplicates.THRESHOLD


async def test_a_write_that_cannot_start_in_time_is_503_and_writes_nothing(wo_client, tokens, db):
    if not db.is_sqlite:
        pytest.skip("the write queue is SQLite's (PostgreSQL writers lock rows)")
    db.write_wait_s = 0.2
    release = asyncio.Event()

    async def long_writer() -> None:
        async with db.write():
            await release.wait()

    holder = asyncio.create_task(long_writer())
    await asyncio.sleep(0.05)
    try:
        resp = await wo_client.post("/api/v1/tickets", headers=tokens["agent1"], json=ticket_body())
        data = await resp.json()
        assert resp.status == 503, data
        assert (
            resp.headers["Retry-After"] == "2"
            and "send the request again" in data["error"]["message"]
        )
        assert (
            data["error"]["code"] == "unavailable" and "本次未保存" in data["error"]["message_zh"]
        )
    finally:
        release.set()
        await holder
    async with db.read() as s:
        assert await s.scalar(select(func.count()).select_from(Ticket)) == 0
    db.write_wait_s = 30.0
    await call(wo_client, "POST", "/api/v1/tickets", tokens["agent1"], ticket_body(), 201)


def test_the_fast_search_ranks_exactly_as_scoring_every_candidate():
    texts = [
        "来电人反映金水区某小区物业长期不清理垃圾，楼道堆满杂物，要求物业整改。",
        "金水区某小区楼道堆满杂物，物业不清理垃圾",
        "二七区建筑工地夜间施工噪音扰民，要求查处",
        "建筑工地夜间施工，噪音很大，影响休息",
        "公司拖欠三个月工资，要求劳动监察督促支付",
        "小区门口共享单车乱停乱放，堵住消防通道",
        "消防通道被共享单车堵住了，小区门口乱停乱放",
        "咨询公积金贷款额度怎么计算",
        "公积金",
        "",
    ]
    pool = [(i, duplicates.Pairs.of(t)) for i, t in enumerate(texts * 3)]
    for query in texts + ["物业不清理楼道杂物", "共享单车堵消防通道", "夜间施工噪音"]:
        every = [
            (i, round(duplicates.similarity(query, texts[i % len(texts)]), 1))
            for i in range(len(pool))
        ]
        every = sorted(
            [c for c in every if c[1] >= duplicates.THRESHOLD], key=lambda c: (-c[1], -c[0])
        )[:10]
        assert duplicates.best(duplicates.Pairs.of(query), pool) == every, query
