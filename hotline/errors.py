"""Domain errors. Services raise these; one middleware (hotline.web.errors) maps them to HTTP.

`message` is English: logs, the CLI, and the JSON API's `message`. Pages show people Chinese:
a raise site that a page or the desk's JavaScript can reach also gives `zh=` (the JSON API's
`message_zh`); without it people see a generic Chinese text for the status.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence


class DomainError(Exception):
    code = "error"

    def __init__(self, message: str, *, zh: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.zh = zh
        self.details = details


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    """The request is valid but the current state forbids it (wrong state, duplicate, stale)."""

    code = "conflict"


class InvalidInput(DomainError):
    code = "invalid_input"


class PermissionDenied(DomainError):
    code = "forbidden"


class Unauthenticated(DomainError):
    code = "unauthenticated"


class RateLimited(DomainError):
    code = "rate_limited"

    def __init__(
        self, message: str, retry_after: int, *, zh: str | None = None, **details: Any
    ) -> None:
        super().__init__(message, zh=zh or f"尝试次数过多，请 {retry_after} 秒后再试", **details)
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class RowError:
    """One bad row of an imported file, by its line number."""

    line: int
    message: str
    zh: str = ""  # the same in Chinese, for pages

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"

    @property
    def text_zh(self) -> str:
        return f"第 {self.line} 行：{self.zh or self.message}"


class ImportRejected(InvalidInput):
    """Bad rows in an all-or-nothing import: nothing was written."""

    def __init__(self, errors: Sequence[RowError]) -> None:
        super().__init__(
            f"{len(errors)} bad row(s); nothing imported",
            zh=f"{len(errors)} 行有误，未导入任何内容",
            errors=[
                {"line": e.line, "message": e.message, "message_zh": e.zh or e.message}
                for e in errors
            ],
        )
        self.errors = list(errors)
