"""Parameter spaces: a strategy's parameter spec, the values to try, and constraints.

A :class:`ParameterSpace` is built from a strategy's :class:`~core.backtest.strategies.Param`
spec plus user ranges (parameter name -> iterable of values). Every value is checked against its
spec once; parameters without a range keep their default. A combination is valid when it passes
the user's constraint and the strategy's own cross-parameter rules (:meth:`Strategy.check`, e.g.
``slow > fast`` for the crossovers).

Constraints are a small expression language over parameter names, parsed with :mod:`ast` against
a whitelist and never evaluated by Python's ``eval``::

    fast < slow
    fast * 2 <= slow and slow - fast >= 10
    not long_only or fast >= 5

Allowed: parameter names, numbers, ``True``/``False``, ``+ - * / // %``, unary ``-``/``+``,
comparisons (chains too: ``5 <= fast < slow``) and ``and``/``or``/``not``. Anything else (calls,
attributes, subscripts, strings...) is a :class:`~core.errors.ValidationError`. A constraint is
evaluated on whole columns of combinations at once (NumPy), or on one combination.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from core.backtest.strategies import Param, Strategy, get_strategy
from core.errors import ValidationError

__all__ = ["Constraint", "Dimension", "ParameterSpace", "parse_constraint", "parse_values"]

MAX_CONSTRAINT_LENGTH = 500
"""Longest constraint text accepted (a guard against pathological input)."""
MAX_ENUMERATION = 2_000_000
"""Largest number of combinations enumerated at once; larger spaces are only sampled."""

_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.Eq: operator.eq, ast.NotEq: operator.ne}
_ARITHMETIC: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: np.logical_not}
_BOOLEAN_NODES = (ast.Compare, ast.BoolOp)
_EXAMPLE = "e.g. 'fast < slow' or 'fast * 2 <= slow and slow < 200'"

Node = Callable[[Mapping[str, Any]], Any]


class _Compiler:
    """Turns a whitelisted expression tree into nested closures over a name -> value mapping."""

    def __init__(self, text: str, names: Sequence[str]) -> None:
        self.text = text
        self.names = tuple(names)
        self.used: set[str] = set()

    def fail(self, why: str) -> ValidationError:
        return ValidationError(f"constraint {self.text!r}: {why}")

    def compile(self, node: ast.AST) -> Node:
        if isinstance(node, ast.BoolOp):
            return self._bool_op(node)
        if isinstance(node, ast.Compare):
            return self._compare(node)
        if isinstance(node, ast.BinOp) and type(node.op) in _ARITHMETIC:
            fn, left, right = _ARITHMETIC[type(node.op)], self.compile(node.left), \
                self.compile(node.right)
            return lambda env: fn(left(env), right(env))
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            fn1, operand = _UNARY[type(node.op)], self.compile(node.operand)
            return lambda env: fn1(operand(env))
        if isinstance(node, ast.Name):
            return self._name(node)
        if isinstance(node, ast.Constant):
            return self._constant(node)
        if isinstance(node, ast.BinOp | ast.UnaryOp):  # ** is left out: 10 ** 10 ** 10 hangs
            raise self.fail(f"the operator {type(node.op).__name__} is not allowed; use + - * / "
                            "// % and comparisons.")
        raise self.fail(f"{_describe(node)} is not allowed; use parameter names, numbers, "
                        f"arithmetic, comparisons and and/or/not ({_EXAMPLE}).")

    def _bool_op(self, node: ast.BoolOp) -> Node:
        parts = [self.compile(value) for value in node.values]
        combine = np.logical_and if isinstance(node.op, ast.And) else np.logical_or

        def evaluate(env: Mapping[str, Any]) -> Any:
            out = parts[0](env)
            for part in parts[1:]:
                out = combine(out, part(env))
            return out
        return evaluate

    def _compare(self, node: ast.Compare) -> Node:
        for op in node.ops:
            if type(op) not in _COMPARE:
                raise self.fail(f"the operator {type(op).__name__} is not allowed; use <, <=, "
                                ">, >=, == or !=.")
        operands = [self.compile(node.left)] + [self.compile(c) for c in node.comparators]
        ops = [_COMPARE[type(op)] for op in node.ops]

        def evaluate(env: Mapping[str, Any]) -> Any:
            values = [operand(env) for operand in operands]
            out = ops[0](values[0], values[1])
            for k in range(1, len(ops)):
                out = np.logical_and(out, ops[k](values[k], values[k + 1]))
            return out
        return evaluate

    def _name(self, node: ast.Name) -> Node:
        name = node.id
        if name in ("True", "False"):  # pragma: no cover - parsed as constants in Python 3
            value = name == "True"
            return lambda env: value
        if name not in self.names:
            known = ", ".join(self.names) or "none"
            raise self.fail(f"unknown parameter {name!r}; the parameters are {known}.")
        self.used.add(name)
        return lambda env: env[name]

    def _constant(self, node: ast.Constant) -> Node:
        value = node.value
        if isinstance(value, bool) or (isinstance(value, int | float)
                                       and math.isfinite(float(value))):
            return lambda env: value
        raise self.fail(f"the constant {value!r} is not allowed; only numbers and True/False.")


def _describe(node: ast.AST) -> str:
    kinds = {ast.Call: "a function call", ast.Attribute: "an attribute", ast.Subscript:
             "indexing", ast.Lambda: "a lambda", ast.IfExp: "an if-expression",
             ast.NamedExpr: "an assignment", ast.Starred: "unpacking"}
    for kind, label in kinds.items():
        if isinstance(node, kind):
            return label
    return f"the syntax {type(node).__name__}"


@dataclass(frozen=True, eq=False)
class Constraint:
    """A parsed constraint: its text, the parameters it reads and its compiled evaluator.

    Build one with :func:`parse_constraint`. Calling it on a mapping of parameter name to scalar
    gives a bool; on a mapping of name to NumPy column it gives a boolean mask.
    """

    text: str
    names: tuple[str, ...]
    _evaluate: Node

    def __call__(self, values: Mapping[str, Any]) -> Any:
        """Evaluate on one combination (-> bool) or on columns (-> boolean array)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            try:
                out = self._evaluate(values)
            except ZeroDivisionError:
                return False
        if isinstance(out, np.ndarray):
            return out.astype(bool, copy=False)
        return bool(out)


