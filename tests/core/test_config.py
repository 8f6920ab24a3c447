from __future__ import annotations

from pathlib import Path

import pytest

from core.config import DEFAULT_WATCHLIST, load_settings, parse_duration, redact_url
from core.errors import ConfigError, InvalidSymbol


def test_defaults_run_offline_on_the_simulator(tmp_path: Path) -> None:
    s = load_settings({}, tmp_path / "none.toml")
    assert s.sources == ("simulator",) and not s.redis_url
    assert s.watchlist == DEFAULT_WATCHLIST
    assert s.effective_database_url.startswith("sqlite:///")


def test_env_overrides_secrets_and_secrets_are_hidden(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('GS_POLYGON_API_KEY = "sk-from-file"\nGS_SIM_SEED = "5"\n')
    s = load_settings({"GS_SIM_SEED": "9", "GS_REDIS_URL": "redis://u:hunter2@h:6379/0"}, secrets)
    assert s.sim_seed == 9
    assert s.secret("GS_POLYGON_API_KEY") == "sk-from-file"
    shown = repr(s) + str(s.describe())
    assert "sk-from-file" not in shown and "hunter2" not in shown
    assert s.describe()["redis_url"] == "redis://u:***@h:6379/0"


@pytest.mark.parametrize("env,fragment", [
    ({"GS_SOURCE": "nasdaq"}, "GS_SOURCE"), ({"GS_SIM_SEED": "abc"}, "GS_SIM_SEED"),
    ({"GS_SOURCE": "replay"}, "GS_REPLAY_PATH"), ({"GS_STORE_ENABLED": "maybe"}, "true/false"),
    ({"GS_TICK_RETENTION": "7 fortnights"}, "duration"),
])
def test_bad_settings_say_what_to_fix(env: dict, fragment: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=fragment):
        load_settings(env, tmp_path / "none.toml")


def test_watchlist_setting_is_validated(tmp_path: Path) -> None:
    settings = load_settings({"GS_WATCHLIST": "aapl, tsla"}, tmp_path / "x")
    assert settings.watchlist == ("AAPL", "TSLA")
    with pytest.raises(InvalidSymbol):
        load_settings({"GS_WATCHLIST": "AAPL,NOT A SYMBOL!"}, tmp_path / "x")


def test_durations() -> None:
    assert parse_duration("90s", "x") == 90 and parse_duration("2h", "x") == 7200
    assert parse_duration("7d", "x") == 7 * 86400 and parse_duration("15", "x") == 15
    assert redact_url("redis://h:1/0") == "redis://h:1/0"


def test_no_secret_survives_repr_describe_or_redaction(tmp_path: Path) -> None:
    env = {"GS_REDIS_URL": "redis://h:6379/0?password=s3cret",
           "GS_DATABASE_URL": "postgresql+psycopg://u:pw2@db/gs?sslmode=require"}
    s = load_settings(env, tmp_path / "none.toml")
    shown = repr(s) + str(s.describe())
    assert "s3cret" not in shown and "pw2" not in shown
    assert s.describe()["redis_url"] == "redis://h:6379/0?password=***"
    assert s.describe()["database_url"] == "postgresql+psycopg://u:***@db/gs?sslmode=require"
    assert redact_url("redis://:tok@h/0") == "redis://:***@h/0"
    assert redact_url("redis://tok@h/0") == "redis://***@h/0"


@pytest.mark.parametrize("env,fragment", [
    ({"GS_RECONNECT_INITIAL_S": "0"}, "GS_RECONNECT_INITIAL_S"),
    ({"GS_MAX_DEVIATION": "5"}, "GS_MAX_DEVIATION"),
    ({"GS_STALE_AFTER_S": "-1"}, "GS_STALE_AFTER_S"),
    ({"GS_YAHOO_POLL_S": "0.1"}, "GS_YAHOO_POLL_S"),
])
def test_failover_and_reconnection_settings_are_range_checked(env: dict, fragment: str,
                                                              tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=fragment):
        load_settings(env, tmp_path / "none.toml")


def test_a_backoff_that_would_spin_is_refused() -> None:
    from core.feeds.reconnect import BackoffConfig

    with pytest.raises(ConfigError, match="initial delay"):
        BackoffConfig(initial=0.0)
    with pytest.raises(ConfigError):
        BackoffConfig(initial=5.0, cap=1.0)
