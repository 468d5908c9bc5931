"""Parse request bodies, paths, query strings and forms at the edge.

A body model is a frozen dataclass; field types supported: str, int, float, bool, enums,
list[X], and `X | None`. Field metadata:

- `max_len` bounds strings (default 10,000 characters); on a list it bounds each item (a list
  holds at most 1,000 items);
- `min` / `max` bound integers (default: the signed 32-bit range, because ids, versions and
  counts are INTEGER columns, int4 on PostgreSQL);
- `scrub: True` marks pasted free text that the service cleans itself (the knowledge-base
  search box): NUL becomes a space and a lone surrogate U+FFFD instead of a 400, so a paste
  cut in the middle of an emoji still searches.

Every other string is refused when it holds NUL (PostgreSQL cannot store it in text) or a lone
surrogate (`\\ud800`: not encodable as UTF-8, neither database can store it). Unknown fields,
wrong types, missing fields and out-of-range numbers are refused with the field named; nothing
reaches a service unparsed.

Each JSON route declares its body class with `@body(SomeIn)` beside `@allow`; `json_body`
refuses to parse a class the route did not declare, so the OpenAPI document
(`hotline.web.openapi`), which reads the declarations, cannot drift from what is parsed.

Path segments and form fields are screened for NUL once for every route by
`input_middleware`; query-string values that reach SQL are read with `query_text`.
"""

from __future__ import annotations

import datetime as dt

import dataclasses
import enum
import json
import math
import re
import types
import typing
from collections.abc import Mapping
from typing import Any, Callable, TypeVar

from aiohttp import web

from hotline.errors import InvalidInput, NotFound
from hotline.web.keys import SETTINGS

T = TypeVar("T")
H = TypeVar("H", bound=Callable[..., Any])
DEFAULT_MAX_LEN = 10_000
MAX_LIST_ITEMS = 1000
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
_SURROGATE = re.compile("[\ud800-\udfff]")
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


# --- text ---------------------------------------------------------------------------------------


def safe_text(name: str, value: str, *, scrub: bool = False) -> str:
    """`value` if both databases can store it; with `scrub` a storable copy, else InvalidInput."""
    if "\x00" in value:
        if not scrub:
            raise InvalidInput(
                f"{name} must not contain NUL (control characters are not accepted)",
                field=name,
                zh=f"字段 {name} 不能含有 NUL 控制字符",
            )
        value = value.replace("\x00", " ")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            if not scrub:
                raise InvalidInput(
                    f"{name} contains a lone surrogate (\\ud800-\\udfff): not valid Unicode text",
                    field=name,
                    zh=f"字段 {name} 含有无效的 Unicode 字符",
                ) from None
            value = _SURROGATE.sub("\ufffd", value)
    return value


