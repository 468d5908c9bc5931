"""`hotline serve --workers N`: N processes on one port, each serving every page and API.

The parent reserves the port and migrates the database once, then forks the workers. Where
the system has SO_REUSEPORT (Linux, BSD) each worker listens on its own socket bound to the
same address and the kernel spreads new connections over them; elsewhere the workers share
the parent's listening socket. Background roles (ami, pump, agi) run exactly once, in the
first worker; the others have only the web role (and what its answers need per process,
such as the knowledge-base index). Several processes need PostgreSQL: SQLite is the
single-process embedded default (the CLI refuses --workers > 1 on it).

SIGTERM or SIGINT to the parent stops every worker (each shuts down gracefully) and then the
parent. A worker that dies stops the others too: the parent exits non-zero, for the service
manager to restart the whole set, rather than run on without the first worker's roles.
"""

from __future__ import annotations

import errno
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import sys
import time
from typing import Any, Callable

from hotline.config import Settings

log = logging.getLogger("hotline.prefork")
REUSE_PORT = hasattr(socket, "SO_REUSEPORT")
LOG_FORMAT = "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"


class CannotListen(Exception):
    """The service's address cannot be bound (port in use, unknown host, no permission)."""


def _address(host: str, port: int) -> tuple[int, Any]:
    family, _, _, _, address = socket.getaddrinfo(
        host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    return family, address


def _cannot(host: str, port: int, exc: OSError) -> CannotListen:
    reason = (
        "the port is already in use (another process listens there; choose another "
        "with --port or HOTLINE_PORT)"
        if exc.errno == errno.EADDRINUSE
        else exc.strerror or str(exc)
    )
    return CannotListen(f"cannot listen on {host}:{port}: {reason}")


def listening_socket(host: str, port: int) -> socket.socket:
    """The service's listening socket, bound before anything starts: a port in use stops the
    command before it migrates the database or starts background services."""
    try:
        family, address = _address(host, port)
        # create_server sets SO_REUSEADDR on POSIX, as aiohttp does: a restart need not wait
        # for the old connections' TIME_WAIT.
        return socket.create_server(address, family=family, backlog=128)
    except OSError as exc:
        raise _cannot(host, port, exc) from None


def reuse_port_socket(host: str, port: int, listen: bool) -> socket.socket:
    """A socket bound to host:port with SO_REUSEPORT (and SO_REUSEADDR, for restarts)."""
    try:
        family, address = _address(host, port)
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind(address)
            if listen:
                sock.listen(128)
        except BaseException:
            sock.close()
            raise
        return sock
    except OSError as exc:
        raise _cannot(host, port, exc) from None


def _exit_before_serving(signum: int, _frame: Any) -> None:
    raise SystemExit(0)


def _worker(
    settings: Settings,
    roles: frozenset[str],
    index: int,
    total: int,
    shared: socket.socket | None,
    run: Callable[..., None],
) -> None:
    # Its own process group: a Ctrl-C in the terminal reaches the parent alone, which stops
    # the workers with one SIGTERM each (a second signal would cut a graceful shutdown short).
    os.setpgrp()
    # The parent's SIGTERM handler came with the fork and would swallow a stop that arrives
    # before aiohttp installs its own (while the app is built): leave at once instead, nothing
    # is served yet.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _exit_before_serving)
    from hotline import logs

    logs.setup_logging(settings.log_level)
    for handler in logging.getLogger().handlers:
        handler.setFormatter(logs.SafeFormatter(LOG_FORMAT))
    sock = shared if shared is not None else reuse_port_socket(settings.host, settings.port, True)
    message = (
        (
            f"hotline serving on http://{settings.host}:{settings.port} "
            f"({total} workers; background roles in worker {os.getpid()}: "
            f"{', '.join(sorted(roles - {'web'})) or 'none'})"
        )
        if index == 0
        else None
    )
    run(settings, roles, sock, message)


def reserve(host: str, port: int) -> tuple[socket.socket, socket.socket | None]:
    """The parent's hold on the port, taken before anything starts (CannotListen when it is in
    use): with SO_REUSEPORT a bound socket that does not listen (the workers bind their own),
    else the listening socket the workers share (returned twice)."""
    if REUSE_PORT:
        return reuse_port_socket(host, port, listen=False), None
    sock = listening_socket(host, port)
    return sock, sock


def serve(
    settings: Settings,
    roles: frozenset[str],
    workers: int,
    run: Callable[..., None],
    reserved: tuple[socket.socket, socket.socket | None],
) -> int:
    """Runs `workers` processes of `run(settings, roles, sock, message)` (the web service) on
    the `reserved` port until SIGTERM/SIGINT; the first has `roles`, the others only web. The
    database is ready and migrated by the caller. Returns the exit code."""
    held, shared = reserved
    context = multiprocessing.get_context("fork")
    stopping = False

    def stop(signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    procs = []
    try:
        for index in range(workers):
            mine = roles if index == 0 else roles & {"web"}
            proc = context.Process(
                target=_worker,
                name=f"hotline-worker-{index}",
                args=(settings, mine, index, workers, shared, run),
            )
            proc.start()
            procs.append(proc)
        while not stopping:
            done = multiprocessing.connection.wait([p.sentinel for p in procs], timeout=0.2)
            if done:
                dead = [p for p in procs if p.exitcode is not None]
                log.error(
                    "worker %s exited (code %s); stopping the others",
                    ", ".join(str(p.pid) for p in dead),
                    ", ".join(str(p.exitcode) for p in dead),
                )
                break
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        _stop_all(procs)
        held.close()
    return 0 if stopping and all(p.exitcode == 0 for p in procs) else 1


def _stop_all(procs: list[Any], grace_s: float = 30.0) -> None:
    for proc in procs:
        if proc.exitcode is None:
            os.kill(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for proc in procs:
        proc.join(max(0.0, deadline - time.monotonic()))
    for proc in procs:
        if proc.exitcode is None:
            print(
                f"hotline: worker {proc.pid} did not stop within {grace_s:.0f} s; killed",
                file=sys.stderr,
            )
            proc.kill()
            proc.join()
