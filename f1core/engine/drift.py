"""Feature drift: PSI and KL divergence between the champion's recent training data and rolling
windows of later-or-recent races.

Features that follow the calendar (weather, circuit, season stage) are shown but do not count
towards the retraining suggestion. The reference is the last three seasons of the champion's training window (what the model mostly
reflects); the windows are the latest `WINDOW` races ending at each race of the last two seasons,
plus the races not yet run, as a time series. Per-race scores are noise, hence windows of a dozen
races or more.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from f1core.engine.features import FEATURE_BY_NAME
from f1core.engine.registry import ModelBundle
from f1core.engine.training import POST
from f1core.names import plural

WINDOW = 12
MODERATE, MAJOR = 0.1, 0.25
BINS = 10
EPS = 1e-4


def _bin_edges(reference: np.ndarray) -> np.ndarray:
    values = reference[~np.isnan(reference)]
    if len(values) == 0:
        return np.array([-np.inf, np.inf])
    inner = np.unique(np.quantile(values, np.linspace(0, 1, BINS + 1)[1:-1]))
    return np.r_[-np.inf, inner, np.inf]


def _shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Share of values per bin, with missing values as one more bin."""
    missing = np.isnan(values)
    counts = np.histogram(values[~missing], bins=edges)[0]
    counts = np.r_[counts, missing.sum()].astype(float)
    shares = counts / max(counts.sum(), 1)
    return np.clip(shares, EPS, None)


def psi_kl(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    edges = _bin_edges(reference)
    p, q = _shares(reference, edges), _shares(current, edges)
    psi = float(((q - p) * np.log(q / p)).sum())
    kl = float((q * np.log(q / p)).sum())
    return psi, kl


def drift_series(frame: pd.DataFrame, bundle: ModelBundle) -> pd.DataFrame:
    features = bundle.race_models[POST].features
    window = bundle.training_window
    last_season = int(window["last_season"])
    ref = frame[frame["has_result"] & frame["season"].between(last_season - 2, last_season)]
    races = frame.drop_duplicates("race_idx")[["race_idx", "season", "round", "has_result", "date"]].sort_values("race_idx")
    recent = races[races["season"] >= last_season - 1]
    ref_values = {f: ref[f].to_numpy(dtype=float) for f in features}
    rows = []
    race_ids = races["race_idx"].to_numpy()
    for end in recent.itertuples(index=False):
        pos = int(np.flatnonzero(race_ids == end.race_idx)[0])
        window_ids = race_ids[max(0, pos - WINDOW + 1): pos + 1]
        cur = frame[frame["race_idx"].isin(window_ids)]
        for f in features:
            psi, kl = psi_kl(ref_values[f], cur[f].to_numpy(dtype=float))
            rows.append({"season": int(end.season), "round": int(end.round), "date": end.date,
                         "upcoming": not bool(end.has_result), "feature": f, "psi": psi, "kl": kl})
    return pd.DataFrame(rows)


def summarise(series: pd.DataFrame, bundle: ModelBundle) -> dict:
    if series.empty:
        return {"suggest_retrain": False, "message": "not enough races to measure drift", "latest": pd.DataFrame()}
    done = series[~series["upcoming"]]
    last = done if not done.empty else series
    end = last.sort_values("date").iloc[-1]
    latest = last[(last["season"] == end["season"]) & (last["round"] == end["round"])]
    latest = latest.sort_values("psi", ascending=False).reset_index(drop=True)
    model = bundle.race_models[POST]
    gain = pd.Series(model.booster_.feature_importance("gain"), index=model.features)
    important = set(gain.sort_values(ascending=False).index[:8])
    latest["calendar"] = ~latest["feature"].map(lambda f: FEATURE_BY_NAME[f].drift_signal)
    counted = latest[~latest["calendar"]]  # calendar-driven features move with the circuits visited
    major = counted[counted["psi"] >= MAJOR]
    moderate = counted[(counted["psi"] >= MODERATE) & (counted["psi"] < MAJOR)]
    major_important = major[major["feature"].isin(important)]
    suggest = len(major_important) > 0 or len(major) + len(moderate) >= 5
    label = lambda names: ", ".join(FEATURE_BY_NAME[f].label.lower() for f in names)  # noqa: E731
    calendar_major = int((latest["calendar"] & (latest["psi"] >= MAJOR)).sum())
    not_counted = (f"; {calendar_major} more above {MAJOR} follow the calendar (weather, circuits, how far through "
                   "the season) and are not counted") if calendar_major else ""
    if suggest:
        names = label((major_important if len(major_important) else major)["feature"].head(4)) or \
            label(moderate["feature"].head(4))
        message = (f"drift suggests retraining: {plural(len(major), 'feature')} above PSI {MAJOR}, "
                   f"{len(moderate)} between {MODERATE} and {MAJOR} (most: {names}){not_counted}")
    else:
        message = (f"no retraining needed for drift: {plural(len(major), 'feature')} above PSI {MAJOR}, "
                   f"{len(moderate)} between {MODERATE} and {MAJOR}, none of them among the most important"
                   f"{not_counted}")
    return {"suggest_retrain": suggest, "message": message, "latest": latest,
            "window_end": f"{int(end['season'])} R{int(end['round'])}", "important": sorted(important)}
