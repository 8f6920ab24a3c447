"""User-facing error hierarchy.

Every message is written for the person who will read it in the app or the CLI: it says what went
wrong and what to do. Pages show ``str(err)`` with ``st.error``; the CLI prints it and exits
non-zero.
"""

from __future__ import annotations


class GSError(Exception):
    """Base class for errors whose message is meant for a user."""


class InvalidSymbol(GSError, ValueError):
    """A symbol that does not have the shape of any ticker we support."""


class UnknownSymbol(GSError, LookupError):
    """A well-formed symbol that the active market data source does not know."""


class ValidationError(GSError, ValueError):
    """A market data event or input value that breaks a rule (negative price, bid above ask...)."""


class ConfigError(GSError):
    """A GS_* setting or secrets.toml value that cannot be used."""


class FeedError(GSError):
    """A market data source failed (connection, protocol, file)."""


class BusError(GSError):
    """The message bus (in-memory or Redis) could not deliver or receive."""


class StoreError(GSError):
    """The database could not be read or written."""


class DataError(GSError, ValueError):
    """Input data (CSV, Parquet, DataFrame) is malformed."""
