"""The built-in simulated market, the default source."""

from core.feeds.simulator.catalog import CATALOG, SymbolSpec
from core.feeds.simulator.client import SimulatorSource
from core.feeds.simulator.config import SimulatorConfig
from core.feeds.simulator.engine import MarketSimulator

__all__ = ["CATALOG", "MarketSimulator", "SimulatorConfig", "SimulatorSource", "SymbolSpec"]
