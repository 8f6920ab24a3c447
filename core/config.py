"""Settings from ``GS_*`` environment variables and ``.streamlit/secrets.toml``.

The environment wins over secrets.toml. Secret values (API keys) are kept out of ``repr`` and of
every message, so a settings object can be logged or shown safely.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from core.errors import ConfigError

DEFAULT_WATCHLIST = ("AAPL", "MSFT", "NVDA", "SPY", "QQQ", "BTCUSDT", "ETHUSDT")
SOURCES = ("simulator", "replay", "binance", "polygon", "alpaca", "yahoo")
SIMULATED_SOURCES = ("simulator", "replay")
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str, name: str) -> float:
    """Parse ``30s``, ``15m``, ``12h``, ``7d``, ``2w`` (or plain seconds) into seconds."""
    raw = text.strip().lower()
    try:
        if raw and raw[-1] in _DURATION_UNITS:
            seconds = float(raw[:-1]) * _DURATION_UNITS[raw[-1]]
        else:
            seconds = float(raw)
    except ValueError:
        raise ConfigError(
            f"{name}={text!r} is not a duration; use e.g. 90s, 15m, 12h or 7d.") from None
    if seconds < 0:
        raise ConfigError(f"{name} must not be negative.")
    return seconds


@dataclass(frozen=True)
class Settings:
    """Every setting of the app and the ``gsig`` command. See the README for the table."""

    sources: tuple[str, ...] = ("simulator",)
    route_crypto: tuple[str, ...] = ("binance", "yahoo")
    route_equity: tuple[str, ...] = ("polygon", "alpaca", "yahoo")
    watchlist: tuple[str, ...] = DEFAULT_WATCHLIST
    sim_seed: int = 42
    sim_tick_rate: float = 3.0
    sim_market_hours: bool = False
    replay_path: str = ""
    replay_speed: float = 1.0
    data_dir: str = "data"
    database_url: str = field(default="", repr=False)
    redis_url: str = field(default="", repr=False)
    redis_stream_maxlen: int = 10_000
    tick_retention_s: float = 7 * 86400.0
    store_enabled: bool = True
    binance_url: str = "wss://stream.binance.com:9443"
    polygon_url: str = "wss://socket.massive.com/stocks"
    alpaca_url: str = "wss://stream.data.alpaca.markets/v2/iex"
    binance_rest_url: str = "https://api.binance.com"
    polygon_rest_url: str = "https://api.polygon.io"
    alpaca_data_url: str = "https://data.alpaca.markets"
    yahoo_poll_s: float = 5.0
    stale_after_s: float = 5.0
    failback_after_s: float = 30.0
    max_deviation: float = 0.02
    reconnect_initial_s: float = 5.0
    reconnect_factor: float = 1.5
    reconnect_cap_s: float = 30.0
    secrets: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def effective_database_url(self) -> str:
        """``GS_DATABASE_URL`` or a SQLite file in ``GS_DATA_DIR``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{Path(self.data_dir) / 'goldensignals.db'}"

    def secret(self, name: str) -> str:
        """A secret by its GS_ name (e.g. ``GS_POLYGON_API_KEY``); empty when not set."""
        return self.secrets.get(name, "")

    def describe(self) -> dict[str, str]:
        """Non-secret settings as text, for the sidebar and ``gsig``; URLs lose their password."""
        out = {}
        for f in fields(self):
            if f.name == "secrets":
                continue
            value = getattr(self, f.name)
            if f.name.endswith("_url") and value:
                value = redact_url(value)
            out[f.name] = ",".join(value) if isinstance(value, tuple) else str(value)
        return out


_SECRET_PARAMS = ("password", "pass", "pwd", "secret", "token", "key", "apikey", "api_key")


def url_secrets(url: str) -> list[str]:
    """The secret parts of a URL: the password in the userinfo and secret query parameters."""
    parts = urlsplit(url)
    found = [parts.password] if parts.password else []
    if not parts.password and parts.username and "@" in parts.netloc:
        found.append(parts.username)  # redis://token@host: a lone userinfo is a secret
    found += [v for k, v in parse_qsl(parts.query) if k.lower() in _SECRET_PARAMS and v]
    return found


