"""The `hotline` command (also `python -m hotline`). Feature packages add subcommands through
a `register(subparsers)` function in their `cli` module, named in `hotline.features`."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import importlib
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from hotline.commands import report_import, run_with_services, settings_from, setup_logging, with_db
from hotline.config import ConfigError, Settings
from hotline.db import DatabaseUnavailable
from hotline.errors import DomainError
from hotline.features import FEATURES
from hotline.logs import AccessLogger
from hotline.prefork import CannotListen, listening_socket

if TYPE_CHECKING:
    from hotline.bootstrap import Services


log = logging.getLogger("hotline.cli")
SWITCH_INTERVAL_S = 0.001  # for service processes: see _service_process


async def _database_ready(settings: Settings) -> None:
    """Connects once before the app starts, so an unreachable database is one message."""
    from hotline.db import current_revision, open_database

    db = await open_database(settings.resolved_database_url)
    try:
        if not settings.upgrade_on_start and await current_revision(db) is None:
            raise ConfigError(
                "the database has no schema: run `hotline db upgrade` first "
                "(or start without --no-upgrade)"
            )
    finally:
        await db.dispose()


def _service_process() -> None:
    # Every SQLite statement is a hand-off to aiosqlite's thread and back; with CPython's
    # default 5 ms switch interval a busy event loop kept the finished statement waiting for
    # the GIL. At 1 ms: KB search 353 -> 515 requests/s on SQLite (benchmarks/http_load.py).
    sys.setswitchinterval(SWITCH_INTERVAL_S)


def cmd_serve(args: argparse.Namespace) -> int:
    """`serve` is `run --role all`."""
    args.role = "all"
    return cmd_run(args)


def cmd_run(args: argparse.Namespace) -> int:
    from hotline import bootstrap

    try:
        roles = bootstrap.parse_roles(args.role)
    except ValueError as exc:
        raise SystemExit(f"hotline run: {exc}") from None
    settings = settings_from(args)
    changes: dict[str, Any] = {}
    if args.host:
        changes["host"] = args.host
    if args.port:
        changes["port"] = args.port
    if args.no_upgrade:
        changes["upgrade_on_start"] = False
    settings = settings.replace(**changes)
    workers = getattr(args, "workers", 1) or 1
    if workers > 1:
        _check_workers(settings, roles, workers)
    setup_logging(settings.log_level)
    _service_process()
    if "web" not in roles:
        asyncio.run(_database_ready(settings))
        asyncio.run(_run_workers(settings, roles))
        return 0
    if workers > 1:
        from hotline import prefork

        reserved = prefork.reserve(settings.host, settings.port)
        try:
            asyncio.run(_database_ready(settings))
            if settings.upgrade_on_start:  # once, before the workers start
                asyncio.run(with_db(settings, _noop))
        except BaseException:
            reserved[0].close()
            raise
        return prefork.serve(
            settings.replace(upgrade_on_start=False), roles, workers, _serve_web, reserved
        )
    with listening_socket(settings.host, settings.port) as sock:
        asyncio.run(_database_ready(settings))
        _serve_web(
            settings,
            roles,
            sock,
            f"hotline serving on http://{settings.host}:"
            f"{settings.port} (roles: {', '.join(sorted(roles))})",
        )
    return 0


def _check_workers(settings: Settings, roles: frozenset[str], workers: int) -> None:
    if settings.resolved_database_url.startswith("sqlite"):
        raise ConfigError(
            f"--workers {workers}: SQLite is the single-process embedded default "
            "(one writer); several processes need PostgreSQL (database_url = "
            "postgresql+asyncpg://...)"
        )
    if "web" not in roles:
        raise ConfigError("--workers applies to the web role: run other roles as one process")


async def _noop(_db: Any) -> None:
    return None


def _serve_web(settings: Settings, roles: frozenset[str], sock: Any, message: str | None) -> None:
    """The web service (and `roles`' workers) on a listening socket until SIGINT or SIGTERM."""
    from aiohttp import web

    from hotline.web.app import SHUTDOWN_GRACE_S, create_app

    web.run_app(
        create_app(settings, roles=roles),
        sock=sock,
        access_log_class=AccessLogger,
        shutdown_timeout=SHUTDOWN_GRACE_S,
        print=(lambda _msg: print(message, flush=True)) if message else None,
    )


async def _run_workers(settings: Settings, roles: frozenset[str]) -> None:
    """A process without the web role: its workers run until SIGINT or SIGTERM."""
    import signal

    from hotline import bootstrap

    services = await bootstrap.build(settings)
    running = bootstrap.Running()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        workers = bootstrap.workers(services, roles)
        if not workers:
            log.warning(
                "no worker has the roles %s here (ami.enabled = %s): nothing to run",
                ", ".join(sorted(roles)),
                settings.ami.enabled,
            )
            return
        await running.start(workers)
        print(f"hotline running {', '.join(w.name for w in running.workers)}", flush=True)
        await stop.wait()
    finally:
        await running.stop()
        await services.close()


def cmd_demo(args: argparse.Namespace) -> int:
    from hotline import demo

    settings = settings_from(args)
    changes: dict[str, Any] = {"data_dir": Path(args.data_dir)}
    if args.host:
        changes["host"] = args.host
    if args.port:
        changes["port"] = args.port
    settings = settings.replace(**changes)
    setup_logging(settings.log_level)
    _service_process()
    with listening_socket(settings.host, settings.port) as sock:
        return demo.run(settings, sock)


# --- db ----------------------------------------------------------------------------------------


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from hotline.db import current_revision

    settings = settings_from(args)
    revision = asyncio.run(with_db(settings, current_revision))
    print(f"database {settings.resolved_database_url.split('://')[0]} at revision {revision}")
    return 0


def cmd_db_current(args: argparse.Namespace) -> int:
    from hotline.db import current_revision

    revision = asyncio.run(with_db(settings_from(args), current_revision, upgrade_first=False))
    print(revision or "(empty database)")
    return 0


# --- units -------------------------------------------------------------------------------------


def cmd_units_import(args: argparse.Namespace) -> int:
    from hotline.directory.units import import_units

    path = Path(args.file)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"cannot read {path}: {exc}", file=sys.stderr)
        return 2
    return report_import(
        str(path),
        lambda: run_with_services(
            args, lambda services: import_units(services.db, "cli", text, args.partial)
        ),
        lambda r: f"units: {r.created} created, {r.updated} updated, {len(r.skipped)} skipped",
    )


