"""Desk events (screen pops, agents' queue states) from whichever instance leads a PBX to the
open desks on every instance.

One instance follows each PBX (calls.leader); an agent's browser may be connected to any
instance. The leading instance's centers hand their desk events to the relay; on PostgreSQL the
relay sends each as a `NOTIFY` on a channel of this deployment's schema (a payload of a few
hundred bytes, far under PostgreSQL's 8,000) and every instance, the sender included, `LISTEN`s
and hands it to its own hub, which the desks' streams read. NOTIFYs from one session arrive in
the order sent, so a call's connect comes before its complete. While the relay's connection is
down (a restart of the database) the events reach this instance's desks only, and the relay
reconnects. On SQLite (one process) the hub is fed directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any, Callable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from calls.ami.listener import ConnectionLost
from calls.center import AgentState, CallCenter, CallEvent, DeskEvent, PopHub
from hotline.db import Database

log = logging.getLogger(__name__)

RECONNECT_S = 1.0


@dataclass(frozen=True, slots=True)
class PauseRequest:
    """An agent on an instance that does not follow the agent's PBX asks for a queue state:
    the instance that does sends the QueuePause."""

    member: str
    interface: str
    paused: bool
    reason: str


Relayed = CallEvent | AgentState | PauseRequest
_KINDS: dict[str, type[Relayed]] = {
    "call": CallEvent,
    "state": AgentState,
    "pause": PauseRequest,
}
_NAMES = {cls: name for name, cls in _KINDS.items()}


def encode(event: Relayed) -> str:
    kind = _NAMES[type(event)]
    return json.dumps(
        {"k": kind, **dataclasses.asdict(event)}, ensure_ascii=False, separators=(",", ":")
    )


def decode(payload: str) -> Relayed:
    """The event `encode` sent; ValueError for anything else (another sender's payload)."""
    data = json.loads(payload)
    if not isinstance(data, dict):
        raise ValueError("not an object")
    cls = _KINDS.get(data.pop("k", None))
    if cls is None:
        raise ValueError("unknown kind")
    try:
        return cls(**data)
    except TypeError as exc:
        raise ValueError(str(exc)) from None


class DeskRelay:
    """The instance's desk hub, fed with the events of every instance's centers."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.hub = PopHub()
        # The centers this instance runs now (calls.wiring sets it): one per PBX it leads.
        self.centers: Callable[[], list[CallCenter]] = list
        self._outbox: asyncio.Queue[str] = asyncio.Queue(maxsize=10_000)
        self._conn: AsyncConnection | None = None
        self._raw: Any = None  # the asyncpg connection LISTENing
        self._channel = ""
        self._task: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()
        self._pending: set[asyncio.Task[None]] = set()

    def publish(self, event: DeskEvent) -> None:
        """Called by a center on this instance, on the loop."""
        if self.db.is_sqlite or not self.listening.is_set():
            self.hub.publish(event)  # one process, or the relay is down: our own desks only
            return
        try:
            self._outbox.put_nowait(encode(event))
        except asyncio.QueueFull:
            log.warning("desk relay behind: a %s event reached this instance's desks only", event)
            self.hub.publish(event)

    def _center_for(self, member: str, interface: str) -> CallCenter | None:
        centers = self.centers()
        known = [c for c in centers if c.agent_state(member, interface) is not None]
        return known[0] if known else (centers[0] if len(centers) == 1 else None)

    async def set_queue_state(self, member: str, interface: str, paused: bool, reason: str) -> str:
        """QueuePause for the agent, sent by the instance that follows the agent's PBX: this
        one ("here"), or another one the request is relayed to ("relayed", whose outcome the
        desk sees from the PBX's events). ConnectionLost when no instance can be asked;
        ActionRefused from the PBX when asked here."""
        center = self._center_for(member, interface)
        if center is not None:
            await center.set_queue_state(interface, paused, reason)
            return "here"
        if self.db.is_sqlite or not self.listening.is_set():
            raise ConnectionLost("no PBX connection on this instance, and no relay to one")
        await self._outbox.put(encode(PauseRequest(member, interface, paused, reason)))
        return "relayed"

    async def _pause_here(self, request: PauseRequest) -> None:
        center = self._center_for(request.member, request.interface)
        if center is None:
            return  # another instance follows this agent's PBX
        try:
            await center.set_queue_state(request.interface, request.paused, request.reason)
        except ConnectionLost as exc:  # ActionRefused included: the desk sees no change
            log.warning("relayed QueuePause for %s not done: %s", request.interface, exc)

    async def start(self) -> None:
        """Idempotent: a process with the web role (the desks) and one with only the ami role
        (the centers) both need it; one with both starts it once."""
        if not self.db.is_sqlite and self._task is None:
            self._task = asyncio.create_task(self._run(), name="desk-relay")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self._close()
        self.hub.close()

    # --- PostgreSQL ----------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            try:
                await self._connect()
                await self._send_forever()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the database is away: reconnect
                log.warning("desk relay: %s; reconnecting", type(exc).__name__)
            await self._close()
            await asyncio.sleep(RECONNECT_S)

    async def _connect(self) -> None:
        conn = await self.db.engine.connect()
        self._conn = conn
        schema = (await conn.execute(text("SELECT current_schema()"))).scalar_one()
        await conn.commit()
        # NOTIFY channels are per database: the schema's digest keeps deployments (and test
        # sessions) sharing one database apart.
        self._channel = (
            "hotline_desk_" + hashlib.blake2b(str(schema).encode(), digest_size=6).hexdigest()
        )
        raw: Any = (await conn.get_raw_connection()).driver_connection
        await raw.add_listener(self._channel, self._on_notify)
        self._raw = raw
        self.listening.set()
        log.info("desk relay: listening on %s", self._channel)

    async def _send_forever(self) -> None:
        while True:
            payload = await self._outbox.get()
            # Outside any transaction: delivered at once, in the order sent.
            await self._raw.execute("SELECT pg_notify($1, $2)", self._channel, payload)

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            event = decode(payload)
        except ValueError as exc:
            log.warning("desk relay: a payload that is not a desk event ignored (%s)", exc)
            return
        if isinstance(event, PauseRequest):
            task = asyncio.create_task(self._pause_here(event), name="relayed-pause")
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)
            return
        self.hub.publish(event)

    async def _close(self) -> None:
        self.listening.clear()
        raw, conn = self._raw, self._conn
        self._raw = self._conn = None
        if raw is not None:
            with contextlib.suppress(Exception):
                await raw.remove_listener(self._channel, self._on_notify)
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()
