"""Honest evaluation: walk-forward over races, with baselines computed the same way.

Every race from `from_season` is predicted by models trained only on races dated before it
(retrained every `config.retrain_every` races). The grid baseline (post-qualifying) and the form
baseline (both modes) turn an ordering into probabilities with the finishing-position frequencies
of the same training races, so they are scored with exactly the same metrics.
"""
from __future__ import annotations

import functools
import sys
import time
import warnings
from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np
import pandas as pd

from f1core.engine import baselines as _baselines_module
from f1core.engine import calibration as _calibration_module
from f1core.engine import features as _features_module
from f1core.engine import models as _models_module
from f1core.engine import rating_filter as _rating_filter_module
from f1core.engine import reference as _reference_module
from f1core.engine import training as _training_module
from f1core.engine import weather_effect as _weather_effect_module
from f1core.engine.baselines import baseline_fields, position_tables
from f1core.engine.models import wetness
from f1core.engine.reference import reference_times
from f1core.engine.training import (
    MODES,
    POST,
    TrainingConfig,
    in_parallel,
    predict_field,
    race_seed,
    stage2_rows,
    train_stage2,
)
from f1core.files import code_hash
from f1core.progress import Progress, steps

EPS = 1e-4  # one simulated race in 10,000: the floor for a probability in the log loss
RACE_METRICS = ["winner_top1", "winner_top3", "winner_logloss", "multiclass_brier", "podium_brier",
                "spearman", "position_mae"]
STAGE1_METRICS = ["grid_spearman", "pole_hit", "laptime_median_abs_error_s"]
# per race 1 (hit) or 0 (miss): their mean is a share, whose interval is Wilson's (`mean_interval`)
SHARE_METRICS = frozenset({"winner_top1", "winner_top3", "pole_hit"})
WET_CHECK = 0.1  # races at least this wet are re-predicted as if dry for the rain validation
WET_COLUMNS = ["mode", "season", "round", "rain", "wetness", "logloss_observed", "logloss_dry", "dnf_observed",
               "dnf_dry", "dnf_actual"]


# -- scoring ----------------------------------------------------------------------------------------

@functools.cache
def _spearmanr():
    """SciPy's rank correlation, imported on first use: SciPy costs a second at start-up that a
    page showing stored results never needs."""
    from scipy.stats import ConstantInputWarning, spearmanr

    # A field whose predicted order is all ties (a baseline with no information) has no rank
    # correlation; it is reported as NaN and left out of the mean, which is the honest answer.
    warnings.filterwarnings("ignore", category=ConstantInputWarning)
    return spearmanr


def spearman(a, b) -> float:
    return float(_spearmanr()(a, b).statistic)


def score_race(pred: pd.DataFrame, actual: pd.DataFrame) -> dict[str, float]:
    """Metrics of one race. `actual` has driver_ref, position_order and podium/winner flags."""
    m = pred.merge(actual, on="driver_ref", how="inner")
    if m.empty:
        return {}
    won = m["position_order"] == 1
    p_win = m["p_win"].to_numpy()
    winner_p = float(p_win[won.to_numpy()].sum()) if won.any() else np.nan
    ranks = (-p_win).argsort(kind="stable")
    winner_pos = int(np.flatnonzero(won.to_numpy()[ranks])[0]) if won.any() else 99
    podium = (m["position_order"] <= 3).astype(float)
    return {
        "winner_top1": float(winner_pos == 0),
        "winner_top3": float(winner_pos < 3),
        "winner_logloss": -np.log(max(winner_p, EPS)),
        "multiclass_brier": float(((p_win - won.astype(float)) ** 2).sum()),
        "podium_brier": float(((m["p_podium"] - podium) ** 2).mean()),
        "spearman": spearman(m["expected_position"], m["position_order"]),
        "position_mae": float((m["expected_position"] - m["position_order"]).abs().mean()),
    }


def score_stage1(rows: pd.DataFrame) -> dict[str, float]:
    """rows: one race, with quali_gap_pct (actual), pred_gap, quali_best_s, pred_time_s."""
    r = rows[rows["quali_gap_pct"].notna() & rows["pred_gap"].notna()]
    if len(r) < 3:
        return {}
    pole = r.loc[r["quali_gap_pct"].idxmin(), "driver_ref"]
    predicted_pole = r.loc[r["pred_gap"].idxmin(), "driver_ref"]
    err = (r["pred_time_s"] - r["quali_best_s"]).abs().dropna()
    return {
        "grid_spearman": spearman(r["pred_gap"], r["quali_gap_pct"]),
        "pole_hit": float(pole == predicted_pole),
        "laptime_abs_errors": err.to_list(),
    }


