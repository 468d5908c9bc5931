"""The asterisk-ami client's reader thread, bridged into the event loop (calls.ami.listener's
module docstring says why it is built so): a client whose socket blocks without a read
timeout and can be closed from another thread, and a bounded hand-over of what its callbacks
receive, which holds the reader thread (hence the PBX) while the consumer is behind."""

from __future__ import annotations

import asyncio
import collections
import socket
import threading
import time
from typing import TYPE_CHECKING, Any

from asterisk.ami import AMIClient

from calls.ami import parse as ami_parse

if TYPE_CHECKING:
    from calls.ami.listener import ListenerStats

RESPONSE = "\x00response"
DISCONNECT = "\x00disconnect"
# What the reader thread hands to the loop: (event name, headers, received_at),
# (RESPONSE, status, keys) or (DISCONNECT, error).
Item = tuple[Any, ...]


class ReaderClient(AMIClient):  # type: ignore[misc]  # asterisk-ami ships no type information
    """AMIClient whose socket has a connect timeout but no read timeout (an idle PBX is fine),
    and that can be closed from another thread (shutdown wakes the blocked reader)."""

    def __init__(self, address: str, port: int, connect_timeout: float, buffer_size: int) -> None:
        super().__init__(address=address, port=port, timeout=None, buffer_size=buffer_size)
        self._connect_timeout = connect_timeout

    def connect(self) -> None:
        # Same as AMIClient.connect (0.1.7) except for the socket's timeouts.
        sock = socket.create_connection((self._address, self._port), self._connect_timeout)
        sock.settimeout(None)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        self._socket = sock
        self.finished = threading.Event()
        self._thread = threading.Thread(target=self.listen, name="ami-reader", daemon=True)
        self._thread.start()

    def close(self) -> None:
        if self.finished is not None:
            self.finished.set()
        sock = self._socket
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(2.0)


class Bridge:
    """From the client's reader thread into the event loop. Runs in the reader thread: copies,
    appends, wakes the loop at most once per batch, and never raises. When it holds `max_items`
    items it blocks the reader thread (not the loop) until the consumer has drained it to
    `max_items // 2` or the bridge is closed."""

    _POLL_S = 0.1  # the blocked reader re-checks `closed` at least this often

    def __init__(
        self, loop: asyncio.AbstractEventLoop, stats: ListenerStats, max_items: int = 0
    ) -> None:
        self.loop = loop
        self.items: collections.deque[Item] = collections.deque()
        self.wake = asyncio.Event()
        self._scheduled = False
        self._stats = stats
        self._wanted = ami_parse.WANTED
        self.max_items = max_items
        self.low_items = max_items // 2
        self.full = False  # the reader thread is waiting for room
        self.closed = False
        self.room = threading.Event()

    def _push(self, item: Item, wait: bool = True) -> None:
        if self.closed:  # the session is over: nobody consumes this bridge any more
            return
        items = self.items
        items.append(item)
        n = len(items)
        if n > self._stats.bridge_peak:
            self._stats.bridge_peak = n
        if not self._scheduled:
            self._scheduled = True
            self.loop.call_soon_threadsafe(self._woken)
        if wait and self.max_items and n >= self.max_items:
            self._wait_for_room()

    def _wait_for_room(self) -> None:  # in the reader thread
        items, low, room = self.items, self.low_items, self.room
        started = time.monotonic()
        self._stats.bridge_waits += 1
        self.full = True
        try:
            while not self.closed and not self.loop.is_closed():
                room.clear()
                if len(items) <= low:
                    return
                room.wait(self._POLL_S)
        finally:
            self.full = False
            self._stats.bridge_wait_s += time.monotonic() - started

    def drained(self) -> None:  # on the loop, by the consumer
        if self.full and len(self.items) <= self.low_items:
            self.room.set()

    def close(self) -> None:
        """Release a reader thread waiting for room, and never make it wait again."""
        self.closed = True
        self.room.set()

    def _woken(self) -> None:  # on the loop
        self._scheduled = False
        self.wake.set()

    # `event` and `response` are asterisk.ami's Event and Response (untyped).
    def on_event(self, source: object = None, event: Any = None, **_: object) -> None:
        try:
            self._stats.events += 1
            name = event.name
            if name in self._wanted:
                self._push((name, dict(event.keys), time.time()))
        except BaseException:  # noqa: BLE001 - an exception here would kill the reader thread
            pass

    def on_response(self, source: object = None, response: Any = None, **_: object) -> None:
        try:
            self._push((RESPONSE, response.status, dict(response.keys)))
        except BaseException:  # noqa: BLE001
            pass

    def on_disconnect(self, source: object = None, error: object = None, **_: object) -> None:
        try:
            self._push((DISCONNECT, repr(error)), wait=False)
        except BaseException:  # noqa: BLE001
            pass

    def on_unknown(self, source: object = None, pack: object = None, **_: object) -> None:
        try:
            self._stats.unknown_packs += 1
        except BaseException:  # noqa: BLE001
            pass

    def on_connect(self, source: object = None, **_: object) -> None:
        pass

    def on_action(self, source: object = None, action: object = None, **_: object) -> None:
        pass
