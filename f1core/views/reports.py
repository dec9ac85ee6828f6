"""Aggregations of the stored walk-forward backtest, the live track record and the model registry,
ready for the Accuracy, Drift and Models pages (no Streamlit here).

Every figure is out-of-sample: the inputs are the backtest's per-race scores and probabilities,
where each race was predicted by models trained only on races dated before it, and the baselines
were scored the same way on the same races. Intervals are 90% intervals over races, which are the
independent units, not drivers: Wilson's for a share of races (winner picked, pole picked), a
bootstrap for everything else (`f1core.engine.backtest.mean_interval`).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from f1core.engine.backtest import (
    RACE_METRICS,
    SHARE_METRICS,
    STAGE1_METRICS,
    bootstrap_ci,
    mean_interval,
    score_stage1,
    share_interval,
)
from f1core.engine.reference import reference_times
from f1core.engine.registry import ARTIFACT, Registry
from f1core.engine.training import POST
from f1core.store import Store
from f1core.views.terms import (
    METRICS,
    MIN_RACES_TO_TELL,
    MODE_LABEL,
    PREDICTOR_LABEL,
    TOO_FEW,
    TOO_SMALL,
    no_width,
    ordered_predictors,
)

LEVEL = 0.9  # every interval of the reports


def _mean_ci(values, stat=np.mean, share: bool = False) -> tuple[float, float, float, int]:
    """The statistic of the races' values, its 90% interval (Wilson's for a `share` of hits, else a
    bootstrap over races) and the number of races."""
    vals = np.asarray(values, dtype=float)
    vals = vals[~np.isnan(vals)]
    if len(vals) == 0:
        return np.nan, np.nan, np.nan, 0
    lo, hi = mean_interval(vals, share, LEVEL) if stat is np.mean else bootstrap_ci(vals, stat=stat, level=LEVEL)
    return float(stat(vals)), lo, hi, int(len(vals))


# -- headline --------------------------------------------------------------------------------------

def headline(summary: dict, mode: str) -> pd.DataFrame:
    """Every race metric of the model and each baseline for one mode, from a stored backtest
    summary: metric, label, predictor, value, lo, hi, races."""
    entry = summary.get("modes", {}).get(mode)
    if not entry:
        return pd.DataFrame(columns=["metric", "label", "predictor", "value", "lo", "hi", "races"])
    sources = {"model": entry["model"], **entry.get("baselines", {})}
    rows = []
    for metric in RACE_METRICS:
        for predictor in ordered_predictors(sources):
            s = sources[predictor]
            lo, hi = (s.get(f"{metric}_ci") or [np.nan, np.nan])[:2]
            rows.append({"metric": metric, "label": METRICS[metric].label, "predictor": predictor,
                         "value": s.get(metric, np.nan), "lo": lo, "hi": hi, "races": s.get("races")})
    return pd.DataFrame(rows).astype({"value": float, "lo": float, "hi": float})


def _verdict(races: int, lo: float, hi: float, higher_is_better: bool, better: str, worse: str) -> str:
    """What a paired difference's 90% interval over `races` says: `better` or `worse` when it
    leaves out zero, otherwise why it cannot tell."""
    if races == 0:
        return "too close to call"
    if no_width(lo, hi):
        return TOO_SMALL
    if races < MIN_RACES_TO_TELL:
        return TOO_FEW
    if lo <= 0 <= hi:
        return "too close to call"
    return better if (lo > 0) == higher_is_better else worse


def paired_differences(per_race: pd.DataFrame, mode: str) -> pd.DataFrame:
    """Model minus each baseline, race by race (same races), with a 90% bootstrap interval of the
    mean difference: metric, baseline, difference, lo, hi, races, verdict ('model better',
    'baseline better', 'too close to call', 'identical' when they never differ, 'sample too
    small for an interval' when the interval has no width otherwise: one race, or races that all
    differ alike, or 'too few races to tell' under `MIN_RACES_TO_TELL`)."""
    g = per_race[per_race["mode"] == mode]
    rows = []
    if g.empty:
        return pd.DataFrame(columns=["metric", "baseline", "difference", "lo", "hi", "races", "verdict"])
    wide = g.pivot_table(index=["season", "round"], columns="predictor", values=RACE_METRICS, aggfunc="first")
    predictors = set(g["predictor"])
    for baseline in ordered_predictors(predictors - {"model"}):
        if "model" not in predictors:
            break
        for metric in RACE_METRICS:
            diff = (wide[(metric, "model")] - wide[(metric, baseline)]).dropna().to_numpy()
            mean, lo, hi, n = _mean_ci(diff)
            verdict = "identical" if n and lo == hi == 0 else _verdict(
                n, lo, hi, METRICS[metric].higher_is_better, "model better", "baseline better")
            rows.append({"metric": metric, "baseline": baseline, "difference": mean, "lo": lo, "hi": hi,
                         "races": n, "verdict": verdict})
    return pd.DataFrame(rows)


def headline_table(summary: dict, per_race: pd.DataFrame, mode: str) -> pd.DataFrame:
    """One row per metric, for people: each predictor's value with its interval ('64% (55%–71%)'),
    the verdict of the model against each baseline ('vs grid') and the paired difference with its
    interval ('model − grid'), race by race over the same races."""
    h = headline(summary, mode)
    if h.empty:
        return pd.DataFrame()
    diffs = paired_differences(per_race, mode)
    rows = []
    for metric, g in h.groupby("metric", sort=False):
        info = METRICS[metric]
        row = {"metric": info.label, "better": info.better}
        for r in g.itertuples():
            row[PREDICTOR_LABEL.get(r.predictor, r.predictor)] = info.with_interval(r.value, r.lo, r.hi)
        for d in diffs[diffs["metric"] == metric].itertuples():
            row[f"vs {d.baseline}"] = d.verdict
        for d in diffs[diffs["metric"] == metric].itertuples():
            row[f"model − {d.baseline}"] = info.difference_with_interval(d.difference, d.lo, d.hi)
        rows.append(row)
    return pd.DataFrame(rows)


def rain_check(summary: dict) -> pd.DataFrame | None:
    """The backtest's rain validation for people, one row per mode: on its wet races, the winner log
    loss with the observed rain against the same models with the rain forced to 0 (lower is better),
    the paired difference with its 90% interval and a verdict, and the mean retirement chance both
    ways beside the share of cars that were not classified. None for a run made before the check."""
    if "rain" not in summary:
        return None
    info = METRICS["winner_logloss"]
    rows = []
    for mode, check in summary["rain"].items():
        races = int(check.get("races", 0))
        row = {"predictions": MODE_LABEL.get(mode, mode), "wet races": races}
        if races:
            lo, hi = check["difference_ci"]
            # the difference is a log loss, with the rain minus as if dry: below zero the rain helps
            verdict = _verdict(races, lo, hi, False, "the rain helps", "the rain hurts")
            row |= {"log loss with rain": info.format(check["logloss_observed"]),
                    "log loss as if dry": info.format(check["logloss_dry"]),
                    "difference (90%)": info.difference_with_interval(check["difference"], lo, hi),
                    "verdict": verdict,
                    "DNF chance with rain": f"{check['dnf_observed']:.1%}",
                    "DNF chance as if dry": f"{check['dnf_dry']:.1%}",
                    "cars not classified": f"{check['dnf_actual']:.1%}"}
        rows.append(row)
    return pd.DataFrame(rows)


def rain_check_line(mode: str, check: dict) -> str:
    """One mode's rain check in a line, for the terminal (the `backtest` command, the benchmark)."""
    if not check.get("races"):
        return f"rain check, {mode}: no wet race in the backtest"
    lo, hi = check["difference_ci"]
    return (f"rain check, {mode}: {check['races']} wet races, winner log loss {check['logloss_observed']:.3f} with "
            f"the rain vs {check['logloss_dry']:.3f} as if dry (difference {check['difference']:+.3f}, 90% {lo:+.3f} "
            f"to {hi:+.3f}); mean DNF chance {check['dnf_observed']:.3f} vs {check['dnf_dry']:.3f}, actual "
            f"{check['dnf_actual']:.3f}")


