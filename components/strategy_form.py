"""Widgets generated from a strategy's parameter spec."""

from __future__ import annotations

from typing import Any

import streamlit as st

from core.backtest.strategies import Strategy


def param_inputs(strategy: type[Strategy], key: str) -> dict[str, Any]:
    """One input per parameter (number or checkbox), with its bounds, default and help."""
    values: dict[str, Any] = {}
    cols = st.columns(min(3, max(1, len(strategy.params))))
    for i, spec in enumerate(strategy.params):
        col = cols[i % len(cols)]
        widget_key = f"{key}.{strategy.name}.{spec.name}"
        label = spec.name.replace("_", " ")
        if spec.type is bool:
            values[spec.name] = col.checkbox(label, value=bool(spec.default), help=spec.help,
                                             key=widget_key)
        elif spec.type is int:
            values[spec.name] = int(col.number_input(
                label, value=int(spec.default), step=1, help=spec.help, key=widget_key,
                min_value=None if spec.min is None else int(spec.min),
                max_value=None if spec.max is None else int(spec.max)))
        else:
            values[spec.name] = float(col.number_input(
                label, value=float(spec.default), help=spec.help, key=widget_key,
                min_value=None if spec.min is None else float(spec.min),
                max_value=None if spec.max is None else float(spec.max), format="%g"))
    return values
