"""Serving one race: stage 1, then stage 2 in the mode the race is in, under a scenario."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from f1core.engine.baselines import baseline_fields, serving_baseline
from f1core.engine.models import QualifyingModel
from f1core.engine.registry import ModelBundle
from f1core.engine.scenario import Scenario, apply_scenario
from f1core.engine.training import POST, PRE, field_distribution, race_seed, with_predicted_grid
from f1core.names import with_driver_labels
from f1core.store import RaceRef


class PredictionError(RuntimeError):
    """A race cannot be predicted (unknown race, no entry list)."""


@dataclass
class RacePrediction:
    race: RaceRef
    mode: str
    model_version: str
    scenario: Scenario
    table: pd.DataFrame  # one row per driver, best expected position first
    position_probs: pd.DataFrame  # driver_ref x finishing position (1..n)
    conditions: dict[str, float | None]
    has_results: bool

    @property
    def favourite(self) -> pd.Series:
        return self.table.sort_values("p_win", ascending=False).iloc[0]


def _conditions(rows: pd.DataFrame) -> dict[str, float | None]:
    def first(col: str) -> float | None:
        values = rows[col].dropna()
        return float(values.iloc[0]) if len(values) else None

    return {"rain": first("rain"), "air_temp": first("air_temp"), "track_temp": first("track_temp")}


def field_of(rows: pd.DataFrame) -> pd.DataFrame:
    """The cars of a race's feature rows that the prediction covers (those that started, once
    the race has results), in driver order so the simulation's noise per driver is stable."""
    if rows["has_result"].any():
        rows = rows[rows["started"]]
    return rows.sort_values("driver_ref", kind="mergesort")


def race_mode(rows: pd.DataFrame) -> str:
    """After qualifying once the race has results or the qualifying order is known (at least half
    the field placed): without times (some sources publish the order first) the gaps are missing,
    which the post-qualifying model is trained to cope with."""
    quali_known = rows["grid"].notna().sum() >= max(2, (len(rows) + 1) // 2)
    return POST if (rows["has_result"].any() or quali_known) else PRE


def race_view(stage1: QualifyingModel, rows: pd.DataFrame, mode: str, scenario: Scenario,
              gap: np.ndarray | None = None) -> pd.DataFrame:
    """The field (`field_of`) as the race model of `mode` sees it under `scenario`: before
    qualifying with stage 1's grid (`gap`: its predicted gaps, computed when not given), after it
    with the real grid, where a car with no qualifying time starts from the back."""
    rows = field_of(rows)
    if mode == PRE:
        view = with_predicted_grid(rows, stage1.predict(rows) if gap is None else gap)
    else:
        view = rows.copy()
        missing = view["grid"].isna()
        view.loc[missing, "grid"] = len(view) - missing.sum() + np.arange(1, missing.sum() + 1)
    return apply_scenario(view, scenario)


def predict_rows(bundle: ModelBundle, race: RaceRef, rows: pd.DataFrame, ref_pole_s: float | None,
                 scenario: Scenario, drivers: pd.DataFrame, teams: pd.DataFrame) -> RacePrediction:
    """`rows`: the race's feature rows (its field). `drivers`: driver_ref, code, driver_name;
    `teams`: constructor_ref, team_name."""
    if rows.empty:
        raise PredictionError(f"{race.label}: no entry list (no qualifying and no known line-ups)")
    has_results = bool(rows["has_result"].any())
    rows = field_of(rows)

    # stage 1 always runs: it is the predicted qualifying shown on every race
    gap = bundle.stage1.predict(rows)
    gap_lo, gap_hi = bundle.stage1.predict_interval(rows)
    mode = race_mode(rows)
    view = race_view(bundle.stage1, rows, mode, scenario, gap)
    model = bundle.race_models[mode]
    seed = race_seed(race.season, race.round)
    field, dist = field_distribution(model, view, seed)

    table_name = serving_baseline(mode)
    base = baseline_fields(view, bundle.baseline_tables, bundle.dnf_rate, mode)[table_name]

    table = field.assign(
        baseline=table_name,
        baseline_p_win=base["p_win"].to_numpy(),
        baseline_p_podium=base["p_podium"].to_numpy(),
        pred_quali_gap_pct=gap, pred_quali_gap_lo=gap_lo, pred_quali_gap_hi=gap_hi,
        pred_grid=with_predicted_grid(rows, gap)["grid"].to_numpy(),
        actual_quali_gap_pct=rows["quali_gap_pct"].to_numpy(),
        actual_quali_position=rows["quali_position"].to_numpy(),
        actual_position=rows["position_order"].to_numpy() if has_results else np.nan,
        actual_status=rows["status"].to_numpy() if has_results else None,
        pit_lane_start=view["pit_lane_start"].to_numpy(),
    )
    if ref_pole_s and np.isfinite(ref_pole_s):
        table["pred_quali_time_s"] = ref_pole_s * (1 + gap / 100)
        table["pred_quali_time_lo_s"] = ref_pole_s * (1 + gap_lo / 100)
        table["pred_quali_time_hi_s"] = ref_pole_s * (1 + gap_hi / 100)
    else:
        table["pred_quali_time_s"] = table["pred_quali_time_lo_s"] = table["pred_quali_time_hi_s"] = np.nan
    # the JSON and the tables call the gap and time the model used 'quali_gap_pct' / 'quali_time_s'
    table["quali_time_s"] = np.where(np.isfinite(table["pred_quali_time_s"]) & (mode == PRE),
                                     table["pred_quali_time_s"], rows["quali_best_s"].to_numpy())
    table = table.merge(drivers, on="driver_ref", how="left").merge(teams, on="constructor_ref", how="left")
    table["team_name"] = table["team_name"].fillna(table["constructor_ref"])
    table = with_driver_labels(table)
    table = table.sort_values(["expected_position", "driver_ref"]).reset_index(drop=True)

    probs = pd.DataFrame(dist.position_probs, index=field["driver_ref"].to_numpy(),
                         columns=np.arange(1, dist.position_probs.shape[1] + 1))
    return RacePrediction(race, mode, bundle.version, scenario, table, probs.loc[table["driver_ref"]],
                          _conditions(view), has_results)
