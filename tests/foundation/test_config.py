import datetime as dt
from pathlib import Path

import pytest

from hotline.config import ConfigError, Policy, load_settings


def test_defaults_are_the_seed_policy_and_a_sqlite_file():
    s = load_settings(environ={})
    assert s.policy.service_level_seconds == 15
    assert s.policy.connect_rate_target == 0.80
    assert s.policy.gbt33358_connect_rate_24h == 0.95
    assert s.resolved_database_url == "sqlite+aiosqlite:///var/hotline.db"


def test_toml_then_environment_override(tmp_path: Path):
    cfg = tmp_path / "hotline.toml"
    cfg.write_text(
        'port = 9000\ndatabase_url = "postgresql+asyncpg://u@h/db"\n'
        '[ami]\nhost = "pbx.local"\nport = 5039\n[policy]\nconnect_rate_target = 0.85\n'
    )
    s = load_settings(cfg, environ={"HOTLINE_PORT": "9100", "HOTLINE_AMI_SECRET": "s3cret"})
    assert s.port == 9100
    assert s.database_url.startswith("postgresql+asyncpg://")
    assert (s.ami.host, s.ami.port, s.ami.secret) == ("pbx.local", 5039, "s3cret")
    assert s.policy.connect_rate_target == 0.85
    assert s.policy.service_level_seconds == Policy().service_level_seconds


def test_work_order_terms_and_pump_interval_come_from_the_policy_table(tmp_path: Path):
    assert Policy().office_hours == (dt.time(9, 0), dt.time(17, 0))
    cfg = tmp_path / "hotline.toml"
    cfg.write_text(
        '[policy]\noffice_opens = "08:30"\noffice_closes = "17:30"\n'
        "consult_deadline_workdays = 2\ncallback_workdays = 3\n"
        "urgent_remind_share = 0.5\nfollowup_pump_seconds = 5\n"
    )
    p = load_settings(cfg, environ={}).policy
    assert p.office_hours == (dt.time(8, 30), dt.time(17, 30))
    assert (p.consult_deadline_workdays, p.help_deadline_workdays) == (2, 3)
    assert (p.callback_workdays, p.urgent_remind_share, p.followup_pump_seconds) == (3, 0.5, 5.0)
    for bad, message in (
        ('office_opens = "17:00"', "before"),
        ('office_closes = "5pm"', "times"),
        ("followup_pump_seconds = 0", "followup_pump_seconds"),
    ):
        cfg.write_text(f"[policy]\n{bad}\n")
        with pytest.raises(ConfigError, match=message):
            load_settings(cfg, environ={})


@pytest.mark.parametrize(
    "env, message",
    [
        ({"HOTLINE_PORT": "eighty"}, "port"),
        ({"HOTLINE_PORT": "70000"}, "port"),
        ({"HOTLINE_CONNECT_RATE_TARGET": "1.5"}, "connect_rate_target"),
        ({"HOTLINE_DATABASE_URL": "mysql://x"}, "database_url"),
        ({"HOTLINE_AMI_ENABLED": "perhaps"}, "ami.enabled"),
    ],
)
def test_bad_values_name_the_setting(env, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(environ=env)


def test_unknown_key_and_broken_file_are_refused(tmp_path: Path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text("prot = 80\n")
    with pytest.raises(ConfigError, match="unknown setting 'prot'"):
        load_settings(cfg, environ={})
    cfg.write_text("port = \n")
    with pytest.raises(ConfigError, match="bad.toml"):
        load_settings(cfg, environ={})
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "missing.toml", environ={})