def top1_margin(summary: dict, mode: str) -> float | None:
    """Half the width of the model's winner-picked interval, in points: how precisely the
    backtest knows that figure (about 5 points for about 90 races)."""
    s = summary.get("modes", {}).get(mode, {}).get("model", {})
    ci = s.get("winner_top1_ci")
    if not ci or any(pd.isna(c) for c in ci):
        return None
    return (ci[1] - ci[0]) / 2 * 100


# -- by season and over time -----------------------------------------------------------------------

def season_metrics(per_race: pd.DataFrame, metrics: list[str] | None = None) -> pd.DataFrame:
    """Mean of each metric per mode, predictor and season, with a 90% interval over that season's
    races (`_mean_ci`): mode, predictor, season, metric, value, lo, hi, races."""
    metrics = metrics or RACE_METRICS
    rows = []
    for (mode, predictor, season), g in per_race.groupby(["mode", "predictor", "season"], sort=True):
        for metric in metrics:
            value, lo, hi, n = _mean_ci(g[metric], share=metric in SHARE_METRICS)
            rows.append({"mode": mode, "predictor": predictor, "season": int(season), "metric": metric,
                         "value": value, "lo": lo, "hi": hi, "races": n})
    return pd.DataFrame(rows, columns=["mode", "predictor", "season", "metric", "value", "lo", "hi", "races"])


