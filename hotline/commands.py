"""What every command line needs, kernel and features alike: settings from the arguments,
logging, a database for one piece of work, and one way to report an import. Feature CLIs
import this module, not hotline.cli (which knows the whole product)."""

from __future__ import annotations

import argparse
import sys
from typing import Any, Callable

from hotline.config import Settings, load_settings
from hotline.errors import ImportRejected


def settings_from(args: argparse.Namespace) -> Settings:
    return load_settings(getattr(args, "config", None))


def setup_logging(level: str = "INFO") -> None:
    from hotline import logs

    logs.setup_logging(level)


async def with_db(settings: Settings, work: Callable[[Any], Any], upgrade_first: bool = True) -> Any:
    from hotline.db import open_database, upgrade

    db = await open_database(settings.resolved_database_url)
    try:
        if upgrade_first:
            await upgrade(db)
        return await work(db)
    finally:
        await db.dispose()


def report_import(source: str, run: Callable[[], Any], summary: Callable[[Any], str],
                  noun: str = "row") -> int:
    """Runs an import and reports it the same way for every kind of file: each bad row as
    `FILE:LINE: message` on stderr; exit 1 when the file was rejected as a whole."""
    try:
        result = run()
    except ImportRejected as exc:
        for err in exc.errors:
            print(f"{source}:{err.line}: {err.message}", file=sys.stderr)
        print(f"{len(exc.errors)} bad {noun}(s); nothing imported (use --partial to import the "
              f"good {noun}s)", file=sys.stderr)
        return 1
    for err in result.skipped:
        print(f"{source}:{err.line}: skipped: {err.message}", file=sys.stderr)
    print(summary(result))
    return 0
