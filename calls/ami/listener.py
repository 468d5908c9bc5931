"""The AMI connection: the asterisk-ami client behind one small asyncio adapter.

    listener = AmiListener("127.0.0.1", 5038, "hotline", "secret")
    listener.subscribe(tracker)           # a callable taking each typed event, on the loop
    await listener.start()                # one supervised task: connect, login, resync, consume
    ...
    async for event in listener.events(): # or as an async iterator
        ...
    await listener.stop()

What asterisk-ami 0.1.7 does and how it is handled here:
- One daemon reader thread per client runs every callback; a callback that raises kills it.
  Our callbacks only copy the event's keys into a deque and wake the loop with
  `call_soon_threadsafe` once per batch; they catch everything.
- Its `timeout` is a socket read timeout: an idle PBX (minutes without an event) would kill the
  reader. The socket here blocks without timeout; liveness is our own `Ping` every
  `ping_interval_s`, answered within `ping_timeout_s` or the connection is replaced.
- A dead reader is never revived: every reconnect builds a new client.
- Sending is not thread-safe in the package: all sends go through one writer thread.
- List actions (QueueStatus, CoreShowChannels) answer with `EventList: start`, then their items
  arrive as events carrying our ActionID, then `...Complete`; we collect them here.

Memory is bounded end to end (backpressure): the bridge holds at most `bridge_max_items`
items; when it is full the reader thread waits (it stops reading the socket) until the consumer
has drained it to half, so TCP flow control holds the PBX back instead of memory growing. The
consumer hands at most `batch_items` items to subscribers at a time, then awaits every
registered throttle (`listener.throttle(store.wait_for_room)`) and yields the loop: a slow
subscriber (storage) holds the consumer, hence the reader, hence the PBX. A Pong that is late
because we are holding the PBX back does not count against the connection (see `_keepalive`).
On every (re)connect QueueStatus and CoreShowChannels are asked for and the state machines
reconcile with them (`events.Resync`); events seen before a drop and delivered again are dropped
by their (name, Timestamp, ids) key.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import itertools
import logging
import random
import time
from dataclasses import dataclass
from typing import AsyncIterator, Awaitable, Callable, Mapping

from asterisk.ami import Action

from calls.ami import events as ev
from calls.ami import parse as ami_parse
from calls.ami.bridge import DISCONNECT, RESPONSE, Bridge, ReaderClient

log = logging.getLogger(__name__)

# An event as the duplicate filter knows it: name, Timestamp, Uniqueid, DestUniqueid, Interface, Queue.
_SeenKey = tuple[str, str, str | None, str | None, str | None, str | None]


class ConnectionLost(Exception):
    """The AMI connection is gone or stopped answering."""


class ActionRefused(ConnectionLost):
    """The PBX answered an action with `Response: Error` (its `Message` is the text). A refused
    Login ends the session like a lost connection; other actions leave the connection up."""


@dataclass(frozen=True, slots=True)
class ListenerOptions:
    ping_interval_s: float = 10.0
    ping_timeout_s: float = 5.0
    connect_timeout_s: float = 5.0
    login_timeout_s: float = 5.0
    resync_timeout_s: float = 15.0
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    recv_buffer: int = 65536
    dedupe_window: int = 8192
    # Backpressure: the reader thread stops reading once the bridge holds this many items and
    # resumes when the consumer has drained it to half (0: unbounded).
    bridge_max_items: int = 2000
    # Items the consumer hands to subscribers before it awaits the throttles and yields.
    batch_items: int = 1000


@dataclass(slots=True)
class ListenerStats:
    events: int = 0  # every event frame the client parsed, tracked or not
    dispatched: int = 0  # typed events handed to subscribers
    parse_errors: int = 0
    unknown_packs: int = 0  # frames that were neither an event nor a response (garbage)
    duplicates: int = 0
    connects: int = 0
    resyncs: int = 0
    handler_errors: int = 0
    last_error: str = ""
    bridge_peak: int = 0  # most items the bridge held at once
    bridge_waits: int = 0  # times the reader thread waited for room in a full bridge
    bridge_wait_s: float = 0.0
    throttle_errors: int = 0
    late_pongs: int = 0  # pings unanswered in time but excused (events, backpressure)


Handler = Callable[[ev.AmiEvent], None]
RawHandler = Callable[[str, Mapping[str, str], float], None]
Throttle = Callable[[], Awaitable[None]]


class AmiListener:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 5038,
        username: str = "hotline",
        secret: str = "",
        options: ListenerOptions | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.username = username
        self.secret = secret
        self.options = options or ListenerOptions()
        self.stats = ListenerStats()
        self.connected = asyncio.Event()
        self._handlers: list[Handler] = []
        self._raw_handlers: list[RawHandler] = []
        self._throttles: list[Throttle] = []
        self._throttling = False  # the consumer is suspended in a throttle
        self._bridge: Bridge | None = None
        self._task: asyncio.Task[None] | None = None
        self._client: ReaderClient | None = None
        self._writer: concurrent.futures.ThreadPoolExecutor | None = None
        self._ids = itertools.count(1)
        self._pending: dict[str, asyncio.Future[Mapping[str, str]]] = {}
        self._lists = ev.ResyncLists()
        self._resynced: asyncio.Future[None] | None = None
        self._seen: set[_SeenKey] = set()
        self._seen_order: collections.deque[_SeenKey] = collections.deque()
        self._stopping = False
        self._errors_logged = 0
        # Last PBX Timestamp seen and the local time it arrived: the PBX clock for list items,
        # which carry no Timestamp.
        self._clock = (0.0, 0.0)

    @classmethod
    def from_settings(cls, ami: object, options: ListenerOptions | None = None) -> "AmiListener":
        """From settings with `host`, `port`, `username`, `secret` (hotline.config.AmiSettings)."""
        return cls(ami.host, ami.port, ami.username, ami.secret, options)  # type: ignore[attr-defined]

    # --- subscribers -------------------------------------------------------------------------

    def subscribe(self, handler: Handler) -> Callable[[], None]:
        """Call `handler(event)` on the loop for every typed event, in PBX order. Returns a
        function that unsubscribes. A handler that raises is logged; the others still run."""
        self._handlers.append(handler)
        return lambda: self._handlers.remove(handler) if handler in self._handlers else None

    def subscribe_raw(self, handler: RawHandler) -> Callable[[], None]:
        """Call `handler(name, headers, received_at)` for every tracked event as received (before
        parsing, also those that fail to parse; duplicates after a reconnect excluded).
        `received_at` is the PBX time the event is parsed with (its Timestamp, or for list items
        without one the PBX clock estimated from the last Timestamp): what storage appends so
        that records can be recomputed (`calls.recompute`)."""
        self._raw_handlers.append(handler)
        return lambda: self._raw_handlers.remove(handler) if handler in self._raw_handlers else None

    def throttle(self, throttle: Throttle) -> Callable[[], None]:
        """Await `throttle()` in the consumer between batches of events (at most
        `options.batch_items` each): a subscriber that buffers (storage) returns at once while it
        has room and otherwise holds the consumer until it has (not while logging in and
        resyncing, which go through the consumer too). While held, the bridge fills and
        the reader stops reading: the PBX is held back by TCP flow control. A throttle must not
        wait forever (the live state waits with it); one that raises is logged and skipped for
        that batch. Returns a function that unregisters it."""
        self._throttles.append(throttle)
        return lambda: self._throttles.remove(throttle) if throttle in self._throttles else None

    async def events(self) -> AsyncIterator[ev.AmiEvent]:
        """The typed events as an async iterator (unbounded buffer)."""
        queue: asyncio.Queue[ev.AmiEvent] = asyncio.Queue()
        unsubscribe = self.subscribe(queue.put_nowait)
        try:
            while True:
                yield await queue.get()
        finally:
            unsubscribe()

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        if self._task is None or self._task.done():
            self._stopping = False
            self._task = asyncio.create_task(self.run(), name="ami-listener")

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def run(self) -> None:
        """Connect and follow the PBX until cancelled, reconnecting with backoff."""
        backoff = self.options.backoff_initial_s
        while not self._stopping:
            established = False
            try:
                established = await self._session()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure means: reconnect
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("AMI %s:%d: %s", self.host, self.port, self.stats.last_error)
            finally:
                self.connected.clear()
                await self._teardown()
            if established:
                backoff = self.options.backoff_initial_s
            if self._stopping:
                break
            await asyncio.sleep(backoff * (0.8 + 0.4 * random.random()))
            backoff = min(backoff * 2, self.options.backoff_max_s)

    def pbx_now(self) -> float:
        """The PBX clock now: its last event Timestamp plus the local time elapsed since (the
        local clock before any event). Live waits are measured on it: a replayed capture or a
        PBX with a skewed clock still shows true waiting times."""
        pbx_ts, local_ts = self._clock
        return pbx_ts + max(0.0, time.time() - local_ts) if pbx_ts else time.time()

    async def wait_connected(self, timeout: float | None = None) -> None:
        async with asyncio.timeout(timeout):  # not wait_for: see _request
            await self.connected.wait()

    async def ping(self, timeout: float | None = None) -> Mapping[str, str]:
        """Ping the PBX. Its answer comes after every event sent before it, so once this returns
        all those events have been handed to subscribers."""
        return await self._request("Ping", timeout=timeout or self.options.ping_timeout_s)

    sync = ping

    async def queue_pause(self, interface: str, paused: bool, reason: str = "") -> None:
        """Pause or unpause `interface` in every queue it is a member of (AMI `QueuePause`
        without `Queue`). Asterisk acknowledges, then sends one QueueMemberPause event per
        queue: the state is shown from those events, not from this answer. ActionRefused when
        the interface is in no queue ("Interface not found")."""
        keys = {"Interface": interface, "Paused": "true" if paused else "false"}
        if reason:
            keys["Reason"] = reason  # PausedReason in the events and queue_log's PAUSE line
        await self._request("QueuePause", timeout=self.options.ping_timeout_s, **keys)

    # --- one connection ----------------------------------------------------------------------

    async def _session(self) -> bool:
        loop = asyncio.get_running_loop()
        bridge = Bridge(loop, self.stats, self.options.bridge_max_items)
        self._bridge = bridge
        client = ReaderClient(
            self.host, self.port, self.options.connect_timeout_s, self.options.recv_buffer
        )
        client.add_listener(
            on_event=bridge.on_event,
            on_response=bridge.on_response,
            on_disconnect=bridge.on_disconnect,
            on_unknown=bridge.on_unknown,
            on_connect=bridge.on_connect,
            on_action=bridge.on_action,
        )
        self._client = client
        self._writer = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="ami-writer")
        await loop.run_in_executor(self._writer, client.connect)
        # Before the login: the PBX sends no event before it, so every event after this marker
        # is of the new connection.
        self._dispatch(ev.Connected(self._clock[0]))
        consumer = asyncio.create_task(self._consume(bridge), name="ami-consumer")
        try:
            await self._request(
                "Login",
                timeout=self.options.login_timeout_s,
                Username=self.username,
                Secret=self.secret,
                Events="on",
            )
            self.stats.connects += 1
            await self._start_resync()
            self.connected.set()
            log.info("AMI %s:%d connected", self.host, self.port)
            keepalive = asyncio.create_task(self._keepalive(), name="ami-keepalive")
            try:
                done, _ = await asyncio.wait(
                    {consumer, keepalive}, return_when=asyncio.FIRST_COMPLETED
                )
                for task in done:
                    task.result()  # raises what ended the session
            finally:
                keepalive.cancel()
                await asyncio.gather(keepalive, return_exceptions=True)
            return True
        finally:
            consumer.cancel()
            await asyncio.gather(consumer, return_exceptions=True)

    def _fail_pending(self, exc: ConnectionLost) -> None:
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(exc)
                fut.exception()  # retrieved: its requester may have given up already
        if self._resynced is not None and not self._resynced.done():
            self._resynced.set_exception(exc)
            self._resynced.exception()  # retrieved: nobody may be waiting for it any more

    async def _teardown(self) -> None:
        self._fail_pending(ConnectionLost("connection closed"))
        self._pending.clear()
        self._lists.reset()
        client, writer = self._client, self._writer
        self._client = self._writer = None
        if self._bridge is not None:
            self._bridge.close()  # a reader thread waiting for room must see the close
            self._bridge = None
        if client is not None and writer is not None:
            # Closing joins the reader thread: keep it off the loop, after any pending send.
            await asyncio.get_running_loop().run_in_executor(writer, client.close)
        if writer is not None:
            writer.shutdown(wait=False)

    async def _request(self, name: str, timeout: float, **keys: str) -> Mapping[str, str]:
        if any("\r" in v or "\n" in v for v in keys.values()):
            # A line break would end the header and let a value inject another action.
            raise ValueError(f"{name}: a header value holds a line break")
        client, writer = self._client, self._writer
        if client is None or writer is None:
            raise ConnectionLost("not connected")
        loop = asyncio.get_running_loop()
        action_id = f"hotline-{next(self._ids)}"
        future: asyncio.Future[Mapping[str, str]] = loop.create_future()
        self._pending[action_id] = future
        try:
            action = Action(name, dict(keys, ActionID=action_id))
            await loop.run_in_executor(writer, client.send_action, action)
            # Not asyncio.wait_for: on 3.11 it swallows a cancellation that arrives together
            # with the answer, and a keepalive that survives its cancel makes stop() hang.
            async with asyncio.timeout(timeout):
                response = await future
        except asyncio.TimeoutError:
            raise ConnectionLost(f"no answer to {name} within {timeout:g} s") from None
        except OSError as exc:
            raise ConnectionLost(f"sending {name}: {exc}") from None
        finally:
            self._pending.pop(action_id, None)
        if response.get("Response", "").lower() == "error":
            raise ActionRefused(f"{name} refused: {response.get('Message', '')}")
        return response

    def _progress(self) -> tuple[int, int]:
        return self.stats.events, self.stats.bridge_waits

    def _held_back(self) -> bool:
        """We are holding the PBX back: the consumer is waiting in a throttle, or the reader
        waits for room in the bridge. Unread data then delays any Pong."""
        bridge = self._bridge
        return self._throttling or (bridge is not None and bridge.full)

    async def _keepalive(self) -> None:
        while True:
            await asyncio.sleep(self.options.ping_interval_s)
            before = self._progress()
            try:
                await self.ping()
            except ConnectionLost:
                # A Pong queued behind a burst of events is late, not lost: events arriving
                # prove the connection alive. So does our own backpressure: while the consumer
                # is throttled or the bridge is full the reader is not reading, the Pong waits
                # in the socket behind unread events (a reader that waited during the ping
                # counts too). A dead PBX is noticed once we read again and nothing comes.
                if self._progress() == before and not self._held_back():
                    raise
                self.stats.late_pongs += 1

    async def _start_resync(self) -> None:
        self._resynced = asyncio.get_running_loop().create_future()
        # Channels first, queues second: the snapshot is applied when the later one completes.
        for name in ("CoreShowChannels", "QueueStatus"):
            await self._request(name, timeout=self.options.resync_timeout_s)
        # The items are collected by the consumer; wait for both lists without blocking events.
        try:
            async with asyncio.timeout(self.options.resync_timeout_s):
                await asyncio.shield(self._resynced)
        except asyncio.TimeoutError:
            raise ConnectionLost("resync lists did not complete") from None

    # --- the consumer --------------------------------------------------------------------------

    async def _consume(self, bridge: Bridge) -> None:
        items = bridge.items
        limit = max(1, self.options.batch_items)
        while True:
            if not items:
                await bridge.wake.wait()
            bridge.wake.clear()
            n = 0
            while items and n < limit:
                n += 1
                item = items.popleft()
                kind = item[0]
                if kind == RESPONSE:
                    self._on_response(item[1], item[2])
                elif kind == DISCONNECT:
                    lost = ConnectionLost(f"reader stopped: {item[1]}")
                    self._fail_pending(lost)
                    raise lost
                else:
                    self._on_event(kind, item[1], item[2])
            bridge.drained()
            # Not before login and resync are through: their answers come through here too,
            # and holding them back would only time the session out.
            if self._throttles and self.connected.is_set():
                await self._throttle()
                bridge.drained()
            # Let other tasks run between batches of a fast stream.
            await asyncio.sleep(0)

    async def _throttle(self) -> None:
        for throttle in list(self._throttles):
            self._throttling = True
            try:
                await throttle()
            except Exception:  # noqa: BLE001 - a failing throttle must not stop the stream
                self.stats.throttle_errors += 1
                if self.stats.throttle_errors <= 20 or self.stats.throttle_errors % 1000 == 0:
                    log.exception("AMI throttle %r failed", throttle)
            finally:
                self._throttling = False

    def _on_response(self, status: str, keys: dict[str, str]) -> None:
        action_id = keys.get("ActionID", "")
        future = self._pending.get(action_id)
        if future is not None and not future.done():
            keys["Response"] = status
            future.set_result(keys)
        if keys.get("EventList", "").lower() == "start":
            self._lists.start(action_id)

    def _on_event(self, name: str, headers: dict[str, str], received_at: float) -> None:
        stamp = headers.get("Timestamp")
        if stamp is not None:
            key = (
                name,
                stamp,
                headers.get("Uniqueid"),
                headers.get("DestUniqueid"),
                headers.get("Interface"),
                headers.get("Queue"),
            )
            if key in self._seen:
                self.stats.duplicates += 1
                return
            self._seen.add(key)
            order = self._seen_order
            order.append(key)
            if len(order) > self.options.dedupe_window:
                self._seen.discard(order.popleft())
        else:
            pbx_ts, local_ts = self._clock
            if pbx_ts:
                received_at = pbx_ts + max(0.0, received_at - local_ts)
        for raw in self._raw_handlers:
            try:
                raw(name, headers, received_at)
            except Exception:  # noqa: BLE001
                self.stats.handler_errors += 1
                log.exception("AMI raw subscriber %r failed on %s", raw, name)
        try:
            event = ami_parse.parse(name, headers, received_at)
        except ev.ParseError as exc:
            self.stats.parse_errors += 1
            if self._errors_logged < 20 or self.stats.parse_errors % 1000 == 0:
                self._errors_logged += 1
                log.warning("AMI event skipped: %s", exc)
            return
        if event is None:
            return
        if stamp is not None:
            self._clock = (event.ts, received_at)
        action_id = headers.get("ActionID")
        if self._lists.wants(action_id, event):
            resync = self._lists.collect(action_id, event)  # type: ignore[arg-type]
            if resync is not None:
                self.stats.resyncs += 1
                self._dispatch(resync)
                if self._resynced is not None and not self._resynced.done():
                    self._resynced.set_result(None)
            return
        self._dispatch(event)

    def _dispatch(self, event: ev.AmiEvent) -> None:
        self.stats.dispatched += 1
        for handler in self._handlers:
            try:
                handler(event)
            except Exception:  # noqa: BLE001 - one failing subscriber must not stop the others
                self.stats.handler_errors += 1
                log.exception("AMI subscriber %r failed on %s", handler, type(event).__name__)
