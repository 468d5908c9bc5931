"""Logging for every process (service, CLI, workers): one line per record, no forged lines, no
citizens' data.

- Control characters in a message (CR, LF, NUL, ESC ...) are escaped, so a value taken from a
  request, such as an article id with CR/LF in its path, cannot start a fake log line.
  Tracebacks keep their own lines: they come from our code, not from the request.
- The access log names the method, the path without its query string (`?phone=...` would put
  a caller's number in the log), the status and the time taken; no Referer (it carries the
  previous page's query string).
- Statement parameters are hidden by the engine (`hotline.db.create_engine`).
"""

from __future__ import annotations

import logging
import re

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")


def escape(text: str) -> str:
    """Control characters as visible escapes (\\n, \\r, \\x00 ...), everything else as is."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


class SafeFormatter(logging.Formatter):
    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = escape(record.message)
        return super().formatMessage(record)


def setup_logging(level: str = "INFO") -> None:
    """Root handler on stderr with SafeFormatter. Refuses an unknown level by name."""
    name = level.upper()
    if name not in LEVELS:
        raise ValueError(f"log level {level!r}: use one of {', '.join(LEVELS)}")
    root = logging.getLogger()
    handler = logging.StreamHandler()
    handler.setFormatter(SafeFormatter(FORMAT))
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(name)
    logging.getLogger("alembic").setLevel(logging.WARNING)


class AccessLogger(AbstractAccessLogger):
    """`aiohttp` access log without query strings or Referer."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        self.logger.info(
            '%s "%s %s" %s %.3f',
            request.remote or "-",
            request.method,
            request.path,
            response.status,
            time,
        )


class ClientErrorFilter(logging.Filter):
    """aiohttp logs a request it cannot parse (a 400: over-long URL or header, bad method) at
    ERROR with a traceback that quotes the request line, query string included. That is the
    client's mistake, not ours, and the quote may hold a caller's number: one WARNING line
    without the request's bytes instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        from aiohttp.http_exceptions import HttpProcessingError

        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError) and (exc.code or 400) < 500:
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.msg, record.args = (
                "unparsable HTTP request refused: %s %s",
                (exc.code, type(exc).__name__),
            )
            record.exc_info = record.exc_text = None
        return True


def quiet_client_errors() -> None:
    """Installs ClientErrorFilter on aiohttp's server logger, once per process."""
    logger = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, ClientErrorFilter) for f in logger.filters):
        logger.addFilter(ClientErrorFilter())