def rolling_metrics(per_race: pd.DataFrame, window: int = 12,
                    metrics: tuple[str, ...] = ("winner_top1", "winner_logloss")) -> pd.DataFrame:
    """The mean of each metric over the last `window` races, race after race, per mode and
    predictor (points before `window` races are left out): mode, predictor, season, round,
    race_name, date, metric, value."""
    rows = []
    for (mode, predictor), g in per_race.groupby(["mode", "predictor"], sort=True):
        g = g.sort_values(["date", "season", "round"])
        for metric in metrics:
            rolled = g[metric].astype(float).rolling(window, min_periods=window).mean()
            part = g[["season", "round", "race_name", "date"]].assign(mode=mode, predictor=predictor,
                                                                       metric=metric, value=rolled.to_numpy())
            rows.append(part[part["value"].notna()])
    cols = ["mode", "predictor", "season", "round", "race_name", "date", "metric", "value"]
    return pd.concat(rows, ignore_index=True)[cols] if rows else pd.DataFrame(columns=cols)


# -- calibration -----------------------------------------------------------------------------------

RELIABILITY_EDGES = {
    "win": [0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.45, 0.6, 0.8, 1.0],
    "podium": [0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0],
}
OUTCOME_COLUMN = {"win": ("p_win", 1), "podium": ("p_podium", 3)}


def reliability(predictions: pd.DataFrame, outcome: str = "win", edges: list[float] | None = None,
                by: str | None = None) -> pd.DataFrame:
    """Reliability-diagram bins of the backtest's probabilities: per mode, predictor (and `by`,
    e.g. "season", when given) and bin of predicted probability, the mean predicted probability,
    the observed frequency of the outcome ('win' or 'podium') with a 90% Wilson interval, and the
    number of driver-races in the bin. Empty bins are left out."""
    column, places = OUTCOME_COLUMN[outcome]
    edges = np.asarray(edges or RELIABILITY_EDGES[outcome], dtype=float)
    keys = ([by] if by else []) + ["mode", "predictor"]
    cols = [*keys, "bin", "bin_lo", "bin_hi", "predicted", "observed", "observed_lo", "observed_hi", "count", "hits"]
    p = predictions[predictions[column].notna() & predictions["position_order"].notna()]
    if p.empty:
        return pd.DataFrame(columns=cols)
    hit = (p["position_order"] <= places).astype(float)
    b = np.clip(np.searchsorted(edges, p[column].to_numpy(dtype=float), side="right") - 1, 0, len(edges) - 2)
    frame = p[keys].reset_index(drop=True).assign(bin=b, p=p[column].to_numpy(dtype=float), hit=hit.to_numpy())
    out = frame.groupby([*keys, "bin"]).agg(predicted=("p", "mean"), observed=("hit", "mean"),
                                            count=("hit", "size"), hits=("hit", "sum")).reset_index()
    out["bin_lo"] = edges[out["bin"]]
    out["bin_hi"] = edges[out["bin"] + 1]
    lo, hi = share_interval(out["hits"].to_numpy(), out["count"].to_numpy(), LEVEL)
    out["observed_lo"] = np.where(out["hits"] == 0, 0.0, lo)
    out["observed_hi"] = np.where(out["hits"] == out["count"], 1.0, hi)
    out["hits"] = out["hits"].astype(int)
    return out[cols]


