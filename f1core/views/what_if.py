"""The questions of the What-if page that are not the prediction itself: the weather a scenario
starts from when a race's own conditions are not known yet. (Scenarios and their checks are in
`f1core.engine.scenario`.)"""
from __future__ import annotations

import numpy as np
import pandas as pd

from f1core.store import Store

FALLBACK_CONDITIONS = {"rain": 0.0, "air_temp": 22.0, "track_temp": 32.0}


def typical_conditions(store: Store | None, frame: pd.DataFrame, circuit_ref: str) -> dict[str, float]:
    """Race-day weather typical of a circuit (medians of the races with observed weather there),
    for a what-if whose race has no forecast yet; the medians over every circuit where the
    circuit has none, and plain defaults (dry, 22 °C air, 32 °C track) where nothing is known.
    `frame`: the feature frame (`build_frame`); `store` is unused (the shape of the UI's cached
    frame queries)."""
    races = frame.drop_duplicates(["season", "round"])
    here = races[races["circuit_ref"] == circuit_ref]
    out = {}
    for col, fallback in FALLBACK_CONDITIONS.items():
        value = here[col].dropna().median() if col in here and here[col].notna().any() else np.nan
        if pd.isna(value) and col in races and races[col].notna().any():
            value = races[col].dropna().median()
        out[col] = float(value) if pd.notna(value) else fallback
    return out