# --- users -------------------------------------------------------------------------------------


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    if not sys.stdin.isatty():
        raise ConfigError("no terminal to ask for a password: use --password-stdin")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise ConfigError("passwords differ")
    return first


def cmd_users_add(args: argparse.Namespace) -> int:
    from hotline.accounts import NewUser, create_user
    from hotline.models import Role

    new = NewUser(
        username=args.username,
        display_name=args.name or args.username,
        role=Role(args.role),
        password=_read_password(args),
        unit_code=args.unit,
        agent_interface=args.agent_interface,
        agent_extension=args.agent_extension,
        agent_member_name=args.agent_member_name,
    )
    user = run_with_services(args, lambda services: create_user(services.db, "cli", new))
    print(
        f"created user {user.username} ({user.role}{', ' + user.unit_code if user.unit_code else ''})"
    )
    return 0


def cmd_users_list(args: argparse.Namespace) -> int:
    from hotline.accounts import list_users

    for u in run_with_services(args, lambda services: list_users(services.db)):
        print(f"{u.username:<20} {u.role:<13} {u.unit_code or '':<14} {u.display_name}")
    return 0


def cmd_users_token(args: argparse.Namespace) -> int:
    from hotline.accounts import issue_token

    token = run_with_services(
        args, lambda services: issue_token(services.db, "cli", args.username, args.name)
    )
    print(token)
    return 0


def cmd_users_password(args: argparse.Namespace) -> int:
    from hotline.accounts import set_password

    password = _read_password(args)
    run_with_services(
        args, lambda services: set_password(services.db, "cli", args.username, password)
    )
    print(f"password of {args.username} changed; its sessions ended and API tokens revoked")
    return 0


def cmd_users_active(args: argparse.Namespace) -> int:
    from hotline.accounts import set_active

    active = args.users_command == "enable"
    run_with_services(args, lambda services: set_active(services.db, "cli", args.username, active))
    print(
        f"{args.username} {'enabled' if active else 'disabled; its sessions ended and API tokens revoked'}"
    )
    return 0


def cmd_users_tokens(args: argparse.Namespace) -> int:
    from hotline.accounts import list_tokens

    for t in run_with_services(args, lambda services: list_tokens(services.db, args.username)):
        state = f"revoked {t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "active"
        used = f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "never"
        print(f"{t.id}\t{t.prefix}...\t{t.name}\tlast used {used}\t{state}")
    return 0


def cmd_users_revoke_token(args: argparse.Namespace) -> int:
    from hotline.accounts import revoke_token

    run_with_services(
        args, lambda services: revoke_token(services.db, "cli", args.username, args.token_id)
    )
    print(f"token {args.token_id} of {args.username} revoked")
    return 0


