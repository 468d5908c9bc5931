"""Parse request bodies and query strings at the edge into frozen dataclasses.

A body model is a frozen dataclass; field types supported: str, int, float, bool, enums,
list[str], and `X | None`. `field(metadata={"max_len": n})` bounds strings (default 10,000
characters) and lists. Unknown fields, wrong types and missing fields are refused with the
field named; nothing reaches a service unparsed.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import types
import typing
from typing import Any, TypeVar

from aiohttp import web

from hotline.errors import InvalidInput

T = TypeVar("T")
DEFAULT_MAX_LEN = 10_000


def _type_name(tp: Any) -> str:
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return "one of " + ", ".join(str(m.value) for m in tp)
    return {str: "string", int: "integer", float: "number", bool: "boolean"}.get(tp, str(tp))


def _convert(name: str, value: Any, tp: Any, max_len: int) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _convert(name, value, args[0], max_len)
    if value is None:
        raise InvalidInput(f"{name} must not be null", field=name, zh=f"字段 {name} 不能为空")
    if origin is list:
        (item_tp,) = typing.get_args(tp)
        if not isinstance(value, list):
            raise InvalidInput(f"{name} must be a list", field=name, zh=f"字段 {name} 须为列表")
        if len(value) > 1000:
            raise InvalidInput(f"{name} has too many items", field=name,
                               zh=f"字段 {name} 的项数过多")
        return [_convert(f"{name}[{i}]", v, item_tp, max_len) for i, v in enumerate(value)]
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(value)
        except ValueError:
            raise InvalidInput(f"{name} must be {_type_name(tp)}", field=name,
                               zh=f"字段 {name} 的取值无效") from None
    if tp is bool:
        if not isinstance(value, bool):
            raise InvalidInput(f"{name} must be a boolean", field=name,
                               zh=f"字段 {name} 须为 true 或 false")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidInput(f"{name} must be an integer", field=name, zh=f"字段 {name} 须为整数")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidInput(f"{name} must be a number", field=name, zh=f"字段 {name} 须为数值")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise InvalidInput(f"{name} must be a string", field=name, zh=f"字段 {name} 须为文本")
        if len(value) > max_len:
            raise InvalidInput(f"{name} is longer than {max_len} characters", field=name,
                               zh=f"字段 {name} 不能超过 {max_len} 个字符")
        return value
    raise TypeError(f"unsupported field type {tp!r} for {name}")


def parse_object(data: Any, cls: type[T]) -> T:
    if not isinstance(data, dict):
        raise InvalidInput("the body must be a JSON object", zh="请求内容须为 JSON 对象")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise InvalidInput(f"unknown field(s): {', '.join(unknown)}", fields=unknown,
                           zh=f"未知字段：{'、'.join(unknown)}")
    kwargs = {}
    for name, f in fields.items():
        if name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise InvalidInput(f"{name} is required", field=name, zh=f"缺少必填字段 {name}")
            continue
        kwargs[name] = _convert(name, data[name], hints[name],
                                f.metadata.get("max_len", DEFAULT_MAX_LEN))
    return cls(**kwargs)


async def json_body(request: web.Request, cls: type[T]) -> T:
    if request.content_type != "application/json":
        raise web.HTTPUnsupportedMediaType(text="send the body as application/json")
    raw = await request.read()  # client_max_size bounds this (413)
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise InvalidInput("the body is not valid UTF-8", zh="请求内容不是有效的 UTF-8 文本") from None
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
                           zh=f"JSON 格式错误（第 {exc.lineno} 行第 {exc.colno} 列）")
    return parse_object(data, cls)


def query_int(request: web.Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be an integer", field=name,
                           zh=f"参数 {name} 须为整数") from None
    if not lo <= value <= hi:
        raise InvalidInput(f"{name} must be between {lo} and {hi}", field=name,
                           zh=f"参数 {name} 须在 {lo} 到 {hi} 之间")
    return value


def path_int(request: web.Request, name: str) -> int:
    try:
        return int(request.match_info[name])
    except ValueError:
        raise web.HTTPNotFound() from None


# --- browser forms ----------------------------------------------------------------------------

def form_text(form: Any, name: str, limit: int) -> str:
    """A form field, trimmed and bounded."""
    return str(form.get(name, "")).strip()[:limit]


def form_version(form: Any) -> int | None:
    """The optimistic-lock version a form was rendered with (None when absent)."""
    raw = str(form.get("version", ""))
    return int(raw) if raw.isdigit() else None


def form_error(exc: Exception) -> tuple[int, str]:
    """HTTP status and the Chinese message for a domain error shown back on the form's page."""
    from hotline.web.errors import message_zh, status_of

    return status_of(exc), message_zh(exc)
