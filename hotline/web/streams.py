"""Server-Sent Events handlers (the desk's pops, the boards, the navigation's counts).

A browser may leave at any moment of a stream: while its headers are sent, between two events,
or while the stream is being closed. That is the normal end of a stream, not an error: the
handler's `ConnectionResetError` (aiohttp's ClientConnectionResetError is one) ends it quietly
instead of reaching the error middleware as a 500 with a traceback.
"""

from __future__ import annotations

import functools
import logging
from typing import Awaitable, Callable

from aiohttp import web

log = logging.getLogger("hotline.web.streams")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def browser_may_leave(handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def stream(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except ConnectionResetError:
            log.debug("%s: the browser left the stream", request.path)
            return web.Response(status=204)  # nobody reads it

    return stream
