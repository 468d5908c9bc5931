"""The dispatch catalogue (派单目录) in a page for managers (/dispatch/catalogue): the explicit
rules that put a unit first in the suggestions for a category (in a district or anywhere),
added and removed with pick lists, units by name."""

from __future__ import annotations

from aiohttp import web

from dispatch import catalogue
from dispatch.web.common import _service
from hotline.auth import allow
from hotline.errors import DomainError, InvalidInput
from hotline.models import Role
from hotline.web.keys import DB, principal
from hotline.web.pages import page
from hotline.web.validation import form_error, form_text, path_int

routes = web.RouteTableDef()


async def _page(
    request: web.Request,
    status: int = 200,
    error: str | None = None,
    done: str | None = None,
    values: dict[str, str] | None = None,
) -> web.Response:
    directory = await _service(request).directory_now()
    return await page(
        request,
        "dispatch/catalogue.html",
        status=status,
        error=error,
        done=done,
        rules=await catalogue.list_rules(request.app[DB]),
        categories=sorted(directory.vocabulary.categories),
        districts=sorted(directory.vocabulary.districts),
        unit_names=directory.names,
        values=values or {},
    )


@routes.get("/dispatch/catalogue")
@allow(Role.MANAGER)
async def catalogue_page(request: web.Request) -> web.Response:
    done = {"added": "已添加派单规则", "deleted": "已删除派单规则"}
    return await _page(request, done=done.get(request.query.get("done", "")))


@routes.post("/dispatch/catalogue")
@allow(Role.MANAGER)
async def catalogue_add(request: web.Request) -> web.Response:
    form = await request.post()
    values = {k: form_text(form, k, 200) for k in ("category", "district", "unit_code", "note")}
    try:
        if not values["category"] or not values["unit_code"]:
            raise InvalidInput(
                "category and unit_code are required",
                field="category",
                zh="请选择诉求类别和承办单位",
            )
        await catalogue.add_rule(
            request.app[DB],
            principal(request).username,
            values["category"],
            values["district"] or None,
            values["unit_code"],
            values["note"] or None,
        )
    except DomainError as exc:
        status, message = form_error(exc)
        return await _page(request, status=status, error=message, values=values)
    raise web.HTTPSeeOther("/dispatch/catalogue?done=added")


@routes.post("/dispatch/catalogue/{id}/delete")
@allow(Role.MANAGER)
async def catalogue_delete(request: web.Request) -> web.Response:
    try:
        await catalogue.delete_rule(
            request.app[DB], principal(request).username, path_int(request, "id", "rule")
        )
    except DomainError as exc:
        status, message = form_error(exc)
        return await _page(request, status=status, error=message)
    raise web.HTTPSeeOther("/dispatch/catalogue?done=deleted")
