"""Training the two stages on the rows of races before a cut-off, and predicting one race's field.

Used alike by the walk-forward backtest (cut-off = the race predicted) and by the registry (cut-off
= everything known), so the evaluated procedure is exactly the served one.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from f1core.engine.features import STAGE1_FEATURES, STAGE2_FEATURES
from f1core.engine.models import SEED, QualifyingModel, RaceDistribution, RaceModel, grid_from_gaps
from f1core.progress import Progress, steps

PRE, POST = "pre-qualifying", "post-qualifying"
MIN_TRAINING_ROWS = 200  # about ten races: fewer cannot fit either stage sensibly


class NotEnoughData(RuntimeError):
    """The store holds too little history to train on."""
MODES = (POST, PRE)


@dataclass(frozen=True)
class TrainingConfig:
    # Chosen on a walk-forward over 2016-2021 only, so the 2022+ backtest stays out of sample.
    stage1_from: int = 2006
    stage2_from: int = 2003
    pre_stage2_from: int = 2008  # needs walk-forward stage 1 predictions, which start two seasons in
    stage1_estimators: int = 250
    stage2_estimators: int = 300
    stage1_params: dict = field(default_factory=lambda: {"num_leaves": 7, "min_data_in_leaf": 60})
    stage2_params: dict = field(default_factory=dict)
    temperature: float = 1.0
    top_k: int | None = None
    tail_weight: float = 0.0
    decay: float = 0.75  # weight of the k-th choice in the Plackett-Luce fit: k^-decay (front matters more)
    recency_halflife: float | None = None  # seasons; older races count less in the race model
    retrain_every: int = 3  # walk-forward: races predicted by one model before it is retrained

    @classmethod
    def starting(cls, first_season: int | None) -> "TrainingConfig":
        """The default set-up, trained on seasons from `first_season` on when given (F1_TRAIN_FROM:
        a smaller deployment trains faster on fewer seasons, at some cost in accuracy)."""
        base = cls()
        if first_season is None:
            return base
        return cls(stage1_from=max(base.stage1_from, first_season), stage2_from=max(base.stage2_from, first_season),
                   pre_stage2_from=max(base.pre_stage2_from, first_season + 1))

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def stage2_features(mode: str) -> list[str]:
    """Both modes see 'grid' and 'quali_gap_pct': real after qualifying, stage 1's before."""
    return list(STAGE2_FEATURES)


def train_stage1(frame: pd.DataFrame, cutoff_idx: int, config: TrainingConfig,
                 with_interval: bool = True) -> QualifyingModel:
    rows = frame[(frame["race_idx"] < cutoff_idx) & (frame["season"] >= config.stage1_from)]
    rows = rows[rows["quali_gap_pct"].notna()]
    if len(rows) < MIN_TRAINING_ROWS:
        raise NotEnoughData(f"only {len(rows)} qualifying rows to train on (need {MIN_TRAINING_ROWS}); "
                         "load more seasons of history")
    return QualifyingModel(STAGE1_FEATURES, config.stage1_estimators, dict(config.stage1_params),
                           with_interval=with_interval).fit(rows, rows["quali_gap_pct"])


def with_predicted_grid(rows: pd.DataFrame, gaps: np.ndarray) -> pd.DataFrame:
    """Replace grid and gap with stage 1's predictions, grid ranked within each race."""
    out = rows.copy()
    out["quali_gap_pct"] = gaps
    out["grid"] = out.groupby("race_idx")["quali_gap_pct"].transform(lambda g: pd.Series(
        grid_from_gaps(g.to_numpy()), index=g.index))
    out["pit_lane_start"] = 0.0
    out["sprint_position"] = np.nan  # not known before qualifying on most sprint weekend formats
    return out


