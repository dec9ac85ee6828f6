"""The questions of the What-if page that are not the prediction itself: the weather a scenario
starts from when a race's own conditions are not known yet, and how each driver's chances moved
under a what-if. (Scenarios and their checks are in `f1core.engine.scenario`.)"""
from __future__ import annotations

import numpy as np
import pandas as pd

from f1core.store import Store
from f1core.views.terms import percentage_points

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


def movers_table(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """Per driver: as it is, what-if and the change in percentage points; biggest movers first."""
    b = before.set_index("driver_ref")
    a = after.set_index("driver_ref").loc[b.index]
    out = pd.DataFrame({
        "code": a["code"], "driver": a["driver_name"], "team": a["team_name"], "constructor_ref": a["constructor_ref"],
        "grid_before": b["grid"], "grid_now": a["grid"],
    })
    for name, col in (("win", "p_win"), ("podium", "p_podium"), ("points", "p_points")):
        out[f"{name}_before"] = b[col] * 100
        out[f"{name}_now"] = a[col] * 100
        out[f"{name}_change"] = (a[col] - b[col]) * 100
    out["expected_before"] = b["expected_position"]
    out["expected_now"] = a["expected_position"]
    out["biggest_change"] = out[["win_change", "podium_change", "points_change"]].abs().max(axis=1)
    out = out.reset_index().sort_values(["biggest_change", "win_now"], ascending=False)
    return out.reset_index(drop=True)


def win_cards(movers: pd.DataFrame, scenario, n: int = 4) -> pd.DataFrame:
    """The drivers whose chance to win the page shows on cards: the `n` likeliest winners under
    the what-if, the last driver moved by hand in place of the n-th when he is not among them, so
    the user sees what the move did to him."""
    top = movers.sort_values("win_now", ascending=False, kind="mergesort")
    shown = top.head(n)
    moved = [d for d, _ in scenario.grid_slots]
    if moved and moved[-1] not in set(shown["driver_ref"]) and moved[-1] in set(top["driver_ref"]):
        shown = pd.concat([shown.head(n - 1), top[top["driver_ref"] == moved[-1]]])
    return shown


def surprising_gains(movers: pd.DataFrame, scenario, threshold_pts: float = 0.5) -> str | None:
    """Plain words for drivers who start further back under the what-if, were not moved
    themselves, and still gain win chance: each driver's chance depends on everyone's strength,
    so when the rivals put ahead of him are weaker than the ones who dropped behind, he gains
    although he lost places. (A driver's own better slot never lowers his chances.)"""
    moved = {d for d, _ in scenario.grid_slots} | set(scenario.grid_order or ())
    gained = movers[(movers["grid_now"] > movers["grid_before"]) & (movers["win_change"] > threshold_pts)
                    & ~movers["driver_ref"].isin(moved)]
    if gained.empty:
        return None
    who = ", ".join(f"{r.code} (P{r.grid_before:.0f} → P{r.grid_now:.0f}, {percentage_points(r.win_change / 100, 1)})"
                    for r in gained.itertuples())
    return (f"{who}: further back on the grid yet more likely to win. The chances are shared out among the "
            "field, so when the drivers moved up are less of a threat than the ones they pushed back, a driver "
            "can gain although he lost places. Moving a driver himself up never lowers his own chances.")
