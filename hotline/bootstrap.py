"""The one place the product's services are built: for the web app, the CLI, background
workers and tests alike.

`build(settings)` opens the database and hands the `Services` to each feature's wiring module
(`Feature.wiring` in hotline.features), whose `provide(services)` adds what the feature offers
(the ticket service, the knowledge-base index...) under typed keys. Long-running work is named
`Worker`s, each with a role; a process runs the roles it is given (`hotline run --role ...`):

- `web`   the HTTP service (and what its answers need kept fresh, e.g. the KB index poll)
- `ami`   following the PBX: AMI ingest, call records, the live board and screen pops
- `pump`  follow-ups: reminders, escalations and call-back deadlines as they fall due
- `agi`   the IVR's FastAGI server

Several processes may share one database, each with some roles; `hotline serve` has them all.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib
import logging
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Generic, Iterable, TypeVar

from sqlalchemy.exc import SQLAlchemyError

from hotline.config import Settings
from hotline.policy import Policy
from hotline.db import Database, open_database, upgrade, utcnow
from hotline.features import FEATURES, Feature
from sla.calendar import WorkCalendar

log = logging.getLogger(__name__)

ROLES = ("web", "ami", "pump", "agi")

T = TypeVar("T")


@dataclass(frozen=True, eq=False)
class Key(Generic[T]):
    """A typed name for a service a feature provides."""

    name: str


@dataclass(frozen=True)
class Worker:
    """Long-running work of one role: `start` returns once it runs, `stop` once it stopped."""

    name: str
    role: str
    start: Callable[[], Awaitable[None]]
    stop: Callable[[], Awaitable[None]]


@dataclass
class Services:
    settings: Settings
    db: Database
    clock: Callable[[], dt.datetime] = utcnow
    calendar: WorkCalendar = field(default_factory=WorkCalendar.default)
    owns_db: bool = False
    _provided: dict[Key[Any], Any] = field(default_factory=dict)

    @property
    def policy(self) -> Policy:
        return self.settings.policy

    def __getitem__(self, key: Key[T]) -> T:
        try:
            return self._provided[key]
        except KeyError:
            raise LookupError(f"no feature provides {key.name!r}") from None

    def __setitem__(self, key: Key[T], value: T) -> None:
        self._provided[key] = value

    def get(self, key: Key[T]) -> T | None:
        return self._provided.get(key)

    def forget(self, key: Key[Any]) -> None:
        self._provided.pop(key, None)

    async def close(self) -> None:
        if self.owns_db:
            await self.db.dispose()


def _wiring(feature: Feature) -> Any:
    return importlib.import_module(feature.wiring) if feature.wiring else None


async def build(
    settings: Settings,
    *,
    db: Database | None = None,
    clock: Callable[[], dt.datetime] = utcnow,
    features: Iterable[Feature] = FEATURES,
) -> Services:
    """Services over `db`, or over the configured database (migrated first unless
    `settings.upgrade_on_start` is off); DatabaseUnavailable when it cannot be reached."""
    owns = db is None
    if db is None:
        db = await open_database(settings.resolved_database_url)
        if settings.upgrade_on_start:
            await upgrade(db)
    services = Services(settings, db, clock, calendar=await _calendar(db), owns_db=owns)
    try:
        for feature in features:
            module = _wiring(feature)
            if module is not None and hasattr(module, "provide"):
                await module.provide(services)
    except BaseException:
        await services.close()
        raise
    return services


async def _calendar(db: Database) -> WorkCalendar:
    """The process's one calendar: shipped years with those an admin entered."""
    from hotline import workcalendar

    try:
        return workcalendar.LiveCalendar.of(await workcalendar.load(db))
    except SQLAlchemyError as exc:  # a schema older than calendar_years (upgrade pending)
        log.warning(
            "entered holiday schedules not read (%s): the shipped calendar is used",
            type(exc).__name__,
        )
        return workcalendar.LiveCalendar.of(WorkCalendar.default())


def _calendar_refresh(services: Services, every_s: float = 60.0) -> Worker:
    """Another instance's newly entered year reaches this one within a minute."""
    from hotline import workcalendar

    task: asyncio.Task[None] | None = None

    async def loop() -> None:
        while True:
            await asyncio.sleep(every_s)
            try:
                await workcalendar.refresh(services.db, services.calendar)
            except (SQLAlchemyError, OSError, ValueError) as exc:
                log.warning("holiday schedules not refreshed: %s", exc)

    async def start() -> None:
        nonlocal task
        task = asyncio.create_task(loop(), name="calendar-refresh")

    async def stop() -> None:
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    return Worker("calendar-refresh", "web", start, stop)


def parse_roles(text: str) -> frozenset[str]:
    """`web,pump` -> {"web", "pump"}; `all` -> every role. ValueError names an unknown one."""
    roles = {r.strip() for r in text.split(",") if r.strip()}
    if "all" in roles:
        return frozenset(ROLES)
    unknown = roles - set(ROLES)
    if unknown or not roles:
        raise ValueError(
            f"unknown role {', '.join(sorted(unknown)) or text!r}; roles: {', '.join(ROLES)}, all"
        )
    return frozenset(roles)


def workers(
    services: Services, roles: Iterable[str], features: Iterable[Feature] = FEATURES
) -> list[Worker]:
    """The workers of `roles` the features declare, in feature order."""
    wanted = set(roles)
    out: list[Worker] = [w for w in (_calendar_refresh(services),) if w.role in wanted]
    for feature in features:
        module = _wiring(feature)
        if module is not None and hasattr(module, "workers"):
            out.extend(w for w in module.workers(services) if w.role in wanted)
    return out


class Running:
    """Started workers, stopped in reverse order."""

    def __init__(self) -> None:
        self.workers: list[Worker] = []

    async def start(self, workers: Iterable[Worker]) -> None:
        try:
            for worker in workers:
                await worker.start()
                self.workers.append(worker)
                log.info("worker %s (%s) started", worker.name, worker.role)
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        while self.workers:
            worker = self.workers.pop()
            try:
                await worker.stop()
            except Exception:
                log.exception("worker %s did not stop cleanly", worker.name)
            else:
                log.info("worker %s stopped", worker.name)
