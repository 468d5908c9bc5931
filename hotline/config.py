"""Settings: one object, loaded from an optional TOML file and then `HOTLINE_*` environment variables.

Precedence (last wins): built-in defaults < TOML file (`--config`) < environment variables.
Every policy number the system enforces lives in `Policy`, each with its source.
"""

from __future__ import annotations

import dataclasses
import functools
import difflib
import ipaddress
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from hotline.localtime import zone
from hotline.outbox.settings import OutboxSettings, parse_outbox
from hotline.policy import Policy


class ConfigError(ValueError):
    """A setting is missing, malformed or out of range; the message names the setting."""


@dataclass(frozen=True, slots=True)
class AmiSettings:
    host: str = "127.0.0.1"
    port: int = 5038
    username: str = "hotline"
    secret: str = ""
    enabled: bool = False
    # Asterisk's queue_log file, when this host can read it: calls that ended while the
    # service was away are settled from it (empty: the AMI stream and its resync alone).
    queue_log: str = ""
    # This source's name (stored with its events and calls, shown by /healthz); empty: host:port.
    name: str = ""
    # More PBXs to follow ([[ami.sources]] tables with the fields above): one leader each.
    sources: tuple["AmiSettings", ...] = ()

    @property
    def source_name(self) -> str:
        return self.name or f"{self.host}:{self.port}"

    def all_sources(self) -> tuple["AmiSettings", ...]:
        """The sources to follow: this one (the default) and `sources`."""
        return (self, *self.sources)


@dataclass(frozen=True, slots=True)
class IvrSettings:
    """The IVR's FastAGI server (`agi` role). Off by default: it opens a port Asterisk's
    `AGI(agi://host:port/...)` connects to, and FastAGI has no authentication."""

    host: str = "127.0.0.1"
    port: int = 4573
    enabled: bool = False
    flow_file: str = ""  # empty: the packaged flow (ivr/data/flows.toml)


@functools.lru_cache(maxsize=8)
def parse_networks(text: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """Comma-separated addresses or CIDR networks (ValueError names a bad one)."""
    return tuple(
        ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip()
    )


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = ""
    data_dir: Path = Path("var")
    host: str = "127.0.0.1"
    port: int = 8080
    secret_key: str = (
        ""  # Fernet key (urlsafe base64, 32 bytes); generated into data_dir when empty
    )
    upgrade_on_start: bool = True
    cookie_secure: bool = False
    max_body_bytes: int = 1_048_576
    # A form with files (a unit's reply with photos) may be this large; JSON bodies stay
    # within max_body_bytes.
    upload_max_bytes: int = 16_777_216
    login_max_failures: int = 5
    login_window_seconds: int = 300
    # Reverse proxies whose X-Forwarded-For is believed (addresses or CIDR networks, comma-
    # separated). Empty: the peer address is the client, and the header is ignored.
    trusted_proxies: str = ""
    log_level: str = "INFO"
    timezone: str = "Asia/Shanghai"
    ami: AmiSettings = field(default_factory=AmiSettings)
    ivr: IvrSettings = field(default_factory=IvrSettings)
    # Notifications that leave: [[webhooks]] and [outbox] (hotline/outbox/settings.py).
    outbox: OutboxSettings = field(default_factory=OutboxSettings)
    policy: Policy = field(default_factory=Policy)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'hotline.db').as_posix()}"

    @property
    def trusted_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return parse_networks(self.trusted_proxies)

    def replace(self, **changes: Any) -> "Settings":
        return dataclasses.replace(self, **changes)