def shown(value: str, limit: int = 40) -> str:
    """Client text quoted back in a message: cut short, escapes for what is not printable
    (a lone surrogate in a response would fail to encode)."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in value[:limit])


# --- JSON bodies --------------------------------------------------------------------------------


def _type_name(tp: Any) -> str:
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return "one of " + ", ".join(str(m.value) for m in tp)
    return {str: "string", int: "integer", float: "number", bool: "boolean"}.get(tp, str(tp))


def int_bounds(meta: Mapping[str, Any]) -> tuple[int, int]:
    return meta.get("min", INT32_MIN), meta.get("max", INT32_MAX)


def _convert(name: str, value: Any, tp: Any, meta: Mapping[str, Any]) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _convert(name, value, args[0], meta)
    if value is None:
        raise InvalidInput(f"{name} must not be null", field=name, zh=f"字段 {name} 不能为空")
    if origin is list:
        (item_tp,) = typing.get_args(tp)
        if not isinstance(value, list):
            raise InvalidInput(f"{name} must be a list", field=name, zh=f"字段 {name} 须为列表")
        if len(value) > MAX_LIST_ITEMS:
            raise InvalidInput(
                f"{name} has too many items", field=name, zh=f"字段 {name} 的项数过多"
            )
        return [_convert(f"{name}[{i}]", v, item_tp, meta) for i, v in enumerate(value)]
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(value)
        except (ValueError, TypeError):
            raise InvalidInput(
                f"{name} must be {_type_name(tp)}", field=name, zh=f"字段 {name} 的取值无效"
            ) from None
    if tp is bool:
        if not isinstance(value, bool):
            raise InvalidInput(
                f"{name} must be a boolean", field=name, zh=f"字段 {name} 须为 true 或 false"
            )
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidInput(f"{name} must be an integer", field=name, zh=f"字段 {name} 须为整数")
        lo, hi = int_bounds(meta)
        if not lo <= value <= hi:
            raise InvalidInput(
                f"{name} must be between {lo} and {hi}",
                field=name,
                zh=f"字段 {name} 须在 {lo} 到 {hi} 之间",
            )
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidInput(f"{name} must be a number", field=name, zh=f"字段 {name} 须为数值")
        if not math.isfinite(value):  # 1e999 parses as infinity
            raise InvalidInput(
                f"{name} must be a finite number", field=name, zh=f"字段 {name} 须为有限数值"
            )
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise InvalidInput(f"{name} must be a string", field=name, zh=f"字段 {name} 须为文本")
        max_len = meta.get("max_len", DEFAULT_MAX_LEN)
        if len(value) > max_len:
            raise InvalidInput(
                f"{name} is longer than {max_len} characters",
                field=name,
                zh=f"字段 {name} 不能超过 {max_len} 个字符",
            )
        return safe_text(name, value, scrub=bool(meta.get("scrub")))
    raise TypeError(f"unsupported field type {tp!r} for {name}")


_BodyFields = tuple[dict[str, Any], dict[str, "dataclasses.Field[Any]"]]
_BODY_FIELDS: dict[type, _BodyFields] = {}


def body_fields(cls: type) -> _BodyFields:
    """A body class's resolved type hints and fields: worked out once per class (resolving
    the hints compiled their strings on every request, ~0.7 ms of a ticket creation)."""
    known = _BODY_FIELDS.get(cls)
    if known is None:
        known = _BODY_FIELDS[cls] = (
            typing.get_type_hints(cls),
            {f.name: f for f in dataclasses.fields(cls)},
        )
    return known


def parse_object(data: Any, cls: type[T]) -> T:
    if not isinstance(data, dict):
        raise InvalidInput("the body must be a JSON object", zh="请求内容须为 JSON 对象")
    hints, fields = body_fields(cls)
    unknown = sorted(set(data) - set(fields))
    if unknown:
        names = [shown(n) for n in unknown[:20]]
        raise InvalidInput(
            f"unknown field(s): {', '.join(names)}",
            fields=names,
            zh=f"未知字段：{'、'.join(names)}",
        )
    kwargs = {}
    for name, f in fields.items():
        if name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise InvalidInput(f"{name} is required", field=name, zh=f"缺少必填字段 {name}")
            continue
        kwargs[name] = _convert(name, data[name], hints[name], f.metadata)
    return cls(**kwargs)


def _not_json(name: str) -> Any:
    raise InvalidInput(
        f"malformed JSON: {name} is not a JSON number", zh=f"JSON 格式错误：{name} 不是 JSON 数值"
    )


def parse_json(raw: bytes) -> Any:
    """Any JSON document a client may send; every way it can be wrong is an InvalidInput."""
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_not_json)
    except UnicodeDecodeError:
        raise InvalidInput(
            "the body is not valid UTF-8", zh="请求内容不是有效的 UTF-8 文本"
        ) from None
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
            zh=f"JSON 格式错误（第 {exc.lineno} 行第 {exc.colno} 列）",
        ) from None
    except RecursionError:
        raise InvalidInput(
            "the body nests arrays or objects too deeply", zh="请求内容嵌套过深"
        ) from None
    except ValueError:
        # Python refuses integers of more than sys.get_int_max_str_digits() (4,300) digits.
        raise InvalidInput(
            "a number in the body has too many digits", zh="请求中的数字位数过多"
        ) from None


@dataclasses.dataclass(frozen=True)
class BodySpec:
    """What a route reads from its request body; see `body`."""

    cls: type | None
    required: bool = True
    media_type: str = "application/json"
    description: str | None = None


def body(
    cls: type | None = None,
    *,
    required: bool = True,
    media_type: str = "application/json",
    description: str | None = None,
) -> Callable[[H], H]:
    """Declare a route's request body: the dataclass `json_body` parses (`required=False`: the
    body may be empty), or for a body that is not one JSON object (a JSON Lines import) its
    media type and a description."""
    if cls is None and media_type == "application/json":
        raise ValueError("body() needs the dataclass of a JSON body")

    def mark(handler: H) -> H:
        spec = BodySpec(cls, required, media_type, description)
        handler.__hotline_body__ = spec  # type: ignore[attr-defined]
        return handler

    return mark


def declared_body(handler: object) -> BodySpec | None:
    return getattr(handler, "__hotline_body__", None)


async def json_body(request: web.Request, cls: type[T]) -> T:
    spec = declared_body(request.match_info.handler)
    if spec is None or spec.cls is not cls:
        # A programming error, found by the route's first test: the OpenAPI document is built
        # from the declarations, so a body parsed without one would be missing from it.
        declared = spec.cls.__name__ if spec is not None and spec.cls is not None else "no body"
        raise TypeError(
            f"{request.method} {request.match_info.route.resource} parses "
            f"{cls.__name__} but declares {declared}: add @body({cls.__name__}) "
            "to its handler"
        )
    if request.content_type != "application/json":
        raise web.HTTPUnsupportedMediaType(text="send the body as application/json")
    return parse_object(parse_json(await bounded_body(request)), cls)


async def bounded_body(request: web.Request) -> bytes:
    """The body of a JSON or data-file request, at most `max_body_bytes` (413 beyond)."""
    limit = request.app[SETTINGS].max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=request.content_length)
    raw = await request.read()  # client_max_size (upload_max_bytes) bounds the read itself
    if len(raw) > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=len(raw))
    return raw


# --- query strings and paths ----------------------------------------------------------------------


def query_int(request: web.Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    hi = min(hi, INT32_MAX)
    try:
        value = int(raw)  # more than 4,300 digits is a ValueError too
    except ValueError:
        raise InvalidInput(
            f"{name} must be an integer", field=name, zh=f"参数 {name} 须为整数"
        ) from None
    if not lo <= value <= hi:
        raise InvalidInput(
            f"{name} must be between {lo} and {hi}",
            field=name,
            zh=f"参数 {name} 须在 {lo} 到 {hi} 之间",
        )
    return value


def query_text(request: web.Request, name: str) -> str | None:
    """A query-string value that may reach SQL: None when absent or empty. Lone surrogates
    cannot arrive here (invalid UTF-8 in a URL decodes to U+FFFD); NUL can (`%00`)."""
    raw = request.query.get(name)
    if not raw:
        return None
    return safe_text(name, raw)


def query_date(request: web.Request, name: str) -> dt.date | None:
    """A day as YYYY-MM-DD (what a date input sends); None when absent or empty."""
    raw = request.query.get(name)
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw) if len(raw) == 10 else _bad_date(name)
    except ValueError:
        return _bad_date(name)


def _bad_date(name: str) -> Any:
    raise InvalidInput(
        f"{name} must be a date such as 2026-11-30",
        field=name,
        zh=f"参数 {name} 须为日期，如 2026-11-30",
    )


def path_int(request: web.Request, name: str, what: str | None = None) -> int:
    """A numeric id from the path. Anything but ASCII digits within the INTEGER range names
    no row: 404 (PostgreSQL would refuse a larger number outright)."""
    raw = request.match_info[name]
    if raw.isascii() and raw.isdigit() and len(raw) <= 10 and int(raw) <= INT32_MAX:
        return int(raw)
    raise NotFound(f"{what or name} {shown(raw, 20)} does not exist")


# --- browser forms ----------------------------------------------------------------------------


def form_text(form: Any, name: str, limit: int) -> str:
    """A form field, trimmed and bounded."""
    return str(form.get(name, "")).strip()[:limit]


def form_version(form: Any) -> int | None:
    """The optimistic-lock version a form was rendered with (None when absent)."""
    raw = str(form.get("version", "")).strip()
    if not raw:
        return None
    if raw.isascii() and raw.isdigit() and len(raw) <= 10 and int(raw) <= INT32_MAX:
        return int(raw)
    raise InvalidInput(
        "version must be the number the page was shown with; reload the page",
        field="version",
        zh="页面版本号无效，请刷新页面后再提交",
    )


def form_error(exc: Exception) -> tuple[int, str]:
    """HTTP status and the Chinese message for a domain error shown back on the form's page."""
    from hotline.web.errors import message_zh, status_of

    return status_of(exc), message_zh(exc)


# --- every request --------------------------------------------------------------------------------


@web.middleware
async def input_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """What no route can take, refused once for all routes: NUL in a path segment (names
    nothing: 404) and, on the pages, a form that is not UTF-8 or has NUL in a field (400).
    API routes read JSON through `json_body`, or raw files; their bodies are not touched here
    (reading a multipart body as a form would consume it)."""
    if any("\x00" in v for v in request.match_info.values()):
        raise NotFound("no such resource")
    if (
        request.method not in _SAFE_METHODS
        and request.content_type in _FORM_TYPES
        and not request.path.startswith("/api/")
    ):
        try:
            form = await request.post()  # aiohttp keeps it: handlers get the same form
        except (UnicodeDecodeError, LookupError):  # undecodable bytes, unknown charset
            raise InvalidInput(
                "the form is not valid UTF-8", zh="表单内容不是有效的 UTF-8 文本"
            ) from None
        for name, value in form.items():
            if isinstance(value, str):
                safe_text(shown(name), value)
    return await handler(request)
