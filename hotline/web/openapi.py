"""The OpenAPI 3.1 document of the JSON API under /api/v1, generated from the running app.

Nothing in it is written by hand: the paths, methods and path parameters come from the app's
router, the roles from each handler's `@allow` / `@public`, the request bodies from the
`@body(SomeIn)` declarations that `json_body` holds each route to (see
`hotline.web.validation`), and their schemas from those frozen dataclasses: types, required
fields, defaults, max lengths, integer ranges and enum values. Query parameters are not
listed: handlers read them one by one, and no declaration exists to read them from.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib.metadata
import json
import re
import types
import typing
from typing import Any, Mapping

from aiohttp import web

from hotline.auth import ALL_STAFF, PUBLIC, allow, allowed_roles
from hotline.web.validation import (
    DEFAULT_MAX_LEN,
    MAX_LIST_ITEMS,
    BodySpec,
    body_fields,
    declared_body,
    int_bounds,
)

API_PREFIX = "/api/v1"
OPENAPI_VERSION = "3.1.0"
# aiohttp's pattern for a path parameter declared without one (`{id}`).
_DEFAULT_SEGMENT = r"[^{}/]+"
_ERROR_REF = {"$ref": "#/components/responses/Error"}

routes = web.RouteTableDef()


# --- schemas of body dataclasses -----------------------------------------------------------------


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    out = dict(schema)
    if "type" in out:
        out["type"] = [out["type"], "null"]
    if "enum" in out:
        out["enum"] = [*out["enum"], None]
    return out


def field_schema(tp: Any, meta: typing.Mapping[str, Any]) -> dict[str, Any]:
    """The JSON Schema of what `hotline.web.validation._convert` accepts for one field."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        inner = field_schema(next(a for a in args if a is not type(None)), meta)
        return _nullable(inner) if type(None) in args else inner
    if origin is list:
        (item_tp,) = typing.get_args(tp)
        # max_len on a list bounds each item (see validation); the item count is fixed.
        return {"type": "array", "maxItems": MAX_LIST_ITEMS, "items": field_schema(item_tp, meta)}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        values = [m.value for m in tp]
        kinds = {type(v) for v in values}
        schema: dict[str, Any] = {"enum": values}
        if kinds == {str}:
            schema["type"] = "string"
        elif kinds == {int}:
            schema["type"] = "integer"
        return schema
    if tp is bool:
        return {"type": "boolean"}
    if tp is int:
        lo, hi = int_bounds(meta)
        return {"type": "integer", "minimum": lo, "maximum": hi}
    if tp is float:
        return {"type": "number"}
    if tp is str:
        schema = {"type": "string", "maxLength": meta.get("max_len", DEFAULT_MAX_LEN)}
        if meta.get("scrub"):
            schema["description"] = (
                "free text: NUL becomes a space and a lone surrogate U+FFFD, instead of a 400"
            )
        return schema
    raise TypeError(f"no schema for field type {tp!r}")