def redact_url(url: str) -> str:
    """A URL safe to show: ``redis://user:pw@host/0?password=x`` -> ``redis://user:***@host/0?password=***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    netloc = parts.netloc
    if "@" in netloc:
        cred, host = netloc.rsplit("@", 1)
        netloc = f"{cred.split(':', 1)[0]}:***@{host}" if ":" in cred else f"***@{host}"
    query = "&".join(f"{k}=***" if k.lower() in _SECRET_PARAMS else f"{k}={v}"
                     for k, v in parse_qsl(parts.query, keep_blank_values=True))
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _read_secrets(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    return {str(k).upper(): str(v) for k, v in data.items() if not isinstance(v, dict)}


def _bool(raw: str, name: str) -> bool:
    low = raw.strip().lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{name}={raw!r} is not true/false.")


def _number(raw: str, name: str, kind: type) -> float | int:
    try:
        return kind(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a {kind.__name__}.") from None


def load_settings(
    env: Mapping[str, str] | None = None, secrets_path: str | Path | None = None
) -> Settings:
    """Build :class:`Settings` from the environment and secrets.toml (environment wins)."""
    env = os.environ if env is None else env
    path = Path(secrets_path) if secrets_path else Path(".streamlit") / "secrets.toml"
    merged: dict[str, str] = {k: v for k, v in _read_secrets(path).items() if k.startswith("GS_")}
    merged.update({k: v for k, v in env.items() if k.startswith("GS_")})

    def get(name: str) -> str | None:
        value = merged.get(name)
        return value if value not in (None, "") else None

    kwargs = _typed_settings(get)
    _check_ranges(kwargs)
    if "replay" in kwargs.get("sources", ()) and not kwargs.get("replay_path"):
        raise ConfigError("GS_SOURCE=replay needs GS_REPLAY_PATH (a CSV or Parquet file).")
    secrets = {k: v for k, v in merged.items() if k.endswith(("_KEY", "_SECRET", "_TOKEN"))}
    return Settings(secrets=secrets, **kwargs)  # type: ignore[arg-type]


_RANGES = {  # attribute: (env name, lowest allowed, highest allowed)
    "stale_after_s": ("GS_STALE_AFTER_S", 0.1, 86_400.0),
    "failback_after_s": ("GS_FAILBACK_AFTER_S", 0.0, 86_400.0),
    "max_deviation": ("GS_MAX_DEVIATION", 1e-6, 1.0),
    "yahoo_poll_s": ("GS_YAHOO_POLL_S", 1.0, 3_600.0),
    "reconnect_initial_s": ("GS_RECONNECT_INITIAL_S", 0.01, 3_600.0),
    "reconnect_factor": ("GS_RECONNECT_FACTOR", 1.0, 10.0),
    "reconnect_cap_s": ("GS_RECONNECT_CAP_S", 0.01, 86_400.0),
    "redis_stream_maxlen": ("GS_REDIS_STREAM_MAXLEN", 1, 10_000_000),
}


def _check_ranges(kwargs: Mapping[str, object]) -> None:
    for attr, (env_name, low, high) in _RANGES.items():
        value = kwargs.get(attr)
        if value is not None and not (low <= value <= high):  # type: ignore[operator]
            raise ConfigError(f"{env_name}={value} is out of range; use {low:g} to {high:g}.")


def _source_list(raw: str, name: str) -> tuple[str, ...]:
    names = tuple(s.strip().lower() for s in raw.split(",") if s.strip())
    unknown = [s for s in names if s not in SOURCES]
    if unknown or not names:
        raise ConfigError(f"{name}={raw!r}: {', '.join(unknown) or 'empty'} is not a known source; "
                          f"use a comma-separated list of {', '.join(SOURCES)}.")
    return names


def _typed_settings(get: Callable[[str], str | None]) -> dict[str, object]:
    kwargs: dict[str, object] = {}
    for env_name, attr in (("GS_SOURCE", "sources"), ("GS_ROUTE_CRYPTO", "route_crypto"),
                           ("GS_ROUTE_EQUITY", "route_equity")):
        if (v := get(env_name)) is not None:
            kwargs[attr] = _source_list(v, env_name)
    if (v := get("GS_WATCHLIST")) is not None:
        from core.symbols import normalize_symbol

        kwargs["watchlist"] = tuple(normalize_symbol(s) for s in v.split(",") if s.strip())
    numbers = {
        "GS_SIM_SEED": ("sim_seed", int), "GS_SIM_TICK_RATE": ("sim_tick_rate", float),
        "GS_REPLAY_SPEED": ("replay_speed", float),
        "GS_REDIS_STREAM_MAXLEN": ("redis_stream_maxlen", int),
        "GS_YAHOO_POLL_S": ("yahoo_poll_s", float), "GS_STALE_AFTER_S": ("stale_after_s", float),
        "GS_FAILBACK_AFTER_S": ("failback_after_s", float),
        "GS_MAX_DEVIATION": ("max_deviation", float),
        "GS_RECONNECT_INITIAL_S": ("reconnect_initial_s", float),
        "GS_RECONNECT_FACTOR": ("reconnect_factor", float),
        "GS_RECONNECT_CAP_S": ("reconnect_cap_s", float),
    }
    for env_name, (attr, kind) in numbers.items():
        if (v := get(env_name)) is not None:
            kwargs[attr] = _number(v, env_name, kind)
    texts = {
        "GS_REPLAY_PATH": "replay_path", "GS_DATA_DIR": "data_dir",
        "GS_DATABASE_URL": "database_url", "GS_REDIS_URL": "redis_url",
        "GS_BINANCE_URL": "binance_url", "GS_POLYGON_URL": "polygon_url",
        "GS_ALPACA_URL": "alpaca_url", "GS_BINANCE_REST_URL": "binance_rest_url",
        "GS_POLYGON_REST_URL": "polygon_rest_url", "GS_ALPACA_DATA_URL": "alpaca_data_url",
    }
    for env_name, attr in texts.items():
        if (v := get(env_name)) is not None:
            kwargs[attr] = v.strip()
    for env_name, attr in (("GS_SIM_MARKET_HOURS", "sim_market_hours"),
                           ("GS_STORE_ENABLED", "store_enabled")):
        if (v := get(env_name)) is not None:
            kwargs[attr] = _bool(v, env_name)
    if (v := get("GS_TICK_RETENTION")) is not None:
        kwargs["tick_retention_s"] = parse_duration(v, "GS_TICK_RETENTION")
    return kwargs
