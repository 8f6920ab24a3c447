"""The simulator's universe: symbols it knows, with realistic starting prices and volatilities."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    """How the simulator trades one symbol.

    ``vol`` is the annualised volatility, ``spread_bps`` the typical bid/ask spread in basis points,
    ``lot`` the typical trade size (shares or coins).
    """

    symbol: str
    name: str
    asset_class: str  # "equity" | "etf" | "index" | "crypto"
    price: float
    vol: float
    spread_bps: float
    lot: float
    tick_size: float = 0.01

    @property
    def trades_24_7(self) -> bool:
        """Crypto trades around the clock; everything else follows the exchange session."""
        return self.asset_class == "crypto"


def _eq(sym: str, name: str, price: float, vol: float, spread: float = 2.0, lot: float = 100,
        cls: str = "equity") -> SymbolSpec:
    return SymbolSpec(sym, name, cls, price, vol, spread, lot)


def _cx(sym: str, name: str, price: float, vol: float, tick: float, lot: float) -> SymbolSpec:
    return SymbolSpec(sym, name, "crypto", price, vol, 1.5, lot, tick)


_SPECS = [
    _eq("AAPL", "Apple", 232.50, 0.26, 1.0), _eq("MSFT", "Microsoft", 428.10, 0.24, 1.0),
    _eq("NVDA", "NVIDIA", 141.20, 0.48, 1.0), _eq("AMZN", "Amazon", 201.40, 0.32, 1.0),
    _eq("GOOGL", "Alphabet A", 172.80, 0.29, 1.0), _eq("GOOG", "Alphabet C", 174.10, 0.29, 1.0),
    _eq("META", "Meta Platforms", 585.30, 0.36, 1.5), _eq("TSLA", "Tesla", 248.90, 0.58, 1.5),
    _eq("BRK.B", "Berkshire Hathaway B", 462.70, 0.17), _eq("JPM", "JPMorgan Chase", 224.30, 0.23),
    _eq("V", "Visa", 289.60, 0.20), _eq("MA", "Mastercard", 512.40, 0.21),
    _eq("UNH", "UnitedHealth", 561.20, 0.27), _eq("XOM", "Exxon Mobil", 118.70, 0.24),
    _eq("JNJ", "Johnson & Johnson", 156.30, 0.16), _eq("PG", "Procter & Gamble", 168.90, 0.16),
    _eq("HD", "Home Depot", 401.50, 0.22), _eq("COST", "Costco", 902.10, 0.21),
    _eq("AVGO", "Broadcom", 168.40, 0.45, 1.5), _eq("AMD", "AMD", 152.60, 0.50, 1.5),
    _eq("INTC", "Intel", 22.80, 0.45, 4.0), _eq("NFLX", "Netflix", 752.30, 0.38),
    _eq("CRM", "Salesforce", 289.10, 0.33), _eq("ORCL", "Oracle", 176.50, 0.32),
    _eq("ADBE", "Adobe", 512.80, 0.33), _eq("DIS", "Walt Disney", 96.40, 0.27),
    _eq("KO", "Coca-Cola", 64.20, 0.15), _eq("PEP", "PepsiCo", 163.70, 0.16),
    _eq("WMT", "Walmart", 82.90, 0.18), _eq("BAC", "Bank of America", 41.60, 0.28),
    _eq("GS", "Goldman Sachs", 521.70, 0.28), _eq("PLTR", "Palantir", 42.30, 0.70, 3.0),
    _eq("COIN", "Coinbase", 201.80, 0.80, 3.0), _eq("UBER", "Uber", 76.20, 0.40),
    _eq("SPY", "SPDR S&P 500 ETF", 571.40, 0.15, 0.3, cls="etf"),
    _eq("QQQ", "Invesco QQQ", 489.70, 0.19, 0.4, cls="etf"),
    _eq("IWM", "iShares Russell 2000", 221.30, 0.22, 0.6, cls="etf"),
    _eq("DIA", "SPDR Dow Jones ETF", 421.80, 0.14, 0.6, cls="etf"),
    _eq("TLT", "iShares 20+ Year Treasury", 93.10, 0.15, 1.0, cls="etf"),
    _eq("GLD", "SPDR Gold Shares", 245.60, 0.14, 0.8, cls="etf"),
    _eq("XLF", "Financial Select SPDR", 46.20, 0.18, 2.0, cls="etf"),
    _eq("XLK", "Technology Select SPDR", 231.40, 0.22, 1.0, cls="etf"),
    _eq("VTI", "Vanguard Total Market", 283.50, 0.15, 0.6, cls="etf"),
    _eq("^GSPC", "S&P 500 Index", 5712.60, 0.15, 0.5, 0, "index"),
    _eq("^NDX", "Nasdaq 100 Index", 20134.10, 0.19, 0.5, 0, "index"),
    _eq("^DJI", "Dow Jones Industrial Average", 42180.30, 0.14, 0.5, 0, "index"),
    _eq("^VIX", "CBOE Volatility Index", 16.80, 0.90, 10.0, 0, "index"),
    _cx("BTCUSDT", "Bitcoin / Tether", 67250.0, 0.55, 0.01, 0.02),
    _cx("ETHUSDT", "Ether / Tether", 2640.0, 0.65, 0.01, 0.5),
    _cx("SOLUSDT", "Solana / Tether", 152.30, 0.85, 0.01, 10.0),
    _cx("BNBUSDT", "BNB / Tether", 585.40, 0.55, 0.01, 2.0),
    _cx("XRPUSDT", "XRP / Tether", 0.5412, 0.75, 0.0001, 2000.0),
    _cx("DOGEUSDT", "Dogecoin / Tether", 0.1123, 0.95, 0.00001, 20000.0),
    _cx("ADAUSDT", "Cardano / Tether", 0.3521, 0.80, 0.0001, 5000.0),
    _cx("BTC-USD", "Bitcoin / US dollar", 67240.0, 0.55, 0.01, 0.02),
    _cx("ETH-USD", "Ether / US dollar", 2639.0, 0.65, 0.01, 0.5),
]

CATALOG: dict[str, SymbolSpec] = {s.symbol: s for s in _SPECS}