# -- qualifying (stage 1) --------------------------------------------------------------------------

def stage1_baseline(store: Store, frame: pd.DataFrame, races: tuple[tuple[int, int], ...],
                    ref: pd.Series | None = None) -> pd.DataFrame:
    """The naive qualifying forecast scored like stage 1 on the given (season, round) races: every
    driver's gap to pole is the one he had at his previous race (drivers without one go to the
    back), turned into a lap time with the same reference pole time (`ref`, per frame row: the
    engine's `reference_poles()`; computed here when not given). Out-of-sample by construction:
    the previous race is always known before qualifying. `store` is unused (the signature fits
    `cached_frame_query`). Returns season, round, grid_spearman, pole_hit,
    laptime_median_abs_error_s."""
    del store
    cols = ["season", "round", *STAGE1_METRICS]
    if not races:
        return pd.DataFrame(columns=cols)
    wanted = pd.MultiIndex.from_tuples([(int(s), int(r)) for s, r in races])
    rows = frame[frame["has_result"] & pd.MultiIndex.from_frame(frame[["season", "round"]]).isin(wanted)].copy()
    ref = reference_times(frame) if ref is None else ref
    rows["pred_gap"] = rows["drv_qgap_last"].fillna(rows.groupby("race_idx")["drv_qgap_last"].transform("max") + 1)
    rows["pred_gap"] = rows["pred_gap"].fillna(rows["quali_gap_pct"].max())
    rows["pred_time_s"] = ref.loc[rows.index] * (1 + rows["pred_gap"] / 100)
    out = []
    for (season, rnd), g in rows.groupby(["season", "round"]):
        scores = score_stage1(g)
        if "grid_spearman" not in scores:
            continue
        errors = scores.pop("laptime_abs_errors")
        out.append({"season": int(season), "round": int(rnd), **scores,
                    "laptime_median_abs_error_s": float(np.median(errors)) if len(errors) else np.nan})
    return pd.DataFrame(out, columns=cols)


def stage1_by_season(stage1: pd.DataFrame, baseline: pd.DataFrame | None = None) -> pd.DataFrame:
    """Stage 1 per season (and over all seasons, season = 'all'), model and baseline on the same
    races: predictor, season, metric, value, lo, hi, races. Means for grid Spearman and pole hit;
    for the lap-time error, the median over races of each race's median error."""
    parts = {"model": stage1}
    if baseline is not None and not baseline.empty:
        keys = stage1[["season", "round"]]
        parts["last race"] = baseline.merge(keys, on=["season", "round"])
    rows = []
    for predictor, per_race in parts.items():
        groups = [(str(s), g) for s, g in per_race.groupby("season")] + [("all", per_race)]
        for season, g in groups:
            for metric in STAGE1_METRICS:
                stat = np.median if metric == "laptime_median_abs_error_s" else np.mean
                value, lo, hi, n = _mean_ci(g[metric], stat, share=metric in SHARE_METRICS)
                rows.append({"predictor": predictor, "season": season, "metric": metric, "value": value,
                             "lo": lo, "hi": hi, "races": n})
    return pd.DataFrame(rows, columns=["predictor", "season", "metric", "value", "lo", "hi", "races"])


# -- live track record -----------------------------------------------------------------------------

RECORD_KEYS = ["season", "round", "session", "mode"]  # one scored session of the track record


def track_record_with_baselines(record: pd.DataFrame, per_race: pd.DataFrame) -> pd.DataFrame:
    """The live track record (frozen predictions scored after the race) with, for each race, the
    backtest's baselines scored in the same mode on the same race: one row per session and
    predictor ('model' is the frozen prediction): season, round, race, date, session, mode,
    predictor, model_version and the metrics. Sprints and races the backtest has not reached have
    the model's row only."""
    if record.empty:
        return record
    model = record.assign(predictor="model")
    base = per_race[per_race["predictor"] != "model"].drop(columns=["run_id", "race_name", "date"], errors="ignore")
    races = record[record["session"] == "race"]
    base = base.merge(races[[*RECORD_KEYS, "race", "date", "model_version"]], on=["season", "round", "mode"],
                      how="inner")
    out = pd.concat([model, base], ignore_index=True)
    return out.sort_values(["date", "predictor"], ascending=[False, True]).reset_index(drop=True)


