"""One place maps errors to HTTP: `{"error": {"code": "...", "message": "..."}}` for the API,
a simple page for browsers. Every client error is logged with the request id."""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web

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
    400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
    415: "unsupported_media_type", 422: "invalid_input", 429: "rate_limited",
}

_ZH = {
    401: "请先登录", 403: "没有权限访问此页面", 404: "页面不存在", 405: "不支持的请求方法",
    409: "操作与当前状态冲突", 413: "请求内容过大", 429: "尝试次数过多，请稍后再试",
    400: "请求无效", 500: "服务器内部错误",
}


def wants_json(request: web.Request) -> bool:
    return request.path.startswith("/api/") or request.path in ("/healthz",) or \
        "application/json" in request.headers.get("Accept", "")


async def error_response(request: web.Request, status: int, code: str, message: str,
                   details: dict[str, Any] | None = None,
                   headers: dict[str, str] | None = None) -> web.Response:
    if wants_json(request):
        body: dict[str, Any] = {"code": code, "message": message}
        if details:
            body["details"] = details
        return web.json_response({"error": body}, status=status, headers=headers,
                                 dumps=lambda o: json.dumps(o, ensure_ascii=False))
    from hotline.web.pages import render_error

    return await render_error(request, status, _ZH.get(status, message), message, headers)


@web.middleware
async def error_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        return await handler(request)
    except DomainError as exc:
        status = next((s for cls, s in STATUS.items() if isinstance(exc, cls)), 400)
        log.info("%s %s %s -> %d %s: %s", request.get(REQUEST_ID), request.method, request.path,
                 status, exc.code, exc.message)
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
        return await error_response(request, status, exc.code, exc.message, exc.details or None, headers)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        log.info("%s %s %s -> %d", request.get(REQUEST_ID), request.method, request.path,
                 exc.status)
        code = _HTTP_CODES.get(exc.status, "error")
        message = exc.text if exc.text and not exc.text.startswith(str(exc.status)) else exc.reason
        headers = {k: v for k, v in exc.headers.items() if k in ("Allow", "Retry-After", "Location")}
        return await error_response(request, exc.status, code, message, None, headers or None)
    except Exception:
        log.exception("%s %s %s -> 500", request.get(REQUEST_ID), request.method, request.path)
        return await error_response(request, 500, "internal_error",
                              "internal error; the request id is in the server log",
                              {"request_id": request.get(REQUEST_ID)})