def bootstrap_ci(values: np.ndarray, stat=np.mean, n: int = 1000, level: float = 0.9, seed: int = 7) -> tuple[float, float]:
    values = np.asarray([v for v in values if not np.isnan(v)], dtype=float)
    if len(values) == 0:
        return (np.nan, np.nan)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(values), size=(n, len(values)))
    stats = np.apply_along_axis(stat, 1, values[idx]) if stat is not np.mean else values[idx].mean(axis=1)
    lo, hi = np.quantile(stats, [(1 - level) / 2, 1 - (1 - level) / 2])
    return (float(lo), float(hi))


def share_interval(hits, n, level: float = 0.9):
    """Wilson's score interval of a share of `hits` in `n` (arrays or numbers): unlike a bootstrap
    over races it keeps a width when every race went the same way, as 12 winners called of 12 is
    not certainty."""
    z = NormalDist().inv_cdf(0.5 + level / 2)
    n = np.maximum(np.asarray(n, dtype=float), 1)
    p = np.asarray(hits, dtype=float) / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)


def mean_interval(values, share: bool, level: float = 0.9) -> tuple[float, float]:
    """The interval of a mean over races: Wilson's for a share (values 1 or 0), else a bootstrap."""
    if not share:
        return bootstrap_ci(values, level=level)
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    if len(values) == 0:
        return (np.nan, np.nan)
    lo, hi = share_interval(values.sum(), len(values), level)
    return (float(lo), float(hi))


def summarise(per_race: pd.DataFrame) -> dict[str, float]:
    out: dict[str, float] = {"races": int(len(per_race))}
    for metric in RACE_METRICS:
        vals = per_race[metric].to_numpy(dtype=float)
        out[metric] = float(np.nanmean(vals))
        out[f"{metric}_ci"] = list(mean_interval(vals, metric in SHARE_METRICS))
    return out


def summarise_stage1(per_race: pd.DataFrame) -> dict[str, float]:
    out: dict[str, float] = {"races": int(len(per_race))}
    for metric in ("grid_spearman", "pole_hit"):
        vals = per_race[metric].to_numpy(dtype=float)
        out[metric] = float(np.nanmean(vals))
        out[f"{metric}_ci"] = list(mean_interval(vals, metric in SHARE_METRICS))
    errors = per_race["laptime_abs_errors"].tolist()
    flat = np.concatenate([np.asarray(e, dtype=float) for e in errors]) if errors else np.array([])
    out["laptime_median_abs_error_s"] = float(np.median(flat)) if len(flat) else np.nan
    # resample races, then take the median of all their drivers' errors
    rng = np.random.default_rng(7)
    meds = []
    for _ in range(500):
        pick = rng.integers(0, len(errors), len(errors))
        meds.append(np.median(np.concatenate([np.asarray(errors[i], dtype=float) for i in pick])))
    out["laptime_median_abs_error_s_ci"] = [float(np.quantile(meds, 0.05)), float(np.quantile(meds, 0.95))]
    return out


# -- the walk-forward -------------------------------------------------------------------------------

