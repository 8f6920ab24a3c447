"""The one symbol rule of the project.

Accepted shapes (after trimming and upper-casing):

- equities and ETFs: ``AAPL``, ``BRK.B``, ``BF-B``
- indices: ``^GSPC``, ``^VIX``
- crypto pairs: ``BTCUSDT``, ``BTC-USD``
- options in OCC form: ``AAPL240119C00150000`` (the padded 21-character form is accepted too)
"""

from __future__ import annotations

import re

from core.errors import InvalidSymbol

_EQUITY_OR_CRYPTO = r"\^?[A-Z][A-Z0-9]{0,14}(?:[.\-][A-Z0-9]{1,10})?"
_OCC_OPTION = r"[A-Z][A-Z0-9]{0,5}\d{6}[CP]\d{8}"
SYMBOL_RE = re.compile(rf"^(?:{_OCC_OPTION}|{_EQUITY_OR_CRYPTO})$")
OCC_RE = re.compile(
    r"^(?P<root>[A-Z][A-Z0-9]{0,5})(?P<expiry>\d{6})(?P<right>[CP])(?P<strike>\d{8})$"
)

_valid_cache: set[str] = set()


def is_valid_symbol(symbol: object) -> bool:
    """Return True when ``symbol`` is an already-normalised, well-formed symbol."""
    if not isinstance(symbol, str):
        return False
    if symbol in _valid_cache:
        return True
    if SYMBOL_RE.match(symbol) is None:
        return False
    if len(_valid_cache) < 100_000:
        _valid_cache.add(symbol)
    return True


def normalize_symbol(raw: object) -> str:
    """Trim, upper-case and validate a symbol typed by a user or sent by a venue.

    Raises
    ------
    InvalidSymbol
        With a message that names the input and the accepted shapes.
    """
    if not isinstance(raw, str):
        raise InvalidSymbol(f"A symbol must be text, not {type(raw).__name__}.")
    text = raw.strip().upper()
    if text.startswith("O:"):
        text = text[2:]
    compact = text.replace(" ", "")
    if OCC_RE.match(compact):
        text = compact
    if not text:
        raise InvalidSymbol("Enter a symbol, for example AAPL, BRK.B, ^GSPC or BTCUSDT.")
    if not is_valid_symbol(text):
        raise InvalidSymbol(
            f"'{raw.strip()}' is not a valid symbol. Use a ticker such as AAPL, BRK.B, ^GSPC, "
            "BTCUSDT or BTC-USD, or an OCC option such as AAPL240119C00150000."
        )
    return text


CRYPTO_QUOTES = ("USDT", "USDC", "FDUSD", "BUSD", "TUSD", "USD", "EUR", "BTC", "ETH", "BNB")
_CRYPTO_DASH = re.compile(r"^[A-Z0-9]{2,10}-(USD|USDT|EUR|BTC|ETH)$")
_CRYPTO_PAIR = re.compile(
    rf"^(?:[A-Z0-9]{{2,10}}(?:{'|'.join(CRYPTO_QUOTES[:5])})|[A-Z0-9]{{3,10}}(?:BTC|ETH|BNB))$")


def asset_class(symbol: str) -> str:
    """``crypto``, ``index``, ``option`` or ``equity`` (ETFs included), from the symbol's shape.

    Crypto pairs are recognised by their quote asset (``BTCUSDT``, ``ETHUSDC``, ``BTC-USD``).
    """
    if symbol.startswith("^"):
        return "index"
    if OCC_RE.match(symbol):
        return "option"
    if _CRYPTO_DASH.match(symbol) or _CRYPTO_PAIR.match(symbol):
        return "crypto"
    return "equity"
