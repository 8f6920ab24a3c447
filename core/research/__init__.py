"""Research: parameter optimisation, walk-forward analysis and Monte Carlo.

``from core.research import grid_search, walk_forward, monte_carlo`` (and ``random_search``,
``genetic_search``, ``stress_test``); see :mod:`core.research.optimize`,
:mod:`core.research.walkforward`, :mod:`core.research.montecarlo` and
:mod:`core.research.stress`. Engines here are pure and seeded; heavy jobs go through
:mod:`core.compute`.
"""

from core.research.montecarlo import MonteCarloResult as MonteCarloResult
from core.research.montecarlo import monte_carlo as monte_carlo
from core.research.optimize import SearchResult as SearchResult
from core.research.optimize import genetic_search as genetic_search
from core.research.optimize import grid_search as grid_search
from core.research.optimize import random_search as random_search
from core.research.stress import stress_test as stress_test
from core.research.walkforward import WalkForwardResult as WalkForwardResult
from core.research.walkforward import walk_forward as walk_forward
