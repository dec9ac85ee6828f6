"""The baselines every prediction stands beside: the grid (after qualifying) and recent form.

Each turns an ordering of the field into probabilities with the finishing-position frequencies
of the training races (how often the driver starting k-th, or ranked k-th on recent points,
finished in each place), so they are served and scored exactly like the model: the same tables
go into a model artifact for serving and are rebuilt for every block of the walk-forward.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from f1core.engine.training import PRE

MAX_POSITION = 26
# baseline name -> the column of the feature frame that orders the field for it
BASELINES = {"grid": "grid", "form": "drv_points_rank"}


def form_rank(frame: pd.DataFrame) -> pd.Series:
    """Each driver's rank in his race by recent points per race, best first; drivers with no
    history go to the back."""
    return frame.groupby("race_idx")["drv_points_ewm"].rank(ascending=False, method="first", na_option="bottom")


def with_form_rank(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(drv_points_rank=form_rank(frame))


def position_table(train: pd.DataFrame, rank_col: str, max_pos: int = MAX_POSITION) -> np.ndarray:
    """P(finish position | rank by `rank_col`) from training rows; row r = rank r+1."""
    t = train[train["started"] & train[rank_col].notna()]
    rank = t.groupby("race_idx")[rank_col].rank(method="first").astype(int).clip(upper=max_pos)
    pos = t["position_order"].astype(int).clip(upper=max_pos)
    table = np.ones((max_pos, max_pos)) * 0.5  # light smoothing so no slot is impossible
    np.add.at(table, (rank.to_numpy() - 1, pos.to_numpy() - 1), 1)
    return table / table.sum(axis=1, keepdims=True)


def position_tables(history: pd.DataFrame) -> dict[str, np.ndarray]:
    """Every baseline's table from the races in `history` (rows with results)."""
    ranked = with_form_rank(history)
    return {name: position_table(ranked, col) for name, col in BASELINES.items()}


def baseline_field(rows: pd.DataFrame, table: np.ndarray, rank_col: str, dnf_rate: float) -> pd.DataFrame:
    """Probabilities for a field ordered by `rank_col`, made coherent within the race."""
    rank = rows[rank_col].rank(method="first", na_option="bottom").astype(int).clip(upper=table.shape[0])
    probs = table[rank.to_numpy() - 1][:, : len(rows)]
    probs = probs / probs.sum(axis=0, keepdims=True)  # each position filled exactly once in expectation
    return pd.DataFrame({
        "driver_ref": rows["driver_ref"].to_numpy(),
        "p_win": probs[:, 0], "p_podium": probs[:, :3].sum(axis=1), "p_points": probs[:, :10].sum(axis=1),
        "p_dnf": dnf_rate, "expected_position": rank.to_numpy().astype(float),
    }, index=rows.index)


def baseline_fields(rows: pd.DataFrame, tables: dict, dnf_rate: float, mode: str) -> dict[str, pd.DataFrame]:
    """Every baseline that exists in `mode` for one race's field: the grid is not known before
    qualifying, so only the form baseline stands beside a pre-qualifying prediction."""
    ranked = with_form_rank(rows)
    return {name: baseline_field(ranked, np.asarray(tables[name]), col, dnf_rate)
            for name, col in BASELINES.items() if not (name == "grid" and mode == PRE)}


def serving_baseline(mode: str) -> str:
    """The baseline shown beside a served prediction: the grid after qualifying, form before."""
    return "form" if mode == PRE else "grid"
