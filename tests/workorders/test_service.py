"""Work-order use cases on the real database (SQLite or PostgreSQL)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

import pytest
from sqlalchemy.exc import DBAPIError
from sqlalchemy import func, select, text

from dispatch import catalogue
from dispatch.models import Followup, Ticket, TicketEvent
from dispatch.routing import RoutingRequest
from dispatch.service import TicketService, mask_phone
from dispatch.tickets import Resolution, Satisfaction, Status, TicketType, Urgency
from hotline.auth import Principal
from hotline.db import Database
from hotline.directory.models import Unit
from hotline.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from hotline.models import AuditEntry, Role
from sla.calendar import SHANGHAI

from .conftest import AGENT, GJJ, MANAGER, RSJ, wages_ticket


async def events_of(service: TicketService, number: str) -> list[tuple[str, str | None, str]]:
    view = await service.get(MANAGER, number)
    return [(e.action, e.from_status, e.to_status) for e in view.events]


async def test_create_with_a_confirmed_unit_dispatches_with_deadlines(service, clock):
    created = await service.create(AGENT, wages_ticket(call_id="1700000000.42"))
    t = created.ticket
    assert t.number == "20261123-0001"
    assert t.status == "dispatched" and t.main_unit_code == "ZZ-RSJ"
    # ZZ-RSJ: 10 working days; acknowledgement: 2 office hours from 10:00.
    assert t.due == dt.datetime(2026, 12, 7, 23, 59, 59, tzinfo=SHANGHAI)
    assert t.acknowledge_due == dt.datetime(2026, 11, 23, 12, 0, tzinfo=SHANGHAI)
    assert t.call_id == "1700000000.42" and t.caller_phone == "13812345678"
    advice = await service.advise(AGENT, t.content, t.district, t.category, t.number)
    assert advice.suggestions[0].unit_code in ("ZZ-RSJ-JC", "ZZ-RSJ")
    assert advice.duplicates == []  # never the ticket itself
    async with service.db.read() as s:  # stored in its dispatched state, nothing left NULL
        row = (
            await s.execute(
                select(
                    Ticket.status, Ticket.review_needed, Ticket.reopen_count, Ticket.version
                ).where(Ticket.number == t.number)
            )
        ).one()
    assert tuple(row) == ("dispatched", False, 0, 1)
    assert await events_of(service, t.number) == [
        ("create", None, "created"),
        ("dispatch", "created", "dispatched"),
    ]


async def test_numbers_are_per_local_day_and_unique_under_concurrency(service, clock):
    results = await asyncio.gather(*(service.create(AGENT, wages_ticket()) for _ in range(12)))
    numbers = sorted(r.ticket.number for r in results)
    assert numbers == [f"20261123-{i:04d}" for i in range(1, 13)]
    clock.now = dt.datetime(2026, 11, 23, 16, 30, tzinfo=dt.timezone.utc)  # 00:30 on the 24th
    nxt = await service.create(AGENT, wages_ticket())
    assert nxt.ticket.number == "20261124-0001"


async def test_reports_are_confidential_and_units_see_a_masked_number(service):
    created = await service.create(AGENT, wages_ticket(type=TicketType.REPORT))
    number = created.ticket.number
    assert created.ticket.confidential
    unit_view = await service.get(RSJ, number)
    assert unit_view.caller_phone == "138****5678" and unit_view.caller_name == "（保密）"
    agent_view = await service.get(AGENT, number)
    assert agent_view.caller_phone == "13812345678" and agent_view.caller_name == "张三"
    listed = await service.find(RSJ)
    assert [v.caller_phone for v in listed] == ["138****5678"]
    open_ticket = await service.create(AGENT, wages_ticket())
    assert (await service.get(RSJ, open_ticket.ticket.number)).caller_phone == "13812345678"
    assert mask_phone("12345") == "*****"


async def test_a_unit_never_sees_another_units_ticket(service):
    number = (await service.create(AGENT, wages_ticket())).ticket.number
    with pytest.raises(NotFound):
        await service.get(GJJ, number)
    with pytest.raises(NotFound):
        await service.sign(GJJ, number)
    assert await service.find(GJJ) == []
    with pytest.raises(NotFound):
        await service.get(GJJ, "20261123-9999")


async def test_assisting_units_see_the_ticket_but_cannot_act_for_the_main_unit(service):
    number = (await service.create(AGENT, wages_ticket(assisting_units=("ZZ-GJJ",)))).ticket.number
    view = await service.get(GJJ, number)
    assert view.ticket.assisting_units == ("ZZ-GJJ",)
    assert [v.ticket.number for v in await service.find(GJJ)] == [number]
    with pytest.raises(PermissionDenied):
        await service.sign(GJJ, number)


async def test_full_loop_with_callback_closing_a_satisfied_ticket(service, clock):
    number = (await service.create(AGENT, wages_ticket())).ticket.number
    clock.advance(minutes=30)
    await service.sign(RSJ, number)
    clock.advance(days=2)
    await service.reply(RSJ, number, "经核查，已责令该公司于三日内支付拖欠工资。")
    assert [v.ticket.number for v in await service.callbacks_due(AGENT)] == [number]
    clock.advance(days=1)
    view = await service.callback(AGENT, number, Resolution.RESOLVED, Satisfaction.SATISFIED)
    assert view.ticket.status == "closed" and view.ticket.closed_at == clock.now
    assert await events_of(service, number) == [
        ("create", None, "created"),
        ("dispatch", "created", "dispatched"),
        ("sign", "dispatched", "signed"),
        ("reply", "signed", "replied"),
        ("callback", "replied", "called_back"),
        ("close", "called_back", "closed"),
    ]
    assert await service.callbacks_due(AGENT) == []


async def test_unsatisfied_citizen_waits_for_a_manager_who_reopens(service, clock):
    number = (await service.create(AGENT, wages_ticket())).ticket.number
    await service.sign(RSJ, number)
    await service.reply(RSJ, number, "已处理")
    view = await service.callback(AGENT, number, Resolution.UNRESOLVED, Satisfaction.UNSATISFIED)
    assert view.ticket.status == "called_back" and view.ticket.review_needed
    queue = await service.review_queue(MANAGER)
    assert [v.ticket.number for v in queue["unsatisfied"]] == [number]
    clock.advance(days=1)
    view = await service.reopen(MANAGER, number, note="重办：工资仍未到账")
    t = view.ticket
    assert t.status == "dispatched" and t.reopen_count == 1 and t.main_unit_code == "ZZ-RSJ"
    assert t.due > clock.now and t.reply_text is None
    assert (await service.review_queue(MANAGER))["unsatisfied"] == []


async def test_a_manager_may_close_after_an_unhappy_callback(service):
    number = (await service.create(AGENT, wages_ticket())).ticket.number
    await service.sign(RSJ, number)
    await service.reply(RSJ, number, "已依法答复")
    await service.callback(AGENT, number, Resolution.RESOLVED, Satisfaction.UNSATISFIED)
    view = await service.close(MANAGER, number, note="诉求超出政策范围，维持答复")
    assert view.ticket.status == "closed" and not view.ticket.review_needed


async def test_return_review_redispatch_and_send_back(service, clock):
    number = (await service.create(AGENT, wages_ticket())).ticket.number
    await service.return_ticket(RSJ, number, "属于公积金中心职责")
    queue = await service.review_queue(MANAGER)
    assert [v.ticket.number for v in queue["returned"]] == [number]
    view = await service.redispatch(MANAGER, number, "ZZ-GJJ", note="改派公积金中心")
    assert view.ticket.main_unit_code == "ZZ-GJJ" and view.ticket.status == "dispatched"
    with pytest.raises(NotFound):  # the first unit no longer sees it
        await service.get(RSJ, number)
    await service.sign(GJJ, number)
    await service.return_ticket(GJJ, number, "仍不属于我们")
    due_before = (await service.get(MANAGER, number)).ticket.due
    view = await service.send_back(MANAGER, number, note="经审核属于你单位职责")
    assert view.ticket.main_unit_code == "ZZ-GJJ" and view.ticket.due == due_before
    assert view.ticket.status == "dispatched"


async def test_extension_requested_before_the_deadline_and_approved(service, clock):
    number = (await service.create(AGENT, wages_ticket())).ticket.number
    await service.sign(RSJ, number)
    old_due = (await service.get(MANAGER, number)).ticket.due
    wanted = dt.datetime(2026, 12, 14, 23, 59, 59, tzinfo=SHANGHAI)
    await service.request_extension(RSJ, number, wanted, "需协调多个部门现场核查")
    assert [v.ticket.number for v in (await service.review_queue(MANAGER))["extensions"]] == [
        number
    ]
    view = await service.approve_extension(MANAGER, number)
    assert view.ticket.due == wanted > old_due
    async with service.db.read() as s:
        escalate = await s.scalar(select(Followup).where(Followup.kind == "escalate"))
    assert escalate.due_at == wanted  # the follow-up moved with the deadline
    history = (await service.get(MANAGER, number)).events
    assert [e.action for e in history][-2:] == ["request_extension", "approve_extension"]


async def test_extension_refused_and_bad_extension_requests(service, clock):
    number = (await service.create(AGENT, wages_ticket())).ticket.number
    await service.sign(RSJ, number)
    with pytest.raises(InvalidInput):  # in the past
        await service.request_extension(RSJ, number, clock.now - dt.timedelta(days=1), "r")
    wanted = dt.datetime(2026, 12, 14, 23, 59, 59, tzinfo=SHANGHAI)
    await service.request_extension(RSJ, number, wanted, "需要现场核查")
    view = await service.refuse_extension(MANAGER, number, note="时限充足")
    assert view.ticket.due < wanted and view.ticket.extension_requested_due is None
    clock.now = view.ticket.due + dt.timedelta(minutes=1)
    with pytest.raises(Conflict):  # too late: the deadline has passed
        await service.request_extension(RSJ, number, wanted, "需要现场核查")


async def test_answered_on_the_spot_is_closed_at_creation(service):
    created = await service.create(
        AGENT,
        wages_ticket(
            unit_code=None, type=TicketType.CONSULT, answered_on_spot=True, kb_article_id="KB-0007"
        ),
    )
    t = created.ticket
    assert t.status == "closed" and t.kb_article_id == "KB-0007" and t.closed_at is not None
    async with service.db.read() as s:
        assert await s.scalar(select(func.count()).select_from(Followup)) == 0


async def test_created_without_unit_then_dispatched_by_the_agent(service):
    created = await service.create(AGENT, wages_ticket(unit_code=None))
    assert created.ticket.status == "created"
    view = await service.dispatch(AGENT, created.ticket.number, "ZZ-RSJ-JC")
    assert view.ticket.status == "dispatched" and view.ticket.main_unit_code == "ZZ-RSJ-JC"


async def test_urgent_ticket_due_in_calendar_hours(service, clock):
    view = await service.create(AGENT, wages_ticket(urgency=Urgency.URGENT))
    assert view.ticket.due == clock.now + dt.timedelta(hours=24)
    assert view.ticket.acknowledge_due == clock.now + dt.timedelta(hours=2)


async def test_merge_then_master_reply_reaches_every_caller(service, clock):
    master = (await service.create(AGENT, wages_ticket())).ticket.number
    dup = (await service.create(AGENT, wages_ticket(caller_phone="13900001111"))).ticket.number
    similar = await service.similar(
        AGENT, "公司拖欠三个月工资，要求劳动监察督促支付", "金水区", "劳动就业"
    )
    assert {c.ticket.number for c in similar} == {master, dup}
    await service.merge(MANAGER, dup, master, note="同一公司欠薪")
    view = await service.get(MANAGER, master)
    assert view.merged_numbers == [dup]
    with pytest.raises(Conflict):  # a merged ticket is no master
        await service.merge(MANAGER, master, dup)
    with pytest.raises(InvalidInput):
        await service.merge(MANAGER, master, master)
    await service.sign(RSJ, master)
    await service.reply(RSJ, master, "已督促公司支付全部工资")
    due = {v.ticket.number for v in await service.callbacks_due(AGENT)}
    assert due == {master, dup}
    child = await service.get(MANAGER, dup)
    assert child.ticket.status == "replied" and child.master_number == master
    assert child.ticket.reply_text == "已督促公司支付全部工资"
    await service.callback(AGENT, dup, Resolution.RESOLVED, Satisfaction.BASIC)
    assert (await service.get(MANAGER, dup)).ticket.status == "closed"


async def test_bad_input_is_refused_before_anything_is_written(service, clock):
    bad = [
        dict(content="x" * 5001),
        dict(content="   "),
        dict(unit_code="ZZ-NOPE"),
        dict(assisting_units=("ZZ-NOPE",)),
        dict(category="不存在的类别"),
        dict(district="火星区"),
        dict(caller_phone="call me"),
        dict(due=clock.now - dt.timedelta(hours=1)),
        dict(unit_code=None, answered_on_spot=True),
    ]
    for changes in bad:
        with pytest.raises(InvalidInput):
            await service.create(AGENT, wages_ticket(**changes))
    async with service.db.read() as s:
        assert await s.scalar(select(func.count()).select_from(Ticket)) == 0


async def test_explicit_deadline_and_phone_lookup(service, clock):
    due = clock.now + dt.timedelta(days=2)
    view = await service.create(AGENT, wages_ticket(due=due, caller_phone="+86 138-1234-5678"))
    assert view.ticket.due == due and view.ticket.caller_phone == "13812345678"
    await service.create(AGENT, wages_ticket(caller_phone="13900001111"))
    earlier = await service.find(AGENT, phone="138 1234 5678")
    assert [v.ticket.number for v in earlier] == [view.ticket.number]


async def test_units_see_overdue_first_and_managers_get_the_overdue_list(service, clock):
    first = (await service.create(AGENT, wages_ticket())).ticket.number
    clock.advance(days=3)
    second = (
        await service.create(AGENT, wages_ticket(due=clock.now + dt.timedelta(hours=1)))
    ).ticket.number
    clock.advance(hours=2)
    assert [v.ticket.number for v in await service.find(RSJ)] == [second, first]
    assert [v.ticket.number for v in await service.find(MANAGER, overdue=True)] == [second]
    assert await service.overdue_count(RSJ) == 1


async def test_views_say_overdue_by_the_service_clock(service, clock):
    view = await service.create(AGENT, wages_ticket(due=clock.now + dt.timedelta(hours=1)))
    number = view.ticket.number
    assert view.overdue is False and (await service.get(RSJ, number)).overdue is False
    clock.advance(hours=2)  # the service's clock, not the wall clock, decides
    assert (await service.get(RSJ, number)).overdue is True
    assert [v.overdue for v in await service.find(MANAGER, overdue=True)] == [True]
    assert (await service.sign(RSJ, number)).overdue is True
    assert (await service.reply(RSJ, number, "已督促公司支付拖欠工资。")).overdue is False


async def test_two_units_acting_at_once_one_wins_the_other_gets_409(service, db):
    number = (await service.create(AGENT, wages_ticket())).ticket.number
    results = await asyncio.gather(
        service.sign(RSJ, number), service.sign(RSJ, number), return_exceptions=True
    )
    assert sorted(type(r).__name__ for r in results) == ["Conflict", "TicketView"] or sorted(
        type(r).__name__ for r in results
    ) == ["IllegalTransition", "TicketView"]
    assert any(isinstance(r, Conflict) for r in results)
    async with db.read() as s:
        signs = await s.scalar(
            select(func.count()).select_from(TicketEvent).where(TicketEvent.action == "sign")
        )
    assert signs == 1


async def test_reply_and_return_racing(service, db):
    number = (await service.create(AGENT, wages_ticket())).ticket.number
    await service.sign(RSJ, number)
    results = await asyncio.gather(
        service.reply(RSJ, number, "已办理"),
        service.return_ticket(RSJ, number, "不是我们的"),
        return_exceptions=True,
    )
    assert sum(isinstance(r, Conflict) for r in results) == 1
    final = (await service.get(MANAGER, number)).ticket.status
    assert final in ("replied", "returned")
    async with db.read() as s:
        moves = list(
            await s.scalars(
                select(TicketEvent.action).where(TicketEvent.action.in_(["reply", "return"]))
            )
        )
    assert len(moves) == 1


async def test_stale_version_is_a_409(service):
    view = await service.create(AGENT, wages_ticket())
    with pytest.raises(Conflict):
        await service.sign(RSJ, view.ticket.number, version=view.ticket.version - 1)
    signed = await service.sign(RSJ, view.ticket.number, version=view.ticket.version)
    assert signed.ticket.version == view.ticket.version + 1


async def test_history_is_append_only_and_audited(service, db):
    number = (await service.create(AGENT, wages_ticket())).ticket.number

    async def history() -> list[tuple]:
        async with db.read() as s:
            return [
                tuple(r)
                for r in await s.execute(
                    text("SELECT id, action, note, to_status FROM ticket_events ORDER BY id")
                )
            ]

    before = await history()
    assert [r[1] for r in before] == ["create", "dispatch"]
    with pytest.raises(DBAPIError, match="ticket_events is append-only"):
        async with db.write() as s:
            await s.execute(text("UPDATE ticket_events SET note = 'x'"))
    with pytest.raises(DBAPIError, match="ticket_events is append-only"):
        async with db.write() as s:
            await s.execute(text("DELETE FROM ticket_events"))
    assert await history() == before
    async with db.read() as s:
        actions = list(
            await s.scalars(
                select(AuditEntry.action).where(
                    AuditEntry.target_type == "ticket", AuditEntry.target_id == number
                )
            )
        )
    assert actions == ["ticket.create", "ticket.dispatch"]


async def test_progress_lookup_needs_the_phone_digits(service):
    number = (await service.create(AGENT, wages_ticket())).ticket.number
    progress = await service.progress(number, "5678")
    assert progress.status is Status.DISPATCHED and progress.due is not None
    with pytest.raises(NotFound):
        await service.progress(number, "0000")
    with pytest.raises(InvalidInput):
        await service.progress(number, "56")


async def test_suggestions_learn_from_answered_tickets(service):
    js_cgj = Principal(9, "jscg", "jscg", Role.UNIT_HANDLER, "JS-CGJ")
    story = "来电人反映小区门口的共享单车乱停乱放，堵住了消防通道"
    request = RoutingRequest(story, "金水区", "城市管理")
    before = await service.suggest(request)
    assert not any("相似历史工单" in r for s in before for r in s.reasons)
    for _ in range(3):
        number = (
            await service.create(
                AGENT,
                wages_ticket(content=story + "，要求清理", category="城市管理", unit_code="JS-CGJ"),
            )
        ).ticket.number
        await service.sign(js_cgj, number)
        await service.reply(js_cgj, number, "已清理")
    after = await service.suggest(request)
    learnt = next(s for s in after if s.unit_code == "JS-CGJ")
    assert any("相似历史工单" in r for r in learnt.reasons)
    assert after[0].unit_code == "JS-CGJ"


async def test_a_managers_catalogue_rule_comes_first(service, db):
    from dispatch import catalogue

    request = RoutingRequest("来电人咨询公积金贷款额度怎么计算", None, "住房公积金")
    assert (await service.suggest(request))[0].unit_code == "ZZ-GJJ"
    rule = await catalogue.add_rule(db, "boss", "住房公积金", None, "ZZ-RSJ", "测试规则")
    top = (await service.suggest(request))[0]
    assert top.unit_code == "ZZ-RSJ" and top.reasons[0].startswith("派单目录")
    with pytest.raises(Conflict):
        await catalogue.add_rule(db, "boss", "住房公积金", None, "ZZ-GJJ")
    with pytest.raises(InvalidInput):
        await catalogue.add_rule(db, "boss", "不存在", None, "ZZ-GJJ")
    with pytest.raises(InvalidInput):
        await catalogue.add_rule(db, "boss", "住房公积金", "火星区", "ZZ-GJJ")
    with pytest.raises(InvalidInput):
        await catalogue.add_rule(db, "boss", "住房公积金", None, "ZZ-NOPE")
    district_rule = await catalogue.add_rule(db, "boss", "住房公积金", "金水区", "JS-GOV")
    assert district_rule.id != rule.id
    await catalogue.delete_rule(db, "boss", rule.id)
    assert (await service.suggest(request))[0].unit_code == "ZZ-GJJ"
    with pytest.raises(NotFound):
        await catalogue.delete_rule(db, "boss", rule.id)


async def test_two_managers_adding_the_same_rule_at_once(service, db):
    from dispatch import catalogue

    results = await asyncio.gather(
        catalogue.add_rule(db, "boss", "住房公积金", None, "ZZ-GJJ"),
        catalogue.add_rule(db, "boss2", "住房公积金", None, "ZZ-RSJ"),
        return_exceptions=True,
    )
    assert sum(isinstance(r, Conflict) for r in results) == 1
    assert len(await catalogue.list_rules(db)) == 1


async def test_merge_racing_the_masters_reply_leaves_no_caller_behind(service):
    master = (await service.create(AGENT, wages_ticket())).ticket.number
    dup = (await service.create(AGENT, wages_ticket(caller_phone="13900001111"))).ticket.number
    await service.sign(RSJ, master)
    results = await asyncio.gather(
        service.merge(MANAGER, dup, master),
        service.reply(RSJ, master, "已处理"),
        return_exceptions=True,
    )
    assert not any(isinstance(r, Exception) and not isinstance(r, Conflict) for r in results)
    child = (await service.get(MANAGER, dup)).ticket
    # Merged before the reply: the caller got the answer too. After it: the merge was refused.
    assert child.status in ("replied", "dispatched")
    assert (child.status == "replied") == (not isinstance(results[0], Exception))


async def test_the_directory_stamp_reads_alike_with_and_without_a_session(service):
    async with service.db.read() as s:
        stamp = await catalogue.directory_stamp(s)
    assert stamp[0] > 0 and stamp[2] is not None  # units, the newest change among them
    assert await catalogue.current_stamp(service.db) == stamp


async def test_a_unit_closed_after_a_creation_is_refused_to_the_next(service, clock):
    await service.create(AGENT, wages_ticket())  # the directory is now cached
    async with service.db.write() as s:
        unit = await s.get(Unit, "ZZ-RSJ")
        # Stamped with the service's clock, which is behind the directory's import time.
        unit.active, unit.updated_at = False, clock.now
    with pytest.raises(InvalidInput) as refused:
        await service.create(AGENT, wages_ticket())
    assert refused.value.details == {"field": "unit_code"}
    with pytest.raises(InvalidInput) as refused:
        await service.create(AGENT, wages_ticket(unit_code="ZZ-GJJ", assisting_units=("ZZ-RSJ",)))
    assert refused.value.details == {"field": "assisting_units"}


REFUSED = "数据库拒绝写入的诉求内容"


def _refusing_trigger(db: Database) -> tuple[list[str], list[str]]:
    """DDL making the database itself refuse a ticket with the REFUSED content (a real failure
    of the insert, after the number was taken), and the DDL undoing it."""
    if db.is_sqlite:
        return (
            [
                f"CREATE TRIGGER refuse_one BEFORE INSERT ON tickets "
                f"WHEN NEW.content = '{REFUSED}' BEGIN SELECT RAISE(ABORT, 'refused'); END"
            ],
            ["DROP TRIGGER refuse_one"],
        )
    return (
        [
            f"CREATE FUNCTION refuse_one() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF NEW.content = '{REFUSED}' THEN RAISE EXCEPTION 'refused'; END IF; "
            f"RETURN NEW; END $$",
            "CREATE TRIGGER refuse_one BEFORE INSERT ON tickets "
            "FOR EACH ROW EXECUTE FUNCTION refuse_one()",
        ],
        ["DROP TRIGGER refuse_one ON tickets", "DROP FUNCTION refuse_one()"],
    )


async def test_a_creation_the_database_refuses_stores_nothing(service, caplog):
    first = (await service.create(AGENT, wages_ticket())).ticket.number
    async with service.db.read() as s:
        once = {
            table.__name__: 2 * await s.scalar(select(func.count()).select_from(table))
            for table in (TicketEvent, Followup)
        }
    create, undo = _refusing_trigger(service.db)
    async with service.db.write() as s:
        for statement in create:
            await s.execute(text(statement))
    try:
        with caplog.at_level(logging.WARNING, logger="dispatch.service"):
            with pytest.raises(DBAPIError):
                await service.create(AGENT, wages_ticket(content=REFUSED))
        after = (await service.create(AGENT, wages_ticket())).ticket.number
    finally:
        async with service.db.write() as s:
            for statement in undo:
                await s.execute(text(statement))
    async with service.db.read() as s:
        # Two like creations stored, each with the rows of the first: none of the refused one.
        counts = {
            table.__name__: await s.scalar(select(func.count()).select_from(table))
            for table in (Ticket, TicketEvent, Followup)
        }
        assert counts == {"Ticket": 2, **once}, counts
        creations = await s.scalars(
            select(AuditEntry.target_id).where(AuditEntry.action == "ticket.create")
        )
        assert sorted(creations) == sorted([first, after])
    day, seq = first.split("-")
    if service.db.is_sqlite:  # the number was taken in the refused transaction: no gap
        assert after == f"{day}-{int(seq) + 1:04d}" and "taken but not used" not in caplog.text
    else:  # taken in a transaction of its own: a gap, and the log names the unused number
        assert after == f"{day}-{int(seq) + 2:04d}"
        assert f"ticket number {day}-{int(seq) + 1:04d} was taken but not used" in caplog.text
