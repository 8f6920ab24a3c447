"""History downloaders, one per source, behind one protocol (:mod:`core.data.sources.base`).

:func:`~core.data.sources.registry.build_sources` builds the configured ones and
:func:`~core.data.sources.registry.sources_for` orders them for a symbol.
"""

from core.data.sources.base import (
    CredentialsRejected,
    HistorySource,
    SourceUnavailable,
    SymbolNotFound,
)

__all__ = ["CredentialsRejected", "HistorySource", "SourceUnavailable", "SymbolNotFound"]
