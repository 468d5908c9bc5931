"""One place maps errors to HTTP: `{"error": {"code": "...", "message": "...", "message_zh":
"..."}}` for the API (`message` English, `message_zh` what a person reads: the error's own
Chinese text or a generic one for its status), a simple page in Chinese for browsers. Every
client error is logged with the request id."""

from __future__ import annotations

import errno
import json
import logging
from typing import Any

from aiohttp import web
from sqlalchemy.exc import DataError, DBAPIError

from hotline.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    RateLimited,
    Unauthenticated,
)
from hotline.web.keys import REQUEST_ID

log = logging.getLogger("hotline.web")

STATUS = {
    NotFound: 404,
    Conflict: 409,
    InvalidInput: 400,
    PermissionDenied: 403,
    Unauthenticated: 401,
    RateLimited: 429,
}

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "rate_limited",
    503: "unavailable",
}

_ZH = {
    401: "请先登录",
    403: "没有权限访问此页面",
    404: "页面不存在",
    405: "不支持的请求方法",
    409: "操作与当前状态冲突",
    413: "请求内容过大",
    429: "尝试次数过多，请稍后再试",
    400: "请求无效",
    500: "服务器内部错误",
    503: "系统繁忙，本次未保存，请稍后重试",
}


def _dumps(obj: Any) -> str:
    text = json.dumps(obj, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate quoted from the request: send it escaped
        text = json.dumps(obj)
    return text


def _input_data_error(exc: BaseException) -> bool:
    """A value from the request that the database could not take: a number beyond the column,
    text it cannot encode. The edge validation (hotline.web.validation) should have refused it;
    this is the safety net for what it misses."""
    if isinstance(exc, DataError):
        return True
    if isinstance(exc, UnicodeEncodeError):
        return exc.reason == "surrogates not allowed"
    if isinstance(exc, OverflowError):
        return "SQLite INTEGER" in str(exc)  # sqlite3 binding an int beyond 64 bits
    if isinstance(exc, DBAPIError):
        # asyncpg reports both client-side encoding failures (int4 overflow, surrogates) and
        # PostgreSQL's class 22 "data exception" (NUL in text) as asyncpg DataError, which
        # SQLAlchemy wraps as a plain DBAPIError.
        from asyncpg.exceptions import DataError as PgDataError

        cause: BaseException | None = exc.orig
        while cause is not None:
            if isinstance(cause, PgDataError):
                return True
            cause = cause.__cause__
    return False


def _static_name_too_long(request: web.Request, exc: OSError) -> bool:
    route = request.match_info.route
    return exc.errno == errno.ENAMETOOLONG and isinstance(
        getattr(route, "resource", None), web.StaticResource
    )


def status_of(exc: Exception) -> int:
    return next((s for cls, s in STATUS.items() if isinstance(exc, cls)), 400)


def message_zh(exc: Exception) -> str:
    """What a person reads about a domain error (pages, the desk's JavaScript): its own Chinese
    text, else the generic one of its status."""
    return getattr(exc, "zh", None) or _ZH.get(status_of(exc), _ZH[400])


def wants_json(request: web.Request) -> bool:
    return (
        request.path.startswith("/api/")
        or request.path in ("/healthz", "/metrics")
        or "application/json" in request.headers.get("Accept", "")
    )


async def error_response(
    request: web.Request,
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    message_zh: str | None = None,
) -> web.Response:
    generic = _ZH.get(status, _ZH[500] if status >= 500 else _ZH[400])
    if wants_json(request):
        body: dict[str, Any] = {
            "code": code,
            "message": message,
            "message_zh": message_zh or generic,
        }
        if details:
            body["details"] = details
        return web.json_response({"error": body}, status=status, headers=headers, dumps=_dumps)
    from hotline.web.pages import render_error

    # A page shows only Chinese: the generic title, and the specific text when there is one.
    return await render_error(
        request,
        status,
        generic,
        message_zh if message_zh and message_zh != generic else "",
        headers,
    )


@web.middleware
async def error_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        return await handler(request)
    except DomainError as exc:
        status = status_of(exc)
        log.info(
            "%s %s %s -> %d %s: %s",
            request.get(REQUEST_ID),
            request.method,
            request.path,
            status,
            exc.code,
            exc.message,
        )
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
        return await error_response(
            request, status, exc.code, exc.message, exc.details or None, headers, message_zh=exc.zh
        )
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        log.info(
            "%s %s %s -> %d", request.get(REQUEST_ID), request.method, request.path, exc.status
        )
        code = _HTTP_CODES.get(exc.status, "error")
        message = exc.text if exc.text and not exc.text.startswith(str(exc.status)) else exc.reason
        headers = {
            k: v for k, v in exc.headers.items() if k in ("Allow", "Retry-After", "Location")
        }
        return await error_response(request, exc.status, code, message, None, headers or None)
    except Exception as exc:
        if isinstance(exc, OSError) and _static_name_too_long(request, exc):
            # A name longer than the file system allows names no file.
            log.info(
                "%s %s %s -> 404 (file name too long)",
                request.get(REQUEST_ID),
                request.method,
                request.path[:80],
            )
            return await error_response(request, 404, "not_found", "Not Found")
        if _input_data_error(exc):
            log.warning(
                "%s %s %s -> 400: the database refused a value from the request; "
                "validate it at the edge",
                request.get(REQUEST_ID),
                request.method,
                request.path,
                exc_info=True,
            )
            return await error_response(
                request,
                400,
                "invalid_input",
                "a value in the request is out of range or not valid text",
                message_zh="请求中的数值超出范围或文本无效",
            )
        log.exception("%s %s %s -> 500", request.get(REQUEST_ID), request.method, request.path)
        return await error_response(
            request,
            500,
            "internal_error",
            "internal error; the request id is in the server log",
            {"request_id": request.get(REQUEST_ID)},
            message_zh=f"服务器内部错误，请将请求编号 {request.get(REQUEST_ID)} 告知系统管理员",
        )
