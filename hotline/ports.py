"""What one feature asks of another, as small interfaces the kernel owns: the asking feature
reads the port from the services (hotline.bootstrap), the answering one provides it in its
wiring. Neither imports the other; a product without the answering feature gets None."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

from hotline.auth import Principal
from hotline.bootstrap import Key


@dataclass(frozen=True, slots=True)
class CallerTicket:
    """A work order of a caller, as the agent's screen pop shows it."""

    number: str
    status: str
    status_label: str   # Chinese, for the page
    created_at: dt.datetime
    content: str        # the start of the request


class CallerHistory(Protocol):
    async def tickets_of(self, who: Principal, phone: str,
                         limit: int = 5) -> list[CallerTicket]:
        """The caller's newest work orders that `who` may see; [] for a number that cannot
        be one of a caller."""
        ...


CALLER_HISTORY: Key[CallerHistory] = Key("caller_history")
