"""What every command line needs, kernel and features alike: settings from the arguments,
logging, the services for one piece of work (built by hotline.bootstrap, as for the web app
and the workers), and one way to report an import. Feature CLIs import this module, not
hotline.cli (which knows the whole product)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TYPE_CHECKING, Any, Awaitable, Callable, TypeVar

from hotline.config import Settings, load_settings
from hotline.errors import ImportRejected

if TYPE_CHECKING:
    from hotline.bootstrap import Services

T = TypeVar("T")


def settings_from(args: argparse.Namespace) -> Settings:
    return load_settings(getattr(args, "config", None))


def setup_logging(level: str = "INFO") -> None:
    from hotline import logs

    logs.setup_logging(level)


async def with_services(settings: Settings, work: Callable[[Services], Awaitable[T]]) -> T:
    """`work(services)` on the services the app and the workers get (hotline.bootstrap.build).
    A command migrates the database first, whatever `upgrade_on_start` says of the service."""
    from hotline import bootstrap

    services = await bootstrap.build(settings.replace(upgrade_on_start=True))
    try:
        return await work(services)
    finally:
        await services.close()


def run_with_services(args: argparse.Namespace, work: Callable[[Services], Awaitable[T]]) -> T:
    """A command's one piece of work, on the services built from its arguments' settings."""
    return asyncio.run(with_services(settings_from(args), work))


async def with_db(
    settings: Settings, work: Callable[[Any], Any], upgrade_first: bool = True
) -> Any:
    """`work(db)` on the bare database, for the schema commands (`hotline db ...`), which must
    not build the features' services on a schema that may be missing or old."""
    from hotline.db import open_database, upgrade

    db = await open_database(settings.resolved_database_url)
    try:
        if upgrade_first:
            await upgrade(db)
        return await work(db)
    finally:
        await db.dispose()


def report_import(
    source: str, run: Callable[[], Any], summary: Callable[[Any], str], noun: str = "row"
) -> int:
    """Runs an import and reports it the same way for every kind of file: each bad row as
    `FILE:LINE: message` on stderr; exit 1 when the file was rejected as a whole."""
    try:
        result = run()
    except ImportRejected as exc:
        for err in exc.errors:
            print(f"{source}:{err.line}: {err.message}", file=sys.stderr)
        print(
            f"{len(exc.errors)} bad {noun}(s); nothing imported (use --partial to import the "
            f"good {noun}s)",
            file=sys.stderr,
        )
        return 1
    for err in result.skipped:
        print(f"{source}:{err.line}: skipped: {err.message}", file=sys.stderr)
    print(summary(result))
    return 0