@dataclass
class BacktestResult:
    predictions: pd.DataFrame  # one row per (mode, predictor, race, driver)
    per_race: pd.DataFrame  # one row per (mode, predictor, race) with every metric
    stage1_per_race: pd.DataFrame
    seconds: float
    config: TrainingConfig
    # races with rain (wetness >= WET_CHECK), each also predicted as if dry: the rain validation
    wet_races: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=WET_COLUMNS))

    def rain_validation(self, mode: str = POST) -> dict:
        """Winner log loss on the wet races with the observed rain and with rain forced to 0
        (lower is better), with the paired difference's 90% bootstrap interval."""
        w = self.wet_races[self.wet_races["mode"] == mode]
        if w.empty:
            return {"races": 0}
        diff = (w["logloss_observed"] - w["logloss_dry"]).to_numpy(dtype=float)
        return {"races": int(len(w)), "logloss_observed": float(w["logloss_observed"].mean()),
                "logloss_dry": float(w["logloss_dry"].mean()), "difference": float(diff.mean()),
                "difference_ci": list(bootstrap_ci(diff)), "dnf_observed": float(w["dnf_observed"].mean()),
                "dnf_dry": float(w["dnf_dry"].mean()), "dnf_actual": float(w["dnf_actual"].mean())}

    def summary(self) -> dict:
        out: dict = {"races": int(self.per_race[["season", "round"]].drop_duplicates().shape[0]),
                     "seconds": round(self.seconds, 1), "retrain_every": self.config.retrain_every, "modes": {}}
        for mode, g in self.per_race.groupby("mode"):
            entry = {"model": summarise(g[g["predictor"] == "model"]), "baselines": {}}
            for name in sorted(set(g["predictor"]) - {"model"}):
                entry["baselines"][name] = summarise(g[g["predictor"] == name])
            out["modes"][mode] = entry
        out["stage1"] = summarise_stage1(self.stage1_per_race)
        out["rain"] = {mode: self.rain_validation(mode) for mode in sorted(out["modes"])}
        out["code"] = BACKTEST_CODE
        return out


def entrants(rows: pd.DataFrame, mode: str) -> pd.DataFrame:
    """The cars of a run race that a prediction made when `mode` is served would have covered, so
    the backtest scores what a live prediction is scored on: before qualifying every car entered;
    after it every car that qualified, those that then did not start included, from their
    qualifying place (the sources give such a car grid 0, which reads as a pit-lane start)."""
    did_not_start = ~rows["started"]
    if mode == POST:
        did_not_start &= (rows["position_text"] == "W") & rows["quali_position"].notna()
        rows = rows.copy()
        slot = did_not_start & (rows["pit_lane_start"] == 1)
        rows.loc[slot, "grid"] = rows.loc[slot, "quali_position"]
        rows.loc[slot, "pit_lane_start"] = 0.0
    return rows[rows["started"] | did_not_start]