def parse_constraint(text: str, names: Sequence[str]) -> Constraint:
    """Parse ``text`` into a :class:`Constraint` over the parameter ``names``, without ``eval``.

    Parameters
    ----------
    text : str
        The expression, e.g. ``"fast < slow"`` or ``"fast * 2 <= slow and slow < 200"``.
    names : sequence of str
        Parameter names the expression may use.

    Returns
    -------
    Constraint
        The parsed constraint.

    Raises
    ------
    ValidationError
        On a syntax error, an unknown name, a construct outside the whitelist (function calls,
        attributes, strings...), or an expression that is not a comparison or a boolean.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValidationError(f"a constraint must be a non-empty expression, {_EXAMPLE}.")
    text = text.strip()
    if len(text) > MAX_CONSTRAINT_LENGTH:
        raise ValidationError(f"constraint is too long ({len(text)} characters; at most "
                              f"{MAX_CONSTRAINT_LENGTH}).")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise ValidationError(f"constraint {text!r} is not a valid expression "
                              f"({exc.msg}); {_EXAMPLE}.") from None
    body = tree.body
    is_bool = isinstance(body, _BOOLEAN_NODES) or (
        isinstance(body, ast.UnaryOp) and isinstance(body.op, ast.Not)) or (
        isinstance(body, ast.Constant) and isinstance(body.value, bool))
    compiler = _Compiler(text, names)
    evaluate = compiler.compile(body)  # raises on any construct outside the whitelist
    if not is_bool:
        raise ValidationError(f"constraint {text!r} must be a comparison or a combination of "
                              f"comparisons, {_EXAMPLE}.")
    return Constraint(text=text, names=tuple(sorted(compiler.used)), _evaluate=evaluate)


def parse_values(text: str, spec: Param) -> list[Any]:
    """Values of one parameter from command-line text.

    Comma-separated items, each a number or an inclusive range ``START:STOP[:STEP]``
    (``5:50:5`` -> 5, 10, ..., 50; the step defaults to 1), e.g. ``2,3,10:50:10``; booleans take
    ``true``/``false`` (or ``both``).

    Parameters
    ----------
    text : str
        The values as typed.
    spec : Param
        The parameter's spec (type and bounds).

    Returns
    -------
    list
        The values, in order (not yet checked against the spec's bounds).

    Raises
    ------
    ValidationError
        On text that is not a list of numbers and ranges (or of booleans).
    """
    raw = text.strip()
    if spec.type is bool:
        if raw.lower() == "both":
            return [False, True]
        words = [w.strip().lower() for w in raw.split(",")]
        if not all(w in ("true", "false") for w in words):
            raise ValidationError(f"{spec.name} takes true, false or both (got {text!r}).")
        return [w == "true" for w in words]
    values: list[Any] = []
    for item in raw.split(","):
        if ":" in item:
            values += _range_values(item.strip(), spec)
            continue
        try:
            values.append(_number(item, spec))
        except ValueError:
            raise ValidationError(f"{spec.name}: {text!r} is not a list of numbers and ranges "
                                  "START:STOP[:STEP], e.g. 5:50:5 or 2,3,10:50:10.") from None
    return values


def _number(text: str, spec: Param) -> int | float:
    value = float(text.strip())
    if spec.type is int and value.is_integer():
        return int(value)
    return value


def _range_values(raw: str, spec: Param) -> list[Any]:
    parts = raw.split(":")
    try:
        if len(parts) not in (2, 3):
            raise ValueError
        start, stop = _number(parts[0], spec), _number(parts[1], spec)
        step = _number(parts[2], spec) if len(parts) == 3 else 1
    except ValueError:
        raise ValidationError(f"{spec.name}: {raw!r} is not a range START:STOP[:STEP], e.g. "
                              "5:50:5.") from None
    if not step > 0 or stop < start:
        raise ValidationError(f"{spec.name}: the range {raw!r} needs STOP >= START and a "
                              "positive STEP.")
    count = int(math.floor((stop - start) / step + 1e-9)) + 1
    if count > 100_000:
        raise ValidationError(f"{spec.name}: the range {raw!r} has {count:,} values; use a "
                              "larger step.")
    values = [start + k * step for k in range(count)]
    if spec.type is float:
        values = [round(v, 12) for v in values]
    return values


@dataclass(frozen=True)
class Dimension:
    """One varied parameter: its spec and the values to try, in the order given."""

    spec: Param
    values: tuple[Any, ...]

    @property
    def name(self) -> str:
        """The parameter name."""
        return self.spec.name

    def __len__(self) -> int:
        return len(self.values)


def _dimension(strategy: type[Strategy], spec: Param, values: Iterable[Any]) -> Dimension:
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise ValidationError(f"{strategy.name}: the values of {spec.name} must be a list or "
                              f"range of values (got {values!r}).")
    seen: dict[Any, None] = {}
    for value in values:
        seen.setdefault(spec.coerce(value, strategy.name), None)  # dedupe, keep order
    if not seen:
        raise ValidationError(f"{strategy.name}: no values to try for {spec.name}.")
    return Dimension(spec=spec, values=tuple(seen))


class ParameterSpace:
    """The combinations of a strategy's parameters to try.

    Parameters
    ----------
    strategy : str or Strategy subclass
        A registered strategy name or class.
    grid : mapping of str to iterable
        Values to try per parameter; parameters left out keep their defaults.
    constraint : str, Constraint or callable, optional
        A constraint expression (see the module docstring), a parsed :class:`Constraint`, or a
        function of one combination (a dict) returning a bool.

    Raises
    ------
    ValidationError
        On an unknown strategy or parameter, an empty or invalid list of values, or a bad
        constraint.
    """

    def __init__(self, strategy: str | type[Strategy], grid: Mapping[str, Iterable[Any]],
                 constraint: str | Constraint | Callable[[dict[str, Any]], bool] | None = None
                 ) -> None:
        self.strategy: type[Strategy] = get_strategy(strategy)
        specs = {spec.name: spec for spec in self.strategy.params}
        if not isinstance(grid, Mapping) or not grid:
            raise ValidationError(f"{self.strategy.name}: give at least one parameter to vary, "
                                  f"e.g. {{'fast': range(5, 50, 5)}}.")
        unknown = sorted(set(grid) - set(specs))
        if unknown:
            raise ValidationError(
                f"{self.strategy.name}: unknown parameter {', '.join(map(str, unknown))} "
                f"(expected: {', '.join(specs) or 'none'}).")
        self.dimensions: tuple[Dimension, ...] = tuple(
            _dimension(self.strategy, specs[name], grid[name]) for name in specs if name in grid)
        self.fixed: dict[str, Any] = {name: spec.default for name, spec in specs.items()
                                      if name not in grid}
        self.names: tuple[str, ...] = tuple(d.name for d in self.dimensions)
        if isinstance(constraint, str):
            constraint = parse_constraint(constraint, tuple(specs))
        self.constraint = constraint

    @property
    def size(self) -> int:
        """Number of combinations before constraints (the product of the value counts)."""
        return math.prod(len(d) for d in self.dimensions)

    def params(self, combination: Mapping[str, Any]) -> dict[str, Any]:
        """Every parameter of the strategy for one combination (fixed ones at their defaults)."""
        return {spec.name: combination.get(spec.name, self.fixed.get(spec.name))
                for spec in self.strategy.params}

    def is_valid(self, combination: Mapping[str, Any]) -> bool:
        """Whether one combination passes the constraint and the strategy's own rules."""
        full = self.params(combination)
        if self.constraint is not None and not self.constraint(full):
            return False
        try:
            self.strategy.check(full)
        except ValidationError:
            return False
        return True

    def from_genes(self, genes: Sequence[int]) -> dict[str, Any]:
        """The combination at value indices ``genes`` (one index per dimension)."""
        return {d.name: d.values[g] for d, g in zip(self.dimensions, genes, strict=True)}

    def grid(self) -> pd.DataFrame:
        """Every valid combination, one row each, columns :attr:`names`, in grid order.

        Raises
        ------
        ValidationError
            If the space is larger than :data:`MAX_ENUMERATION` or no combination is valid.
        """
        if self.size > MAX_ENUMERATION:
            raise ValidationError(
                f"{self.strategy.name}: the grid has {self.size:,} combinations (at most "
                f"{MAX_ENUMERATION:,} are enumerated); use fewer values or a random or "
                "genetic search.")
        codes = np.indices([len(d) for d in self.dimensions]).reshape(len(self.dimensions), -1)
        return self._valid_rows(codes)

    def sample(self, n: int, seed: int = 0) -> pd.DataFrame:
        """``n`` distinct valid combinations drawn uniformly at random (all of them if fewer).

        Parameters
        ----------
        n : int
            How many to draw.
        seed : int
            Seed of ``numpy.random.default_rng``; the same seed gives the same sample.

        Returns
        -------
        pandas.DataFrame
            The combinations, columns :attr:`names`, in the order drawn.
        """
        n = _positive(n, "n")
        rng = np.random.default_rng(seed)
        if self.size <= MAX_ENUMERATION:
            valid = self.grid()
            if n >= len(valid):
                return valid
            picks = rng.choice(len(valid), size=n, replace=False)
            return valid.iloc[picks].reset_index(drop=True)
        return self._rejection_sample(n, rng)

    def _rejection_sample(self, n: int, rng: np.random.Generator) -> pd.DataFrame:
        sizes = np.array([len(d) for d in self.dimensions])
        chosen: dict[tuple[int, ...], None] = {}
        for _ in range(200):
            codes = rng.integers(0, sizes, size=(max(4 * n, 64), len(sizes))).T
            rows = self._valid_rows(codes)
            for row in rows.itertuples(index=False, name=None):
                key = tuple(d.values.index(v) for d, v in zip(self.dimensions, row, strict=True))
                chosen.setdefault(key, None)
                if len(chosen) == n:
                    return pd.DataFrame([self.from_genes(k) for k in chosen], columns=self.names)
        if not chosen:
            raise ValidationError(f"{self.strategy.name}: no valid combination found; check "
                                  "the constraint.")
        return pd.DataFrame([self.from_genes(k) for k in chosen], columns=self.names)

    def random_genes(self, rng: np.random.Generator, attempts: int = 1000) -> tuple[int, ...]:
        """Value indices of one valid combination drawn at random (rejection sampling).

        Raises
        ------
        ValidationError
            When ``attempts`` draws find no valid combination.
        """
        for _ in range(attempts):
            genes = tuple(int(rng.integers(len(d))) for d in self.dimensions)
            if self.is_valid(self.from_genes(genes)):
                return genes
        raise ValidationError(f"{self.strategy.name}: no valid combination found in {attempts} "
                              "random draws; check the constraint.")

    def _valid_rows(self, codes: np.ndarray) -> pd.DataFrame:
        """Rows of the value indices ``codes`` (one row of indices per dimension) that are valid."""
        columns = {d.name: np.asarray(d.values)[codes[k]] for k, d in enumerate(self.dimensions)}
        keep = np.ones(codes.shape[1], dtype=bool)
        if isinstance(self.constraint, Constraint):
            env = {name: np.full(codes.shape[1], value) for name, value in self.fixed.items()}
            env.update(columns)
            keep &= np.broadcast_to(self.constraint(env), keep.shape)
        frame = pd.DataFrame({name: col[keep] for name, col in columns.items()},
                             columns=list(self.names))
        ok = [self._passes(row) for row in frame.itertuples(index=False, name=None)]
        frame = frame[np.asarray(ok, dtype=bool)].reset_index(drop=True)
        if frame.empty:
            raise ValidationError(
                f"{self.strategy.name}: no combination of {', '.join(self.names)} is valid"
                + (f" under the constraint {self.constraint.text!r}"
                   if isinstance(self.constraint, Constraint) else "")
                + " (the strategy's own rules apply too, e.g. slow > fast).")
        return frame

    def _passes(self, row: tuple[Any, ...]) -> bool:
        combination = dict(zip(self.names, row, strict=True))
        full = self.params(combination)
        if self.constraint is not None and not isinstance(self.constraint, Constraint) \
                and not self.constraint(full):
            return False
        try:
            self.strategy.check(full)
        except ValidationError:
            return False
        return True

    def __repr__(self) -> str:
        dims = ", ".join(f"{d.name}: {len(d)} values" for d in self.dimensions)
        text = f" where {self.constraint.text}" if isinstance(self.constraint, Constraint) else ""
        return f"ParameterSpace({self.strategy.name}; {dims}{text})"


def _positive(n: Any, name: str) -> int:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValidationError(f"{name} must be a whole number >= 1 (got {n!r}).")
    return int(n)

