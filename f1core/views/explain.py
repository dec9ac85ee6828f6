"""Why the model puts one driver ahead of another: the inputs whose parts of the race strength
differ most between the two, from the engine's per-driver contributions
(`Engine.field_contributions`). A fan who sees the championship leader second asks this first.
No Streamlit."""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from f1core.engine.features import FEATURE_BY_NAME

# where a feature's description says which way is better ("lower is better", "negative is faster")
_DIRECTION = re.compile(r"lower is better|negative is \w+")


@dataclass(frozen=True)
class Edge:
    """What separates `ahead` from `behind` (driver_refs) in the model's race strength."""
    ahead: str
    behind: str
    # the chance `ahead` finishes in front of `behind` when both finish: the race is simulated
    # as a Plackett-Luce order of strengths, so this is the logistic of their strength gap
    p_ahead_if_both_finish: float
    # one row per input, largest difference first: feature, input (its plain label), the two
    # drivers' values (`ahead_value`, `behind_value`) and `edge`, ahead's part minus behind's on
    # the log-odds scale (positive: the input counts for `ahead`)
    reasons: pd.DataFrame


def why_ahead(contributions: pd.DataFrame, values: pd.DataFrame, ahead: str, behind: str, top: int = 5) -> Edge:
    """The `top` inputs that separate two drivers of one race, from `Engine.field_contributions`'
    frames (rows: driver_ref)."""
    missing = [d for d in (ahead, behind) if d not in contributions.index]
    if missing:
        raise KeyError(f"not in this race's field: {', '.join(missing)}")
    edge = contributions.loc[ahead] - contributions.loc[behind]
    reasons = pd.DataFrame({
        "feature": edge.index,
        "input": [_plain_label(f) for f in edge.index],
        "ahead_value": values.loc[ahead, edge.index].to_numpy(dtype=float),
        "behind_value": values.loc[behind, edge.index].to_numpy(dtype=float),
        "edge": edge.to_numpy(dtype=float),
    })
    reasons = reasons.reindex(reasons["edge"].abs().sort_values(ascending=False, kind="stable").index)
    gap = float(edge.sum())
    return Edge(ahead, behind, float(1.0 / (1.0 + np.exp(-gap))), reasons.head(top).reset_index(drop=True))


def _plain_label(feature: str) -> str:
    """The input's short label, saying which way is better where the number alone would not."""
    if feature not in FEATURE_BY_NAME:
        return feature
    known = FEATURE_BY_NAME[feature]
    direction = _DIRECTION.search(known.description)
    return known.label + (f" ({direction.group(0)})" if direction else "")


def input_value(feature: str, value: float) -> str:
    """An input's value as a fan reads it: a starting slot as "P3", a missing one as "unknown"."""
    if value is None or np.isnan(value):
        return "unknown"
    value = round(float(value), 6)  # a centred input's 0 carries float noise (4.55e-11)
    if feature == "grid":
        return f"P{value:g}"
    return f"{value:.0f}" if value.is_integer() else f"{value:.3g}"