def cmd_users_unlock(args: argparse.Namespace) -> int:
    from hotline.accounts import LoginGuard

    async def unlock(services: Services) -> int:
        settings = services.settings
        guard = LoginGuard(services.db, settings.login_max_failures, settings.login_window_seconds)
        return await guard.unlock("cli", args.username, args.address)

    count = run_with_services(args, unlock)
    print(f"{args.username}: {count} failed login(s) forgotten")
    return 0


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 64:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of processes (1-64)")
    return value


def build_parser() -> argparse.ArgumentParser:
    from hotline.models import Role

    parser = argparse.ArgumentParser(prog="hotline", description="12345 hotline backend")
    parser.add_argument("--config", help="TOML settings file (HOTLINE_* variables override it)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="run the web service")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument(
        "--workers",
        type=_positive,
        default=1,
        help="processes serving HTTP on the one port (PostgreSQL only); background "
        "roles run once, in the first",
    )
    p.add_argument("--no-upgrade", action="store_true", help="do not migrate the database on start")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("run", help="run the service with some roles only (serve = all of them)")
    p.add_argument(
        "--role",
        default="all",
        help="comma-separated roles of this process: web (HTTP), ami (follow the "
        "PBX), pump (follow-ups), agi (IVR), or all",
    )
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument(
        "--workers",
        type=_positive,
        default=1,
        help="with the web role: processes serving HTTP on the one port "
        "(PostgreSQL only); the other roles run once, in the first",
    )
    p.add_argument("--no-upgrade", action="store_true", help="do not migrate the database on start")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("demo", help="load sample data and demo accounts, then serve")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--data-dir", default="var/demo")
    p.set_defaults(func=cmd_demo)

    db = sub.add_parser("db", help="database schema").add_subparsers(
        dest="db_command", required=True
    )
    db.add_parser("upgrade", help="migrate to the newest schema").set_defaults(func=cmd_db_upgrade)
    db.add_parser("current", help="print the schema revision").set_defaults(func=cmd_db_current)

    units = sub.add_parser("units", help="responsible units (承办单位)").add_subparsers(
        dest="units_command", required=True
    )
    p = units.add_parser("import", help="import a units.json (JSON array or JSON Lines) file")
    p.add_argument("file")
    p.add_argument("--partial", action="store_true", help="import good rows, report bad ones")
    p.set_defaults(func=cmd_units_import)

    users = sub.add_parser("users", help="accounts").add_subparsers(
        dest="users_command", required=True
    )
    p = users.add_parser("add", help="create an account")
    p.add_argument("username")
    p.add_argument("--role", required=True, choices=[r.value for r in Role])
    p.add_argument("--name", help="display name")
    p.add_argument("--unit", help="unit code (unit_handler only)")
    p.add_argument("--agent-interface", help="Asterisk queue member interface (agents)")
    p.add_argument("--agent-extension")
    p.add_argument("--agent-member-name", help="queue member name as app_queue reports it")
    p.add_argument("--password-stdin", action="store_true")
    p.set_defaults(func=cmd_users_add)
    users.add_parser("list", help="list accounts").set_defaults(func=cmd_users_list)
    p = users.add_parser("token", help="issue an API token (printed once)")
    p.add_argument("username")
    p.add_argument("--name", default="integration")
    p.set_defaults(func=cmd_users_token)
    p = users.add_parser("password", help="set an account's password")
    p.add_argument("username")
    p.add_argument("--password-stdin", action="store_true")
    p.set_defaults(func=cmd_users_password)
    for action, text in (
        ("disable", "disable an account (ends its sessions, revokes tokens)"),
        ("enable", "enable a disabled account"),
    ):
        p = users.add_parser(action, help=text)
        p.add_argument("username")
        p.set_defaults(func=cmd_users_active)
    p = users.add_parser("tokens", help="list an account's API tokens")
    p.add_argument("username")
    p.set_defaults(func=cmd_users_tokens)
    p = users.add_parser("revoke-token", help="revoke one API token (id from `users tokens`)")
    p.add_argument("username")
    p.add_argument("token_id", type=int)
    p.set_defaults(func=cmd_users_revoke_token)
    p = users.add_parser("unlock", help="forget an account's failed logins (all addresses or one)")
    p.add_argument("username")
    p.add_argument("--address")
    p.set_defaults(func=cmd_users_unlock)

    for feature in FEATURES:
        if feature.cli:
            importlib.import_module(feature.cli).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ConfigError, DomainError) as exc:
        print(f"hotline: {exc}", file=sys.stderr)
        details = getattr(exc, "details", None) or {}
        for err in details.get("errors", []):
            print(f"  line {err['line']}: {err['message']}", file=sys.stderr)
        return 2
    except (DatabaseUnavailable, CannotListen) as exc:
        print(f"hotline: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