# Environment variable -> (section, field). Sections: "" = top level, "ami", "ivr", "policy".
_ENV: dict[str, tuple[str, str]] = {
    "HOTLINE_DATABASE_URL": ("", "database_url"),
    "HOTLINE_DATA_DIR": ("", "data_dir"),
    "HOTLINE_HOST": ("", "host"),
    "HOTLINE_PORT": ("", "port"),
    "HOTLINE_SECRET_KEY": ("", "secret_key"),
    "HOTLINE_UPGRADE_ON_START": ("", "upgrade_on_start"),
    "HOTLINE_COOKIE_SECURE": ("", "cookie_secure"),
    "HOTLINE_MAX_BODY_BYTES": ("", "max_body_bytes"),
    "HOTLINE_UPLOAD_MAX_BYTES": ("", "upload_max_bytes"),
    "HOTLINE_LOGIN_MAX_FAILURES": ("", "login_max_failures"),
    "HOTLINE_LOGIN_WINDOW_SECONDS": ("", "login_window_seconds"),
    "HOTLINE_TRUSTED_PROXIES": ("", "trusted_proxies"),
    "HOTLINE_LOG_LEVEL": ("", "log_level"),
    "HOTLINE_TIMEZONE": ("", "timezone"),
    "HOTLINE_AMI_HOST": ("ami", "host"),
    "HOTLINE_AMI_PORT": ("ami", "port"),
    "HOTLINE_AMI_USERNAME": ("ami", "username"),
    "HOTLINE_AMI_SECRET": ("ami", "secret"),
    "HOTLINE_AMI_ENABLED": ("ami", "enabled"),
    "HOTLINE_AMI_QUEUE_LOG": ("ami", "queue_log"),
    "HOTLINE_AMI_NAME": ("ami", "name"),
    "HOTLINE_IVR_HOST": ("ivr", "host"),
    "HOTLINE_IVR_PORT": ("ivr", "port"),
    "HOTLINE_IVR_ENABLED": ("ivr", "enabled"),
    "HOTLINE_IVR_FLOW_FILE": ("ivr", "flow_file"),
    "HOTLINE_SMS_GATEWAY_URL": ("outbox", "sms_gateway_url"),
    "HOTLINE_SMS_TOKEN": ("outbox", "sms_token"),
    "HOTLINE_SERVICE_LEVEL_SECONDS": ("policy", "service_level_seconds"),
    "HOTLINE_CONNECT_RATE_TARGET": ("policy", "connect_rate_target"),
    "HOTLINE_SHORT_ABANDON_SECONDS": ("policy", "short_abandon_seconds"),
    "HOTLINE_SERVICE_LEVEL_TARGET": ("policy", "service_level_target"),
    "HOTLINE_ALARM_WINDOW_MINUTES": ("policy", "alarm_window_minutes"),
    "HOTLINE_ALARM_MIN_OFFERED": ("policy", "alarm_min_offered"),
    "HOTLINE_CALLBACK_MAX_ATTEMPTS": ("policy", "callback_max_attempts"),
    "HOTLINE_DEFAULT_DEADLINE_WORKDAYS": ("policy", "default_deadline_workdays"),
    "HOTLINE_ACKNOWLEDGE_HOURS": ("policy", "acknowledge_hours"),
    "HOTLINE_URGENT_DEADLINE_HOURS": ("policy", "urgent_deadline_hours"),
}

# HOTLINE_* variables that are not settings: the config file's path, and the test tooling's
# (scripts/test, tests/conftest.py). Any other HOTLINE_* name is a typo and is refused.
_NOT_SETTINGS = frozenset({"HOTLINE_CONFIG", "HOTLINE_REQUIRE_BROWSER"})
_TOOLING_PREFIX = "HOTLINE_TEST_"

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _coerce(name: str, raw: Any, target: type) -> Any:
    try:
        if target is bool:
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
            raise ValueError(raw)
        if target is int:
            if isinstance(raw, bool):
                raise ValueError(raw)
            return int(raw)
        if target is float:
            return float(raw)
        if target is Path:
            return Path(raw)
        return str(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"setting {name}: cannot read {raw!r} as {target.__name__}") from None


def _field_types(cls: type) -> dict[str, type]:
    types = {"str": str, "int": int, "float": float, "bool": bool, "Path": Path}
    return {f.name: types.get(str(f.type), str) for f in dataclasses.fields(cls)}