def _json_value(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    return value


def dataclass_schema(cls: type) -> dict[str, Any]:
    hints, fields = body_fields(cls)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for f in fields.values():
        schema = field_schema(hints[f.name], f.metadata)
        if f.default is not dataclasses.MISSING:
            schema["default"] = _json_value(f.default)
        elif f.default_factory is not dataclasses.MISSING:
            schema["default"] = _json_value(f.default_factory())
        else:
            required.append(f.name)
        properties[f.name] = schema
    out: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    if required:
        out["required"] = required
    doc = (cls.__doc__ or "").strip()
    if doc and not doc.startswith(f"{cls.__name__}("):  # dataclasses make up a signature doc
        out["description"] = doc
    return out


# --- paths from the router ------------------------------------------------------------------------


def _group_patterns(pattern: str) -> dict[str, str]:
    """Each named group's own regex in a compiled route pattern (`(?P<name>regex)`)."""
    out: dict[str, str] = {}
    for m in re.finditer(r"\(\?P<(\w+)>", pattern):
        i, depth, in_class = m.end(), 1, False
        while depth:
            ch = pattern[i]
            if ch == "\\":
                i += 2
                continue
            if in_class:
                in_class = ch != "]"
            elif ch == "[":
                in_class = True
            elif ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
            i += 1
        out[m.group(1)] = pattern[m.end() : i - 1]
    return out


def _path_parameters(info: Mapping[str, Any]) -> list[dict[str, Any]]:
    if "formatter" not in info:
        return []
    patterns = _group_patterns(info["pattern"].pattern)
    params = []
    for name in re.findall(r"\{(\w+)\}", info["formatter"]):
        schema: dict[str, Any] = {"type": "string"}
        regex = patterns.get(name, _DEFAULT_SEGMENT)
        if regex != _DEFAULT_SEGMENT:
            schema["pattern"] = f"^(?:{regex})$"
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    return params


def _request_body(
    spec: BodySpec, schemas: dict[str, tuple[type, dict[str, Any]]]
) -> dict[str, Any]:
    if spec.cls is None:
        media: dict[str, Any] = {"schema": {"type": "string"}}
    else:
        name = spec.cls.__name__
        if name in schemas and schemas[name][0] is not spec.cls:  # two modules, one name
            name = f"{spec.cls.__module__}.{name}".replace(".", "_")
        schemas[name] = (spec.cls, dataclass_schema(spec.cls))
        media = {"schema": {"$ref": f"#/components/schemas/{name}"}}
    out: dict[str, Any] = {"required": spec.required, "content": {spec.media_type: media}}
    if spec.description:
        out["description"] = spec.description
    return out


def _summary(handler: Any) -> str | None:
    doc = (getattr(handler, "__doc__", None) or "").strip()
    return " ".join(doc.split("\n\n")[0].split()) if doc else None


def document(app: web.Application) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, tuple[type, dict[str, Any]]] = {}
    used_ids: set[str] = set()
    for route in app.router.routes():
        resource = route.resource
        if route.method == "HEAD" or resource is None:  # GET routes add a HEAD twin
            continue
        info = resource.get_info()
        path = info.get("formatter") or info.get("path")
        if not isinstance(path, str) or not path.startswith(API_PREFIX + "/"):
            continue
        handler = route.handler
        op_id = getattr(handler, "__name__", "operation")
        if op_id in used_ids:
            op_id = f"{op_id}_{route.method.lower()}"
        used_ids.add(op_id)
        roles = allowed_roles(handler)
        op: dict[str, Any] = {
            "operationId": op_id,
            "tags": [path[len(API_PREFIX) + 1 :].split("/")[0].removesuffix(".json")],
            "responses": {
                "2XX": {"description": "success"},
                "4XX": _ERROR_REF,
                "default": _ERROR_REF,
            },
        }
        summary = _summary(handler)
        if summary:
            op["summary"] = summary
        params = _path_parameters(info)
        if params:
            op["parameters"] = params
        if roles == PUBLIC:
            op["security"] = []
            op["x-roles"] = ["public"]
        else:
            assert not isinstance(roles, str)  # the only str role marker is PUBLIC
            # Undeclared roles: the auth middleware refuses everyone.
            op["x-roles"] = sorted(r.value for r in (roles or ()))
        spec = declared_body(handler)
        if spec is not None:
            op["requestBody"] = _request_body(spec, schemas)
        paths.setdefault(path, {})[route.method.lower()] = op
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "12345 hotline API",
            "version": _version(),
            "description": (
                "Work orders, knowledge base, call tracking and administration of the 12345 "
                'hotline. Every error is `{"error": {"code", "message"}}` with the '
                "matching status. Text fields refuse NUL and lone surrogates (400) unless "
                "described otherwise; integers are 32-bit unless bounded otherwise. "
                "`x-roles` names the roles allowed on each operation."
            ),
        },
        "servers": [{"url": "/"}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": {
                "Error": _ERROR_SCHEMA,
                **{name: schema for name, (_, schema) in sorted(schemas.items())},
            },
            "responses": {
                "Error": {
                    "description": "the one error shape",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                }
            },
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "an API token hl_... (`hotline users token NAME`)",
                },
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "hotline_session",
                    "description": "a browser session from /login; writes also send "
                    "the page's CSRF token as X-CSRF-Token",
                },
            },
        },
        "security": [{"bearer": []}, {"session": []}],
    }


_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "additionalProperties": False,
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "details": {"type": "object"},
            },
        }
    },
}


def _version() -> str:
    try:
        return importlib.metadata.version("hotline12345")
    except importlib.metadata.PackageNotFoundError:
        return "0"


@routes.get(API_PREFIX + "/openapi.json")
@allow(*ALL_STAFF)
async def openapi_json(request: web.Request) -> web.Response:
    """The OpenAPI 3.1 document of /api/v1. Any logged-in staff member, not the public: it
    maps every internal route and the roles that may call it, which helps an attacker and
    nobody without an account (integrators hold API tokens; citizens only reach the progress
    lookup, through the IVR)."""
    return web.json_response(
        document(request.app), dumps=lambda o: json.dumps(o, ensure_ascii=False)
    )
