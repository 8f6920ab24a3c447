"""Parameter spaces: the safe constraint language, value parsing, enumeration and sampling."""

from __future__ import annotations

import numpy as np
import pytest

from core.backtest.strategies import STRATEGIES
from core.errors import ValidationError
from core.research import space as space_module
from core.research.space import ParameterSpace, parse_constraint, parse_values

NAMES = ("fast", "slow", "long_only")
SPECS = {p.name: p for p in STRATEGIES["sma_cross"].params}


@pytest.mark.parametrize(("text", "values", "expected"), [
    ("fast < slow", {"fast": 5, "slow": 20}, True),
    ("fast < slow", {"fast": 20, "slow": 20}, False),
    ("fast * 2 <= slow", {"fast": 10, "slow": 20}, True),
    ("fast * 2 <= slow and slow - fast >= 15", {"fast": 10, "slow": 20}, False),
    ("5 <= fast < slow <= 100", {"fast": 5, "slow": 100}, True),
    ("5 <= fast < slow <= 100", {"fast": 4, "slow": 100}, False),
    ("fast % 5 == 0 or slow // fast > 3", {"fast": 3, "slow": 13}, True),
    ("not long_only and -fast < 0", {"fast": 3, "long_only": False}, True),
    ("fast / (slow - slow) > 1", {"fast": 3, "slow": 4}, False),  # division by zero: invalid
    ("True", {}, True),
])
def test_constraints_evaluate_on_one_combination(text: str, values: dict, expected: bool) -> None:
    assert parse_constraint(text, NAMES)(values) is expected


def test_constraints_evaluate_on_whole_columns() -> None:
    rule = parse_constraint("fast * 2 <= slow and not long_only", NAMES)
    out = rule({"fast": np.array([5, 10, 10]), "slow": np.array([10, 15, 30]),
                "long_only": np.array([False, False, True])})
    assert out.dtype == bool and out.tolist() == [True, False, False]
    assert rule.names == ("fast", "long_only", "slow")


def test_unknown_names_are_reported_with_the_valid_ones() -> None:
    with pytest.raises(ValidationError, match=r"unknown parameter 'fsat'.*fast, slow, long_only"):
        parse_constraint("fsat < slow", NAMES)


@pytest.mark.parametrize(("text", "why"), [
    ("__import__('os')", "function call"),
    ("__import__('os').system('echo pwned')", "not allowed"),
    ("fast.__class__ == 1", "attribute"),
    ("().__class__.__bases__[0] == 1", "indexing"),
    ("fast[0] < slow", "indexing"),
    ("(lambda: 1)() == 1", "function call"),
    ("open('/etc/passwd') == 1", "function call"),
    ("fast if slow else 1", "if-expression"),
    ("(fast := 3) < slow", "assignment"),
    ("'a' < 'b'", "constant 'a'"),
    ("[x for x in (1, 2)] == 1", "not allowed"),
    ("fast in (1, 2)", "operator In"),
    ("fast is slow", "operator Is"),
    ("fast < slow; import os", "not a valid expression"),
    ("fast <", "not a valid expression"),
    ("fast + slow", "must be a comparison"),
    ("fast ** 1000 < slow", "operator Pow"),
    ("~fast < slow", "operator Invert"),
    ("", "non-empty"),
])
def test_anything_outside_the_whitelist_is_rejected(text: str, why: str) -> None:
    with pytest.raises(ValidationError, match="constraint") as err:
        parse_constraint(text, NAMES)
    assert why in str(err.value)


def test_very_long_constraints_are_rejected() -> None:
    with pytest.raises(ValidationError, match="too long"):
        parse_constraint(" and ".join(["fast < slow"] * 100), NAMES)


@pytest.mark.parametrize(("text", "spec", "expected"), [
    ("5:50:5", "fast", list(range(5, 51, 5))),
    ("2:4", "fast", [2, 3, 4]),
    ("5,10, 20", "slow", [5, 10, 20]),
    ("2,3,10:30:10", "slow", [2, 3, 10, 20, 30]),
    ("10.0", "fast", [10]),
    ("both", "long_only", [False, True]),
    ("true", "long_only", [True]),
])
def test_command_line_values(text: str, spec: str, expected: list) -> None:
    assert parse_values(text, SPECS[spec]) == expected