def _did_you_mean(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _build(cls: type, values: Mapping[str, Any], where: str) -> Any:
    types = _field_types(cls)
    kwargs = {}
    for key, raw in values.items():
        if key not in types:
            name = f"{where}.{key}" if where else key
            raise ConfigError(f"unknown setting {name!r}{_did_you_mean(key, types)}")
        kwargs[key] = _coerce(f"{where}.{key}" if where else key, raw, types[key])
    return kwargs


def _ami_settings(values: Mapping[str, Any]) -> AmiSettings:
    values = dict(values)
    sources = values.pop("sources", [])
    if not isinstance(sources, list) or not all(isinstance(t, dict) for t in sources):
        raise ConfigError("setting ami.sources: use [[ami.sources]] tables")
    extra = []
    for i, table in enumerate(sources):
        if "sources" in table:
            raise ConfigError(f"setting ami.sources[{i}].sources: sources do not nest")
        source = AmiSettings(**_build(AmiSettings, table, f"ami.sources[{i}]"))
        if not source.name:
            raise ConfigError(f"setting ami.sources[{i}].name: each extra source needs a name")
        extra.append(source)
    ami = AmiSettings(**_build(AmiSettings, values, "ami"), sources=tuple(extra))
    names = [a.source_name for a in ami.all_sources()]
    if len(set(names)) != len(names):
        raise ConfigError(f"setting ami.sources: names must differ ({', '.join(names)})")
    return ami


def load_settings(
    config_file: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Read the TOML file (if given) then HOTLINE_* variables; validate; return Settings."""
    env = os.environ if environ is None else environ
    sections: dict[str, dict[str, Any]] = {"": {}, "ami": {}, "ivr": {}, "policy": {}, "outbox": {}}
    webhooks: Any = None
    if config_file is None and env.get("HOTLINE_CONFIG"):
        config_file = env["HOTLINE_CONFIG"]
    if config_file is not None:
        path = Path(config_file)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config file {path}: cannot read it ({exc})") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path}: {exc}") from None
        for key, value in data.items():
            if key == "webhooks":
                webhooks = value
            elif key in ("ami", "ivr", "policy", "outbox"):
                if not isinstance(value, dict):
                    raise ConfigError(f"config file {path}: [{key}] must be a table")
                sections[key].update(value)
            else:
                sections[""][key] = value
    for var in env:
        if (
            var.startswith("HOTLINE_")
            and var not in _ENV
            and var not in _NOT_SETTINGS
            and not var.startswith(_TOOLING_PREFIX)
        ):
            raise ConfigError(
                f"unknown setting {var!r} in the environment{_did_you_mean(var, _ENV)}"
            )
    for var, (section, name) in _ENV.items():
        if var in env:
            sections[section][name] = env[var]
    ami = _ami_settings(sections["ami"])
    policy = Policy(**_build(Policy, sections["policy"], "policy"))
    ivr = IvrSettings(**_build(IvrSettings, sections["ivr"], "ivr"))
    try:
        outbox = parse_outbox(sections["outbox"], webhooks)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    settings = Settings(
        **_build(Settings, sections[""], ""), ami=ami, ivr=ivr, policy=policy, outbox=outbox
    )
    _validate(settings)
    return settings


def _validate(s: Settings) -> None:
    if s.log_level.upper() not in LOG_LEVELS:
        raise ConfigError(
            f"log_level: {s.log_level!r} is not a log level; use one of {', '.join(LOG_LEVELS)}"
        )
    try:
        zone(s.timezone)
    except KeyError:
        raise ConfigError(
            f"timezone: {s.timezone!r} is not a known time zone (e.g. Asia/Shanghai)"
        ) from None
    if not 0 < s.port < 65536:
        raise ConfigError(f"port: {s.port} is not a TCP port")
    for a in s.ami.all_sources():
        if not 0 < a.port < 65536:
            raise ConfigError(f"ami.port: {a.port} of {a.source_name} is not a TCP port")
    if not 0 < s.ivr.port < 65536:
        raise ConfigError(f"ivr.port: {s.ivr.port} is not a TCP port")
    if not 0.0 < s.policy.connect_rate_target <= 1.0:
        raise ConfigError("policy.connect_rate_target must be in (0, 1]")
    if not 0.0 < s.policy.service_level_target <= 1.0:
        raise ConfigError("policy.service_level_target must be in (0, 1]")
    if s.policy.alarm_window_minutes <= 0:
        raise ConfigError("policy.alarm_window_minutes must be positive")
    if s.policy.callback_max_attempts <= 0:
        raise ConfigError("policy.callback_max_attempts must be positive")
    if s.policy.service_level_seconds <= 0:
        raise ConfigError("policy.service_level_seconds must be positive")
    try:
        opens, closes = s.policy.office_hours
    except ValueError:
        raise ConfigError(
            "policy.office_opens and policy.office_closes must be times of day such as 09:00"
        ) from None
    if not opens < closes:
        raise ConfigError("policy.office_opens must be before policy.office_closes")
    if s.policy.followup_pump_seconds <= 0:
        raise ConfigError("policy.followup_pump_seconds must be positive")
    weights = s.policy.score_weights
    if any(not 0.0 <= w <= 1.0 for w in weights.values()):
        raise ConfigError("policy.score_weight_* must each be between 0 and 1")
    if abs(sum(weights.values()) - 1.0) > 1e-6:
        raise ConfigError(
            f"policy.score_weight_* must add up to 1 (they add up to {sum(weights.values()):g})"
        )
    if s.policy.agent_hangup_quick_seconds < 0 or s.policy.agent_hangup_min_calls <= 0:
        raise ConfigError(
            "policy.agent_hangup_quick_seconds must not be negative and "
            "policy.agent_hangup_min_calls must be positive"
        )
    if not 0.0 < s.policy.agent_hangup_flag_share <= 1.0:
        raise ConfigError("policy.agent_hangup_flag_share must be in (0, 1]")
    if (
        min(
            s.policy.hotspot_window_hours,
            s.policy.hotspot_baseline_days,
            s.policy.hotspot_min_tickets,
        )
        <= 0
        or s.policy.hotspot_ratio <= 1.0
    ):
        raise ConfigError(
            "policy.hotspot_window_hours, hotspot_baseline_days and "
            "hotspot_min_tickets must be positive, hotspot_ratio above 1"
        )
    try:
        s.trusted_networks
    except ValueError as exc:
        raise ConfigError(f"trusted_proxies: {exc}") from None
    if s.max_body_bytes < 1024:
        raise ConfigError("max_body_bytes must be at least 1024")
    if s.upload_max_bytes < s.max_body_bytes:
        raise ConfigError("upload_max_bytes must be at least max_body_bytes")
    url = s.resolved_database_url
    if not (url.startswith("sqlite+aiosqlite://") or url.startswith("postgresql+asyncpg://")):
        raise ConfigError(
            "database_url must start with sqlite+aiosqlite:// or postgresql+asyncpg:// "
            f"(got {url.split('://')[0]}://...)"
        )
    try:
        make_url(url)
    except (ValueError, ArgumentError) as exc:
        # The message may quote a fragment of the URL but never the whole (no password).
        raise ConfigError(f"database_url: not a valid database URL ({exc})") from None