def compared_sessions(record: pd.DataFrame) -> pd.DataFrame:
    """The rows of the sessions every predictor of `record` was scored on: means over different
    sessions (the model's sprints beside the baselines' races) would compare nothing."""
    if record.empty or record["predictor"].nunique() < 2:  # the model alone compares with nothing
        return record.iloc[0:0]
    keyed = record.set_index(RECORD_KEYS)
    shared = None
    for _, g in keyed.groupby("predictor"):
        shared = g.index if shared is None else shared.intersection(g.index)
    return keyed[keyed.index.isin(shared)].reset_index()


def record_summary(record: pd.DataFrame) -> pd.DataFrame:
    """Mean of each metric per predictor over the sessions of the track record every predictor has
    (`compared_sessions`), with 90% intervals (`_mean_ci`): predictor, metric, value, lo, hi, races."""
    rows = []
    record = compared_sessions(record)
    if record.empty:
        return pd.DataFrame(columns=["predictor", "metric", "value", "lo", "hi", "races"])
    for predictor in ordered_predictors(record["predictor"]):
        g = record[record["predictor"] == predictor]
        for metric in RACE_METRICS:
            value, lo, hi, n = _mean_ci(g[metric], share=metric in SHARE_METRICS)
            rows.append({"predictor": predictor, "metric": metric, "value": value, "lo": lo, "hi": hi, "races": n})
    return pd.DataFrame(rows)


# -- registry --------------------------------------------------------------------------------------

def recent_baselines(per_race: pd.DataFrame, through: tuple[int, int], n_races: int,
                     mode: str = POST) -> dict[str, dict[str, float]]:
    """Each baseline's mean metrics over the last `n_races` races up to `through` (season, round)
    in the backtest: what a model's 'recent' walk-forward metrics are to be compared with.
    Empty when the backtest does not cover all those races."""
    g = per_race[(per_race["mode"] == mode)]
    key = g["season"] * 1000 + g["round"]
    g = g[key <= through[0] * 1000 + through[1]]
    races = (g["season"] * 1000 + g["round"]).drop_duplicates().sort_values()
    if len(races) < n_races:
        return {}
    last = set(races.iloc[-n_races:])
    g = g[(g["season"] * 1000 + g["round"]).isin(last)]
    return {p: {m: float(np.nanmean(grp[m])) for m in RACE_METRICS} | {"races": int(len(grp))}
            for p, grp in g.groupby("predictor")}


def registry_table(registry: Registry, per_race: pd.DataFrame | None = None) -> pd.DataFrame:
    """`Registry.versions()` with, per version, whether its artifact is on disk and the grid
    baseline's log loss and winner-picked rate over the same recent races its own recent
    walk-forward metrics cover (NaN when the backtest does not cover them)."""
    table = registry.versions()
    if table.empty:
        return table
    index = registry.index().get("versions", {})
    table["artifact"] = [(registry.root / v / ARTIFACT).exists() for v in table["version"]]
    grid_loss, grid_top1 = [], []
    for v, n in zip(table["version"], table.get("recent_races", pd.Series([None] * len(table)))):
        window = index.get(v, {}).get("training_window", {})
        base = {}
        if per_race is not None and not per_race.empty and window.get("last_season") and n and not pd.isna(n):
            base = recent_baselines(per_race, (int(window["last_season"]), int(window["last_round"])), int(n))
        grid = base.get("grid", {})
        grid_loss.append(grid.get("winner_logloss", np.nan))
        grid_top1.append(grid.get("winner_top1", np.nan))
    # the registry has them for versions that stored their baselines; the backtest fills the others
    for column, values in (("grid_recent_logloss", grid_loss), ("grid_recent_top1", grid_top1)):
        stored = pd.to_numeric(table.get(column, pd.Series(np.nan, index=table.index)), errors="coerce")
        table[column] = stored.fillna(pd.Series(values, index=table.index, dtype=float))
    return table.reset_index(drop=True)


def rollback_candidates(registry: Registry) -> list[str]:
    """Versions other than the champion whose artifact is on disk, newest first."""
    index = registry.index()
    champion = index.get("champion")
    return sorted((v for v in index.get("versions", {})
                   if v != champion and (registry.root / v / ARTIFACT).exists()), reverse=True)