@pytest.mark.parametrize(("text", "spec"), [
    ("5:a", "fast"), ("50:5", "fast"), ("5:50:0", "fast"), ("1:2:3:4", "fast"), ("x,y", "slow"),
    ("maybe", "long_only"), ("1:10000000", "fast")])
def test_bad_command_line_values(text: str, spec: str) -> None:
    with pytest.raises(ValidationError, match=spec):
        parse_values(text, SPECS[spec])


def test_grid_keeps_valid_combinations_in_order() -> None:
    space = ParameterSpace("sma_cross", {"fast": [10, 5, 5], "slow": range(5, 25, 5)},
                           "fast * 2 <= slow")
    assert space.names == ("fast", "slow") and space.size == 8  # duplicates dropped
    assert space.fixed == {"long_only": False}
    grid = space.grid()
    assert list(grid.columns) == ["fast", "slow"]
    assert [tuple(r) for r in grid.itertuples(index=False)] == [(10, 20), (5, 10), (5, 15),
                                                                 (5, 20)]
    assert space.params({"fast": 5, "slow": 10}) == {"fast": 5, "slow": 10, "long_only": False}


def test_the_strategy_rules_apply_without_a_constraint() -> None:
    grid = ParameterSpace("sma_cross", {"fast": range(2, 6), "slow": range(2, 6)}).grid()
    assert (grid["fast"] < grid["slow"]).all() and len(grid) == 6  # slow > fast, always


def test_a_constraint_may_read_fixed_parameters_and_take_callables() -> None:
    fixed = ParameterSpace("sma_cross", {"fast": range(10, 40, 10)}, "fast < slow").grid()
    assert fixed["fast"].tolist() == [10, 20]  # slow stays at its default, 30
    odd = ParameterSpace("sma_cross", {"fast": range(2, 8), "slow": [10]},
                         lambda p: p["fast"] % 2 == 1).grid()
    assert odd["fast"].tolist() == [3, 5, 7]


@pytest.mark.parametrize(("grid", "constraint", "match"), [
    ({"fats": [1]}, None, "unknown parameter fats"),
    ({}, None, "at least one parameter"),
    ({"fast": []}, None, "no values"),
    ({"fast": "10"}, None, "list or range"),
    ({"fast": [10.5]}, None, "whole number"),
    ({"fast": [0]}, None, "at least 1"),
    ({"fast": [50], "slow": [10]}, None, "no combination"),
    ({"fast": [5], "slow": [10]}, "slow < fast", "under the constraint"),
])
def test_bad_spaces(grid: dict, constraint: str | None, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        ParameterSpace("sma_cross", grid, constraint).grid()


def test_samples_are_distinct_valid_and_seeded() -> None:
    space = ParameterSpace("sma_cross", {"fast": range(2, 30), "slow": range(5, 60)},
                           "fast * 2 <= slow")
    first, again = space.sample(40, seed=3), space.sample(40, seed=3)
    assert first.equals(again) and not first.equals(space.sample(40, seed=4))
    assert len(first.drop_duplicates()) == 40 and (first["fast"] * 2 <= first["slow"]).all()
    everything = space.sample(10_000, seed=0)
    assert len(everything) == len(space.grid())
    with pytest.raises(ValidationError, match="whole number"):
        space.sample(0)


def test_huge_spaces_are_sampled_without_enumeration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(space_module, "MAX_ENUMERATION", 1_000)
    space = ParameterSpace("sma_cross", {"fast": range(1, 200), "slow": range(2, 200)},
                           "slow >= fast + 50")
    with pytest.raises(ValidationError, match="random or genetic"):
        space.grid()
    sample = space.sample(25, seed=1)
    assert sample.equals(space.sample(25, seed=1))
    assert len(sample.drop_duplicates()) == 25 and (sample["slow"] >= sample["fast"] + 50).all()


def test_random_genes_respect_the_rules() -> None:
    space = ParameterSpace("sma_cross", {"fast": range(2, 50), "slow": range(2, 50)},
                           "slow >= 3 * fast")
    rng = np.random.default_rng(0)
    for _ in range(20):
        params = space.from_genes(space.random_genes(rng))
        assert params["slow"] >= 3 * params["fast"] and space.is_valid(params)
    assert not space.is_valid({"fast": 10, "slow": 20})
    impossible = ParameterSpace("sma_cross", {"fast": [5], "slow": [10]}, "fast > 100")
    with pytest.raises(ValidationError, match="no valid combination"):
        impossible.random_genes(rng, attempts=5)