def stage1_config_key(config: TrainingConfig) -> str:
    payload = json.dumps([STAGE1_FEATURES, config.stage1_from, config.stage1_estimators, config.stage1_params,
                          config.pre_stage2_from, config.retrain_every, SEED], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def stage1_walk_forward(frame: pd.DataFrame, config: TrainingConfig, known: pd.DataFrame | None = None,
                        progress: Progress | None = None) -> pd.DataFrame:
    """Stage 1 predictions for every race with results from `config.pre_stage2_from` on, each from a
    model trained only on earlier races. These are the honest 'predicted grid' inputs the
    pre-qualifying race model is trained and evaluated on.

    Races are cut into fixed blocks of `retrain_every` counted from the first season, so a race's
    prediction never depends on when it was computed; `known` (season, round, driver_ref, pred_gap)
    holds predictions computed before, and only blocks with missing races are trained."""
    done = frame[frame["has_result"]]
    races = done[done["season"] >= config.pre_stage2_from]["race_idx"].drop_duplicates().to_numpy()
    out = done[done["race_idx"].isin(races)][["race_idx", "season", "round", "driver_ref"]].copy()
    out["pred_gap"] = np.nan
    if known is not None and not known.empty:
        cached = out[["season", "round", "driver_ref"]].merge(known, how="left", on=["season", "round", "driver_ref"])
        out["pred_gap"] = cached["pred_gap"].to_numpy()
    missing_races = set(out.loc[out["pred_gap"].isna(), "race_idx"])
    blocks = [races[i:i + config.retrain_every] for i in range(0, len(races), config.retrain_every)]
    todo = [b for b in blocks if missing_races.intersection(b)]
    for i, block in enumerate(todo):
        history = done[(done["race_idx"] < int(block[0])) & (done["season"] >= config.stage1_from)]
        if history["quali_gap_pct"].notna().sum() < MIN_TRAINING_ROWS:
            continue  # a store that starts later than the set-up expects: no honest prediction yet
        model = train_stage1(done, int(block[0]), config, with_interval=False)
        idx = out.index[out["race_idx"].isin(block)]
        out.loc[idx, "pred_gap"] = model.predict(frame.loc[idx])
        steps(progress, "qualifying model history", i + 1, len(todo))
    return out


def stage2_rows(frame: pd.DataFrame, mode: str, stage1: pd.DataFrame | None) -> pd.DataFrame:
    """The frame as the race model of `mode` sees it."""
    if mode == POST:
        return frame
    if stage1 is None:
        raise ValueError("the pre-qualifying race model needs stage 1 predictions")
    predicted = stage1.index[stage1["pred_gap"].notna()]
    rows = frame.loc[frame.index.intersection(predicted)]
    return with_predicted_grid(rows, stage1.loc[rows.index, "pred_gap"].to_numpy())


def train_stage2(frame: pd.DataFrame, cutoff_idx: int, mode: str, config: TrainingConfig) -> RaceModel:
    first = config.stage2_from if mode == POST else config.pre_stage2_from
    rows = frame[(frame["race_idx"] < cutoff_idx) & (frame["season"] >= first) & frame["started"]]
    rows = rows[rows["grid"].notna()]
    if len(rows) < MIN_TRAINING_ROWS:
        raise NotEnoughData(f"only {len(rows)} race rows to train the {mode} model on (need {MIN_TRAINING_ROWS}); "
                         "load more seasons of history")
    model = RaceModel(stage2_features(mode), config.stage2_estimators, dict(config.stage2_params), config.temperature,
                      config.top_k, config.tail_weight, config.decay)
    weight = None
    if config.recency_halflife:
        age = rows["season"].max() - rows["season"]
        weight = 0.5 ** (age.to_numpy() / config.recency_halflife)
    return model.fit(rows, rows["finish"].to_numpy(), rows["dnf"].to_numpy(), rows["race_idx"].to_numpy(), weight)


def predict_field(model: RaceModel, rows: pd.DataFrame, seed: int) -> pd.DataFrame:
    return field_distribution(model, rows, seed)[0]


def field_distribution(model: RaceModel, rows: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, RaceDistribution]:
    """Per-driver probabilities for one race's field, and the full position distribution. Rows are
    sorted by driver so the simulation's noise for each driver stays the same across scenarios."""
    rows = rows.sort_values("driver_ref", kind="mergesort")
    dist = model.predict_proba(rows, seed=seed)
    return pd.DataFrame({
        "driver_ref": rows["driver_ref"].to_numpy(), "constructor_ref": rows["constructor_ref"].to_numpy(),
        "grid": rows["grid"].to_numpy(), "quali_gap_pct": rows["quali_gap_pct"].to_numpy(),
        "p_win": dist.p_win, "p_podium": dist.p_podium, "p_points": dist.p_points, "p_dnf": dist.p_dnf,
        "expected_position": dist.expected_position, "position_p10": dist.p10, "position_p90": dist.p90,
    }, index=rows.index), dist


def race_seed(season: int, round_: int) -> int:
    return int(season) * 100 + int(round_)
