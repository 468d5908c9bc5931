"""GET /api/v1/openapi.json: a valid OpenAPI 3.1 document listing every /api/v1 route with its
method, path parameters, roles and request body schema, generated from the router and the body
dataclasses."""

from __future__ import annotations

import inspect
import re
from typing import Any

from openapi_spec_validator import validate

from dispatch.service import MAX_CONTENT
from dispatch.tickets import TicketType, Urgency
from hotline.auth import allowed_roles
from hotline.web.openapi import API_PREFIX
from hotline.web.validation import INT32_MAX, INT32_MIN, declared_body
from tests.conftest import login

# Helpers through which handlers parse a JSON body (json_body itself, and the optional-body
# wrappers of the feature packages).
BODY_CALL = re.compile(r"\b(?:json_body|body_of|_optional_body)\(request, (\w+)\)")


async def fetch_document(client: Any) -> dict[str, Any]:
    await login(client, "agent1")
    resp = await client.get("/api/v1/openapi.json")
    assert resp.status == 200
    return await resp.json()


def api_routes(app: Any) -> list[Any]:
    out = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("formatter") or info.get("path") or ""
        if route.method != "HEAD" and path.startswith(API_PREFIX + "/"):
            out.append((path, route.method.lower(), route.handler))
    return out


async def test_the_document_is_for_staff_only(client, accounts):
    resp = await client.get("/api/v1/openapi.json")
    assert resp.status == 401
    assert (await resp.json())["error"]["code"] == "unauthenticated"
    for user in ("rsj", "editor", "boss", "root"):
        await login(client, user)
        assert (await client.get("/api/v1/openapi.json")).status == 200


async def test_the_document_is_valid_openapi_3_1_and_lists_every_api_route(client, accounts):
    doc = await fetch_document(client)
    validate(doc)
    assert doc["openapi"].startswith("3.1")
    routes = api_routes(client.app)
    assert len(routes) > 40
    for path, method, handler in routes:
        op = doc["paths"][path][method]
        names = re.findall(r"\{(\w+)\}", path)
        assert [p["name"] for p in op.get("parameters", [])] == names, (method, path)
        roles = allowed_roles(handler)
        assert op["x-roles"] == (
            ["public"] if roles == "public" else sorted(r.value for r in roles)
        ), (method, path)
        assert ("requestBody" in op) == (declared_body(handler) is not None), (method, path)
    listed = {(p, m) for p, ops in doc["paths"].items() for m in ops}
    assert listed == {(p, m) for p, m, _ in routes}


async def test_every_handler_that_parses_a_body_declares_it(client, accounts):
    """json_body refuses an undeclared class at run time; this finds the routes no test posts
    to, so none is missing from the document."""
    for path, method, handler in api_routes(client.app):
        parsed = set(BODY_CALL.findall(inspect.getsource(handler)))
        spec = declared_body(handler)
        declared = {spec.cls.__name__} if spec is not None and spec.cls is not None else set()
        assert parsed == declared, (method, path, parsed, declared)


async def test_body_schemas_carry_types_lengths_enums_and_required_fields(client, accounts):
    doc = await fetch_document(client)
    schemas = doc["components"]["schemas"]

    def body_of(path: str, method: str = "post") -> tuple[dict[str, Any], dict[str, Any]]:
        body = doc["paths"][path][method]["requestBody"]
        ref = body["content"]["application/json"]["schema"]["$ref"]
        return body, schemas[ref.rsplit("/", 1)[1]]

    body, ticket = body_of("/api/v1/tickets")
    assert body["required"] is True
    assert ticket["additionalProperties"] is False
    assert set(ticket["required"]) == {"content", "type"}
    props = ticket["properties"]
    assert props["content"] == {"type": "string", "maxLength": MAX_CONTENT}
    assert props["type"] == {"type": "string", "enum": [t.value for t in TicketType]}
    assert props["urgency"]["enum"] == [u.value for u in Urgency]
    assert props["urgency"]["default"] == Urgency.NORMAL.value
    assert props["confidential"] == {"type": "boolean", "default": False}
    assert props["category"] == {"type": ["string", "null"], "maxLength": 50, "default": None}
    assert props["assisting_units"] == {
        "type": "array",
        "maxItems": 1000,
        "default": [],
        "items": {"type": "string", "maxLength": 32},
    }

    body, note = body_of("/api/v1/tickets/{number}/sign")
    assert body["required"] is False and "required" not in note
    assert note["properties"]["version"] == {
        "type": ["integer", "null"],
        "minimum": INT32_MIN,
        "maximum": INT32_MAX,
        "default": None,
    }
    sign = doc["paths"]["/api/v1/tickets/{number}/sign"]["post"]
    assert sign["parameters"][0]["schema"]["pattern"] == r"^(?:\d{8}-\d{4,6})$"
    assert sign["x-roles"] == ["unit_handler"]

    _, search = body_of("/api/v1/kb/search")
    assert "description" in search["properties"]["q"]  # scrubbed, not refused

    kb_import = doc["paths"]["/api/v1/kb/import"]["post"]["requestBody"]
    assert list(kb_import["content"]) == ["application/x-ndjson"]
    progress = doc["paths"]["/api/v1/tickets/progress/{number}"]["get"]
    assert progress["security"] == [] and progress["x-roles"] == ["public"]
