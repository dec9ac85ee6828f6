"""Training the two stages on the rows of races before a cut-off, and predicting one race's field.

Used alike by the walk-forward backtest (cut-off = the race predicted) and by the registry (cut-off
= everything known), so the evaluated procedure is exactly the served one.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from f1core.engine import features as _features_module
from f1core.engine import models as _models_module
from f1core.engine import rating_filter as _rating_filter_module
from f1core.engine.features import QUALI_TIME_FEATURES, SPRINT_BEFORE_QUALI_FROM, STAGE1_FEATURES, STAGE2_FEATURES
from f1core.engine.models import RATING_SCORE, SEED, QualifyingModel, RaceDistribution, RaceModel, grid_from_gaps
from f1core.engine.rating_filter import teammate_gap
from f1core.files import code_hash
from f1core.progress import Progress, steps

PRE, POST = "pre-qualifying", "post-qualifying"
WORKERS = min(4, os.cpu_count() or 1)  # threads for models trained side by side (`in_parallel`)
MIN_TRAINING_ROWS = 200  # about ten races: fewer cannot fit either stage sensibly


# The code stage 1's walk-forward predictions depend on: part of their cache key, so a change in how
# features or models are computed never serves predictions made by the old code.
STAGE1_CODE = code_hash(_features_module, _rating_filter_module, _models_module, sys.modules[__name__])


class NotEnoughData(RuntimeError):
    """The store holds too little history to train on."""
MODES = (POST, PRE)


@dataclass(frozen=True)
class TrainingConfig:
    # Chosen on walk-forwards over 2009, 2014 and 2016-2021 only (regulation changes included), so the
    # 2022+ backtest stays out of sample.
    stage1_from: int = 2006
    stage2_from: int = 2003
    pre_stage2_from: int = 2008  # needs walk-forward stage 1 predictions, which start two seasons in
    stage1_estimators: int = 250
    stage2_estimators: int = 150
    stage1_params: dict = field(default_factory=lambda: {"num_leaves": 7, "min_data_in_leaf": 60})
    stage1_base: str | None = "exp_quali_gap"  # stage 1's trees correct the rating filter's expected gap
    # 7 leaves: on 2016-2021 after qualifying 1.321 -> 1.300 winner log loss with the fixed seed (15, the
    # LightGBM default here, and 5 both did worse), 1.314 -> 1.309 averaged over three seeds: the seed
    # alone moves a 2016-2021 figure by about 0.01, so smaller differences between set-ups are noise
    stage2_params: dict = field(default_factory=lambda: {"num_leaves": 7})
    temperature: float = 1.0
    top_k: int | None = None
    tail_weight: float = 0.0
    decay: float = 0.75  # weight of the k-th choice in the Plackett-Luce fit: k^-decay (front matters more)
    calibration_races: int = 80  # the race model's blend with the grid prior is fitted on this many latest races
    calibration_block: int = 10  # ... scored walk-forward in blocks of this many races when not given
    calibration_decay: float | None = None  # choice weights of that fit (None: as `decay`)
    calibration_top_k: int | None = 1  # ... on the winner only (the blend is about who wins)
    # The blend is fitted in both modes. After qualifying it is the booster's weight alone, its sharpness:
    # the Plackett-Luce strengths, fitted to the whole finishing order, are too flat at the front (on
    # 2010-2021 the favourite won 56% of races at 50% predicted), and by how much changes with the era
    # (fitted 1.16-1.26 over 2010-2021, 1.31 in 2024, 1.45 in 2026). On 2010-2021 the fitted sharpness
    # gave a winner log loss of 1.347, the fixed factor it replaces (1.15, chosen on those same seasons)
    # 1.342. The grid prior joins only before qualifying: after it (real grid already an input) it hurt
    # (2016-2021: 1.31 -> 1.33).
    calibration_modes: tuple[str, ...] = ("pre-qualifying", "post-qualifying")
    calibration_grid_modes: tuple[str, ...] = ("pre-qualifying",)
    # ... with the rating filter's expected race score as a third term: on 2016-2021 it took the
    # pre-qualifying winner log loss from 1.56 to 1.49 and gained nothing after qualifying
    calibration_rating_modes: tuple[str, ...] = ("pre-qualifying",)
    weather: bool = True  # learn rain's effect on order and retirements from the training races
    mask_quali_every: int = 8  # post-qualifying model: a copy of every 8th race without qualifying times
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

    def as_stored(self) -> dict:
        """The set-up as the registry and the backtest runs keep it (JSON), to compare with theirs."""
        return json.loads(json.dumps(self.as_dict(), default=str))


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
                           with_interval=with_interval, base=config.stage1_base).fit(rows, rows["quali_gap_pct"])


def with_predicted_grid(rows: pd.DataFrame, gaps: np.ndarray) -> pd.DataFrame:
    """Replace grid and gap with stage 1's predictions, grid ranked within each race; what
    qualifying would tell (teammate gap) follows from the predicted gaps. The sprint result stays
    where the sprint runs before qualifying (2024 on)."""
    out = rows.copy()
    out["quali_gap_pct"] = gaps
    out["grid"] = out.groupby("race_idx")["quali_gap_pct"].transform(lambda g: pd.Series(
        grid_from_gaps(g.to_numpy()), index=g.index))
    out["quali_teammate_gap"] = teammate_gap(out, "quali_gap_pct")
    out["pit_lane_start"] = 0.0
    out["sprint_position"] = out["sprint_position"].where(out["season"] >= SPRINT_BEFORE_QUALI_FROM)
    return out


def in_parallel(fit, items: list) -> Iterator:
    """`fit` of each item, in order, on `WORKERS` threads: for models that do not depend on one
    another. LightGBM lets go of the GIL while it trains, so the threads share the cores; each
    model is single-threaded, so it comes out the same as when trained alone."""
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        yield from pool.map(fit, items)


def stage1_config_key(config: TrainingConfig) -> str:
    payload = json.dumps([STAGE1_FEATURES, config.stage1_from, config.stage1_estimators, config.stage1_params,
                          config.pre_stage2_from, config.retrain_every, SEED, config.stage1_base, STAGE1_CODE],
                         sort_keys=True, default=str)
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

    def predict_block(block: np.ndarray) -> tuple[pd.Index, np.ndarray] | None:
        history = done[(done["race_idx"] < int(block[0])) & (done["season"] >= config.stage1_from)]
        if history["quali_gap_pct"].notna().sum() < MIN_TRAINING_ROWS:
            return None  # a store that starts later than the set-up expects: no honest prediction yet
        model = train_stage1(done, int(block[0]), config, with_interval=False)
        idx = out.index[out["race_idx"].isin(block)]
        return idx, model.predict(frame.loc[idx])

    for i, result in enumerate(in_parallel(predict_block, todo)):
        if result is not None:
            out.loc[result[0], "pred_gap"] = result[1]
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


def _stage2_training_rows(frame: pd.DataFrame, cutoff_idx: int, mode: str, config: TrainingConfig) -> pd.DataFrame:
    first = config.stage2_from if mode == POST else config.pre_stage2_from
    rows = frame[(frame["race_idx"] < cutoff_idx) & (frame["season"] >= first) & frame["started"]]
    return rows[rows["grid"].notna()]


def _race_model(mode: str, config: TrainingConfig) -> RaceModel:
    return RaceModel(stage2_features(mode), config.stage2_estimators, dict(config.stage2_params), config.temperature,
                     config.top_k, config.tail_weight, config.decay, calibration_decay=config.calibration_decay,
                     calibration_top_k=config.calibration_top_k, weather=config.weather,
                     calibration_grid=mode in config.calibration_grid_modes,
                     mask_features=tuple(QUALI_TIME_FEATURES) if mode == POST else (),
                     mask_every=config.mask_quali_every if mode == POST else 0)


def booster_scores(frame: pd.DataFrame, cutoff_idx: int, mode: str, config: TrainingConfig,
                   races: np.ndarray) -> pd.Series:
    """Walk-forward booster scores of `races` (all before `cutoff_idx`): blocks of
    `config.calibration_block` races, each scored by a booster trained only on the races before the
    block. The calibration fits on these, so it measures the booster on races it has not seen."""
    races = np.sort(np.asarray(races))

    def score_block(block: np.ndarray) -> pd.Series | None:
        rows = _stage2_training_rows(frame, int(block[0]), mode, config)
        if rows["race_idx"].nunique() < 40:
            return None
        model = _race_model(mode, config)
        booster, _ = model._fit_booster(rows, rows["finish"].to_numpy(dtype=float), rows["race_idx"].to_numpy(), None)
        target = frame[frame["race_idx"].isin(block) & frame["started"] & frame["grid"].notna()]
        return pd.Series(model._score(booster, target), index=target.index)

    blocks = [races[i:i + config.calibration_block] for i in range(0, len(races), config.calibration_block)]
    out = [s for s in in_parallel(score_block, blocks) if s is not None]
    return pd.concat(out) if out else pd.Series(dtype=float)


def train_stage2(frame: pd.DataFrame, cutoff_idx: int, mode: str, config: TrainingConfig,
                 calibration_scores: pd.Series | None = None) -> RaceModel:
    """The race model of `mode` on the races before `cutoff_idx`. Its blend with the grid prior is
    fitted on the last `config.calibration_races` of them, scored walk-forward: from
    `calibration_scores` (booster scores indexed like `frame`, made without seeing their race, as
    the backtest keeps them) where they cover those races, else computed here (`booster_scores`)."""
    rows = _stage2_training_rows(frame, cutoff_idx, mode, config)
    if len(rows) < MIN_TRAINING_ROWS:
        raise NotEnoughData(f"only {len(rows)} race rows to train the {mode} model on (need {MIN_TRAINING_ROWS}); "
                         "load more seasons of history")
    model = _race_model(mode, config)
    calibration = None
    if config.calibration_races and mode in config.calibration_modes:
        races = rows["race_idx"].drop_duplicates().to_numpy()[-config.calibration_races:]
        scores = calibration_scores if calibration_scores is not None else pd.Series(dtype=float)
        scores = scores[scores.index.isin(rows.index[rows["race_idx"].isin(races)])]
        missing = np.setdiff1d(races, rows.loc[scores.index, "race_idx"].unique())
        if len(missing):
            scores = pd.concat([scores, booster_scores(frame, cutoff_idx, mode, config, missing)])
        if scores.index.nunique() and rows.loc[scores.index, "race_idx"].nunique() >= 10:
            cal = rows.loc[scores.index]
            calibration = (scores.to_numpy(), cal["grid"].to_numpy(dtype=float), cal["finish"].to_numpy(dtype=float),
                           cal["race_idx"].to_numpy())
            if mode in config.calibration_rating_modes and RATING_SCORE in cal:
                calibration += (cal[RATING_SCORE].to_numpy(dtype=float),)
            model.calibration_scores_ = scores
    return model.fit(rows, rows["finish"].to_numpy(), rows["dnf"].to_numpy(), rows["race_idx"].to_numpy(),
                     calibration=calibration)


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
