"""Research: parameter optimisation (and, next to it, walk-forward analysis and Monte Carlo).

``from core.research import grid_search, random_search, genetic_search``; see
:mod:`core.research.optimize`. Engines here are pure and seeded; heavy jobs go through
:mod:`core.compute`.
"""

from core.research.optimize import SearchResult as SearchResult
from core.research.optimize import genetic_search as genetic_search
from core.research.optimize import grid_search as grid_search
from core.research.optimize import random_search as random_search