def walk_forward(frame: pd.DataFrame, from_season: int, to_season: int | None, config: TrainingConfig,
                 stage1: pd.DataFrame, modes: tuple[str, ...] = MODES,
                 progress: Progress | None = None, last_n_races: int | None = None,
                 reference: pd.Series | None = None,
                 calibration_scores: dict[str, pd.Series] | None = None) -> BacktestResult:
    """`stage1`: the stage 1 walk-forward (see training.stage1_walk_forward) for the same frame.
    `reference`: its rows' reference pole times, when already computed; `calibration_scores`: per
    mode, booster scores of earlier races made without seeing them (`training.train_stage2`), so
    the first model's blend does not score them again."""
    started = time.perf_counter()
    done = frame[frame["has_result"]]
    to_season = to_season or int(done["season"].max())
    target = done[(done["season"] >= from_season) & (done["season"] <= to_season)]
    races = target["race_idx"].drop_duplicates().to_numpy()
    if last_n_races:
        races = races[-last_n_races:]

    s1 = frame.loc[stage1.index].assign(pred_gap=stage1["pred_gap"])
    reference = reference_times(frame) if reference is None else reference
    s1["pred_time_s"] = reference.loc[s1.index] * (1 + s1["pred_gap"] / 100)
    stage1_rows = [dict(season=int(g["season"].iloc[0]), round=int(g["round"].iloc[0]), **score_stage1(g))
                   for _, g in s1[s1["race_idx"].isin(races)].groupby("race_idx")]
    stage1_per_race = pd.DataFrame([r for r in stage1_rows if "grid_spearman" in r])

    # stage 1's view of every driver, carried by the predictions of both modes
    s1_extra = pd.DataFrame({"pred_gap": s1["pred_gap"], "pred_quali_time_s": s1["pred_time_s"],
                             "pred_grid": s1.groupby("race_idx")["pred_gap"].rank(method="first")})
    wet_rows: list[dict] = []
    views = {mode: stage2_rows(frame, mode, stage1) for mode in modes}
    preds, scores = [], []
    # (given scores of the races predicted here are left out: those races get the walk-forward's own)
    scores_seen = {mode: pd.Series(dtype=float) for mode in modes}
    for mode, known in (calibration_scores or {}).items():
        if mode in scores_seen and len(known):
            scores_seen[mode] = known[frame.loc[known.index, "race_idx"].to_numpy() < races[0]]
    blocks = [races[i:i + config.retrain_every] for i in range(0, len(races), config.retrain_every)]
    for b, block in enumerate(blocks):
        cutoff = int(block[0])
        history = done[done["race_idx"] < cutoff]
        tables = position_tables(history)
        dnf_rate = float(history[history["season"] >= config.stage2_from]["dnf"].mean())
        def run_mode(mode: str) -> tuple[list, list, list]:
            """This block's model of one mode and its predictions, scores and wet-race checks. The
            modes do not depend on one another, so they train side by side, joined in mode order."""
            preds_m, scores_m, wet_m = [], [], []
            view = views[mode]
            model = train_stage2(view, cutoff, mode, config, calibration_scores=scores_seen[mode])
            known = getattr(model, "calibration_scores_", None)
            if known is not None:
                scores_seen[mode] = pd.concat([scores_seen[mode], known[~known.index.isin(scores_seen[mode].index)]])
            for race in block:
                rows = entrants(view[view["race_idx"] == race], mode)
                if rows.empty:
                    continue
                # the booster's score of a race it has not seen: calibration material for later blocks
                scored = rows[rows["started"] & rows["grid"].notna()]
                scores_seen[mode] = pd.concat([scores_seen[mode], pd.Series(model.raw_strengths(scored),
                                                                            index=scored.index)])
                season, rnd = int(rows["season"].iloc[0]), int(rows["round"].iloc[0])
                actual = rows[["driver_ref", "position_order"]]
                fields = {"model": predict_field(model, rows, race_seed(season, rnd)),
                          **baseline_fields(rows, tables, dnf_rate, mode)}
                w = float(wetness(rows["rain"].iloc[0])) if "rain" in rows else 0.0
                if w >= WET_CHECK:  # the same race as if dry: does the observed rain help?
                    dry = predict_field(model, rows.assign(rain=0.0), race_seed(season, rnd))
                    wet_m.append(dict(mode=mode, season=season, round=rnd, rain=float(rows["rain"].iloc[0]),
                                      wetness=w, logloss_observed=score_race(fields["model"], actual)["winner_logloss"],
                                      logloss_dry=score_race(dry, actual)["winner_logloss"],
                                      dnf_observed=float(fields["model"]["p_dnf"].mean()),
                                      dnf_dry=float(dry["p_dnf"].mean()),
                                      dnf_actual=float(rows["dnf"].mean())))
                extra = s1_extra.reindex(rows.index).assign(
                    quali_time_s=rows["quali_best_s"], finish=rows["position_order"],
                    actual_grid=frame.loc[rows.index, "grid"])
                for predictor, field_pred in fields.items():
                    scores_m.append(dict(mode=mode, predictor=predictor, season=season, round=rnd,
                                         **score_race(field_pred, actual)))
                    preds_m.append(field_pred[["driver_ref", "p_win", "p_podium", "p_points", "p_dnf",
                                               "expected_position"]].assign(
                        mode=mode, predictor=predictor, season=season, round=rnd,
                        grid=rows.loc[field_pred.index, "grid"].to_numpy(),
                        position_order=rows.loc[field_pred.index, "position_order"].to_numpy(),
                        **{c: extra.loc[field_pred.index, c].to_numpy() for c in extra.columns}))
            return preds_m, scores_m, wet_m

        for preds_m, scores_m, wet_m in in_parallel(run_mode, list(modes)):
            preds += preds_m
            scores += scores_m
            wet_rows += wet_m
        steps(progress, "race model: block", b + 1, len(blocks))
    return BacktestResult(pd.concat(preds, ignore_index=True), pd.DataFrame(scores), stage1_per_race,
                          time.perf_counter() - started, config, pd.DataFrame(wet_rows, columns=WET_COLUMNS))


# The code a backtest's figures come from: a stored run made by other code is re-run by the upkeep
# (lifecycle.backtest_due), so the Accuracy page never shows figures the served code would not give
BACKTEST_CODE = code_hash(sys.modules[__name__], _baselines_module, _calibration_module, _features_module,
                          _models_module, _rating_filter_module, _reference_module, _training_module,
                          _weather_effect_module)
