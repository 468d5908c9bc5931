"""What the IVR adds to the services (hotline.bootstrap): the `Ivr` every FastAGI session
runs, over the ports other features provide (hotline.ports), and, when `ivr.enabled`, the
`agi` role's worker: the FastAGI server, plus a watch on `ivr.flow_file` and on the flow
versions admins save (ivr.flowstore) that loads a changed flow (a flow with a mistake is
refused with its line, and the running one stays)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from hotline.bootstrap import Key, Services, Worker
from hotline.config import ConfigError
from hotline.ports import (
    CALLBACK_REQUESTS,
    IVR_ROUTES,
    PROGRESS_LOOKUP,
    QUEUE_WAIT,
    SURVEY_SCORES,
)
from ivr.agi.server import FastAgiServer
from ivr.flows import FlowError, FlowStore, packaged_flow_text, parse_flow
from ivr.flowstore import FlowSync
from ivr.routes import RouteStore
from ivr.session import Ivr
from ivr.surveys import SurveyStore

log = logging.getLogger(__name__)

IVR: Key[Ivr] = Key("ivr")
SURVEYS: Key[SurveyStore] = Key("ivr_surveys")
ROUTES: Key[RouteStore] = Key("ivr_route_store")
AGI_SERVER: Key[FastAgiServer] = Key("agi_server")  # present while the agi worker runs
FLOWS: Key[FlowSync] = Key("ivr_flows")
FLOW_POLL_SECONDS = 5.0


def flow_text(flow_file: str) -> str:
    if not flow_file:
        return packaged_flow_text()
    try:
        return Path(flow_file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"ivr.flow_file {flow_file}: cannot read it ({exc})") from None


def load_store(flow_file: str) -> FlowStore:
    text = flow_text(flow_file)
    try:
        return FlowStore(parse_flow(text), text)
    except FlowError as exc:
        raise ConfigError(f"ivr.flow_file {flow_file or '(packaged)'}: {exc}") from None


def build_ivr(services: Services) -> Ivr:
    services[SURVEYS] = surveys = SurveyStore(services.db, clock=services.clock)
    services[ROUTES] = routes = RouteStore(services.db, clock=services.clock)
    return Ivr(
        load_store(services.settings.ivr.flow_file),
        calendar=services.calendar,
        clock=services.clock,
        progress=services.get(PROGRESS_LOOKUP),
        callbacks=services.get(CALLBACK_REQUESTS),
        queue_wait=services.get(QUEUE_WAIT),
        surveys=surveys,
        routes=routes,
    )


async def provide(services: Services) -> None:
    services[IVR] = ivr = build_ivr(services)
    services[FLOWS] = flows = FlowSync(services.db, ivr.flows)
    await flows.refresh()  # a version an admin saved, when newer than the file's
    services[SURVEY_SCORES] = services[SURVEYS]  # the reports read the scores per agent
    services[IVR_ROUTES] = services[ROUTES]  # the agent's screen pop reads the category


class FlowWatch:
    """Loads `path` again when its modification time changes (no path: no file to watch),
    and the newest version saved in the database when it is newer (`sync`)."""

    def __init__(self, store: FlowStore, path: str, sync: FlowSync | None = None) -> None:
        self.store = store
        self.path = Path(path) if path else None
        self.sync = sync
        self._seen = self._mtime()

    def _mtime(self) -> float | None:
        if self.path is None:
            return None
        try:
            return self.path.stat().st_mtime
        except OSError:
            return None

    def check(self) -> None:
        mtime = self._mtime()
        if self.path is None or mtime is None or mtime == self._seen:
            return
        self._seen = mtime
        try:
            flow = self.store.load(self.path.read_text(encoding="utf-8"))
        except (FlowError, OSError, UnicodeDecodeError) as exc:
            log.warning(
                "IVR flow %s refused, version %d keeps running: %s",
                self.path,
                self.store.flow.version,
                exc,
            )
        else:
            log.info("IVR flow %s version %d loaded", self.path, flow.version)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(FLOW_POLL_SECONDS)
            self.check()
            if self.sync is not None:
                try:
                    await self.sync.refresh()
                except Exception:  # the database away for a while: the running flow stays
                    log.warning("IVR flow versions not read from the database", exc_info=True)


def agi_worker(services: Services, host: str, port: int) -> Worker:
    ivr = services[IVR]
    server = FastAgiServer(ivr, host, port)
    flow_file = services.settings.ivr.flow_file
    tasks: list[asyncio.Task[None]] = []

    async def start() -> None:
        try:
            await server.start()
        except OSError as exc:
            raise ConfigError(f"ivr: cannot listen on {host}:{port} ({exc.strerror})") from None
        services[AGI_SERVER] = server
        watch = FlowWatch(ivr.flows, flow_file, services.get(FLOWS))
        tasks.append(asyncio.create_task(watch.run(), name="ivr-flow-watch"))
        log.info(
            "FastAGI listening on %s:%d (flow version %d)",
            host,
            server.bound_port,
            ivr.flows.flow.version,
        )

    async def stop() -> None:
        services.forget(AGI_SERVER)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.stop()

    return Worker("fastagi", "agi", start, stop)


def workers(services: Services) -> list[Worker]:
    settings = services.settings.ivr
    if not settings.enabled:
        return []
    return [agi_worker(services, settings.host, settings.port)]
