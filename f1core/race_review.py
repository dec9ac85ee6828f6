"""Past races: the prediction made before a race, next to what happened; and two helpers of the
What-if page. No Streamlit.

The prediction comes from the public prediction log (what the app showed before the race) when
the log has the race, else from the walk-forward backtest (models trained only on races before
it, so still out-of-sample), else there is none and only the result is shown. The race is scored
with the backtest's own metrics (`score_race`), beside the grid and form baselines of the
backtest when it covers the race.

What-if: the weather a scenario starts from when a race's own conditions are not known yet, and
a whole grid typed as slot numbers turned into a grid order (or a plain ScenarioError).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from f1core.engine.backtest import HIGHER_IS_BETTER, RACE_METRICS, score_race
from f1core.engine.scenario import ScenarioError
from f1core.store import RaceRef, Store

if TYPE_CHECKING:
    from f1core.engine.service import Engine

LOG = "prediction log"
BACKTEST = "backtest"
POST = "post-qualifying"
PRE = "pre-qualifying"

METRIC_LABELS = {
    "winner_top1": "Favourite won",
    "winner_top3": "Winner in top 3 picks",
    "winner_logloss": "Winner log loss",
    "multiclass_brier": "Win Brier",
    "podium_brier": "Podium Brier",
    "spearman": "Order (Spearman)",
    "position_mae": "Position error",
}
METRIC_HELP = {
    "winner_top1": "1 when the driver with the highest win chance won, else 0.",
    "winner_top3": "1 when the winner was one of the three drivers with the highest win chances.",
    "winner_logloss": "−ln(chance given to the actual winner): 0.69 for 50%, 2.3 for 10%. Lower is better.",
    "multiclass_brier": "Squared error of the win chances over the whole field. Lower is better.",
    "podium_brier": "Mean squared error of the podium chances per driver. Lower is better.",
    "spearman": "Rank correlation of expected and actual finishing order, from −1 to 1. Higher is better.",
    "position_mae": "Mean distance between expected and actual finishing position, in places. Lower is better.",
}
BASELINE_LABELS = {"grid": "grid baseline", "form": "form baseline"}


# -- the actual result ------------------------------------------------------------------------------

def actual_result(store: Store, season: int, round_: int) -> pd.DataFrame:
    """The classified result of a race, one row per driver in finishing order: driver_ref, code,
    driver_name, constructor_ref, team_name, grid (0 = pit lane), position_order, position_text,
    status, points, finished (classified with a position). Empty when the race has no result."""
    return store.read(
        """
        SELECT r.driver_ref,
               coalesce(d.code, upper(substr(r.driver_ref, 1, 3))) AS code,
               coalesce(d.forename || ' ' || d.surname, r.driver_ref) AS driver_name,
               r.constructor_ref, coalesce(c.name, r.constructor_ref) AS team_name,
               r.grid, r.position_order, r.position_text, r.status, r.points,
               coalesce(regexp_full_match(r.position_text, '[0-9]+'), false) AS finished
        FROM results r
        LEFT JOIN drivers d USING (driver_ref)
        LEFT JOIN constructors c USING (constructor_ref)
        WHERE r.season = ? AND r.round = ?
        ORDER BY r.position_order
        """, [season, round_])


def driver_names(store: Store, driver_refs: list[str]) -> pd.DataFrame:
    """driver_ref, code, driver_name for the given drivers."""
    if not driver_refs:
        return pd.DataFrame(columns=["driver_ref", "code", "driver_name"])
    return store.read(
        "SELECT driver_ref, coalesce(code, upper(substr(driver_ref, 1, 3))) AS code, "
        "forename || ' ' || surname AS driver_name FROM drivers WHERE list_contains(?, driver_ref)",
        [list(driver_refs)])


def races_of_season(store: Store, season: int) -> list[RaceRef]:
    """The races of `season` that have results, latest first."""
    return [r for r in reversed(store.races_with_results(since_season=season)) if r.season == season]


# -- where the prediction comes from ---------------------------------------------------------------

@dataclass
class PredictionSource:
    kind: str | None  # LOG, BACKTEST or None (no prediction exists for the race)
    predictions: pd.DataFrame  # driver_ref, p_win, p_podium, p_points, p_dnf, expected_position, ...
    mode: str | None = None  # 'pre-qualifying' | 'post-qualifying'
    model_version: str | None = None
    logged_at: pd.Timestamp | None = None  # when the prediction was frozen (prediction log)
    run_id: int | None = None  # the backtest run (backtest source, or the baselines' run)
    baselines: dict[str, pd.DataFrame] = field(default_factory=dict)  # 'grid' / 'form' -> same columns
    backtest_seasons: tuple[int, int] | None = None  # the seasons the latest backtest covers

    @property
    def mode_words(self) -> str:
        return {POST: "after qualifying (with the real grid)",
                PRE: "before qualifying (with a predicted grid)"}.get(self.mode or "", "")

    @property
    def description(self) -> str:
        """Where the prediction comes from, in plain words."""
        if self.kind == LOG:
            when = f" on {self.logged_at:%-d %b %Y at %H:%M} UTC" if self.logged_at is not None else ""
            return (f"The prediction the app published before the race (the prediction log), frozen{when} "
                    f"by model {self.model_version}, {self.mode_words}.")
        if self.kind == BACKTEST:
            return (f"The walk-forward backtest (run {self.run_id}), {self.mode_words}: a model trained only on "
                    "races before this one, so it never saw this result. The app did not publish a "
                    "prediction for this race before it was run.")
        if self.run_id is None:
            backtest = "no backtest has run yet"
        elif self.backtest_seasons:
            first, last = self.backtest_seasons
            span = f"season {first}" if first == last else f"seasons {first} to {last}"
            backtest = f"the backtest (run {self.run_id}) covers {span} only"
        else:
            backtest = f"the backtest (run {self.run_id}) does not cover it"
        return (f"The app did not publish a prediction before this race was run, and {backtest}: "
                "only the actual result is shown.")


def prediction_source(engine: Engine, season: int, round_: int) -> PredictionSource:
    """The prediction log's last prediction before the race when there is one, else the latest
    backtest's model prediction (after qualifying when it has it), else none. The backtest's
    baselines for the race come along whenever the backtest covers it."""
    latest = engine.latest_backtest()
    run_id = latest["run_id"] if latest else None
    backtest = engine.backtest_predictions(run_id, season, round_) if run_id is not None else pd.DataFrame()
    modes = set(backtest["mode"]) if not backtest.empty else set()
    bt_mode = POST if POST in modes else (PRE if PRE in modes else None)

    frozen = engine.frozen_prediction(season, round_)
    if not frozen.empty:
        mode = str(frozen["mode"].iloc[0])
        source = PredictionSource(LOG, _prediction_columns(frozen), mode=mode,
                                  model_version=str(frozen["model_version"].iloc[0]),
                                  logged_at=pd.Timestamp(frozen["logged_at"].iloc[0]), run_id=run_id)
    elif bt_mode is not None:
        rows = backtest[(backtest["mode"] == bt_mode) & (backtest["predictor"] == "model")]
        source = PredictionSource(BACKTEST, _prediction_columns(rows), mode=bt_mode,
                                  model_version=latest.get("model_version") if latest else None, run_id=run_id)
    else:
        source = PredictionSource(None, pd.DataFrame(columns=_PRED_COLUMNS), run_id=run_id)
    source.baselines = _baselines(backtest, source.mode)
    summary = latest.get("summary", {}) if latest else {}
    if summary.get("from_season") and summary.get("to_season"):
        source.backtest_seasons = (int(summary["from_season"]), int(summary["to_season"]))
    return source


_PRED_COLUMNS = ["driver_ref", "p_win", "p_podium", "p_points", "p_dnf", "expected_position"]


def _prediction_columns(rows: pd.DataFrame) -> pd.DataFrame:
    extra = [c for c in ("grid", "position_p10", "position_p90") if c in rows.columns]
    return rows[_PRED_COLUMNS + extra].reset_index(drop=True)


def _baselines(backtest: pd.DataFrame, mode: str | None) -> dict[str, pd.DataFrame]:
    """The grid baseline (it needs the real grid, so it exists after qualifying only) and the form
    baseline of the prediction's own mode (of the other mode when that one is missing)."""
    out: dict[str, pd.DataFrame] = {}
    if backtest.empty:
        return out
    grid = backtest[(backtest["predictor"] == "grid") & (backtest["mode"] == POST)]
    if not grid.empty:
        out["grid"] = _prediction_columns(grid)
    form = backtest[backtest["predictor"] == "form"]
    if not form.empty:
        same = form[form["mode"] == mode]
        out["form"] = _prediction_columns(same if not same.empty else form[form["mode"] == form["mode"].iloc[0]])
    return out


# -- comparison, verdict, metrics --------------------------------------------------------------------

def compare(predictions: pd.DataFrame, actual: pd.DataFrame) -> pd.DataFrame:
    """Per driver: predicted chances and expected position next to the actual result, in finishing
    order. `error` = actual − expected position (positive: finished behind the expectation);
    `win_pick` / `podium_pick`: the driver's rank by win / podium chance (1 = favourite)."""
    pred = predictions.drop(columns=[c for c in ("grid",) if c in predictions.columns])
    out = actual.merge(pred, on="driver_ref", how="outer", indicator=True)
    out["took_part"] = out["_merge"] != "right_only"
    out["predicted"] = out["_merge"] != "left_only"
    out = out.drop(columns="_merge")
    has_p = out["p_win"].notna()
    out["win_pick"] = out["p_win"].where(has_p).rank(ascending=False, method="first")
    podium_key = out["p_podium"] - out["expected_position"].fillna(99) * 1e-9  # ties: better expected first
    out["podium_pick"] = podium_key.where(has_p).rank(ascending=False, method="first")
    out["error"] = out["position_order"] - out["expected_position"]
    out["abs_error"] = out["error"].abs()
    out["status"] = out["status"].fillna("did not take part")
    return out.sort_values(["position_order", "expected_position"], na_position="last").reset_index(drop=True)


@dataclass(frozen=True)
class Verdict:
    favourite: str | None  # code of the driver with the highest win chance
    favourite_name: str | None
    favourite_p_win: float | None
    favourite_finish: str | None  # position text or status of the favourite
    winner: str | None
    winner_name: str | None
    winner_p_win: float | None  # the chance given to the actual winner
    winner_pick: int | None  # where the winner ranked among the win picks (1 = favourite)
    winner_called: bool
    predicted_podium: tuple[str, ...]  # codes, most likely podium finisher first
    actual_podium: tuple[str, ...]
    podium_hits: int  # actual podium finishers among the predicted top 3


def verdict(comparison: pd.DataFrame) -> Verdict:
    """Was the winner called, and how many of the podium were in the predicted top 3?"""
    c = comparison
    predicted = c[c["predicted"]]
    fav = predicted.sort_values("win_pick").iloc[0] if not predicted.empty else None
    winners = c[c["position_order"] == 1]
    win = winners.iloc[0] if not winners.empty else None
    predicted_podium = tuple(predicted.sort_values("podium_pick").head(3)["code"].fillna(
        predicted["driver_ref"]).astype(str))
    podium_rows = c[(c["position_order"] <= 3) & c["took_part"]].sort_values("position_order")
    actual_podium = tuple(podium_rows["code"].astype(str))
    predicted_refs = set(predicted.sort_values("podium_pick").head(3)["driver_ref"])
    hits = int(podium_rows["driver_ref"].isin(predicted_refs).sum())

    def val(row, col):
        if row is None:
            return None
        v = row[col]
        return None if (isinstance(v, float) and math.isnan(v)) or v is None else v

    winner_pick = val(win, "win_pick")
    return Verdict(
        favourite=val(fav, "code") or val(fav, "driver_ref"), favourite_name=val(fav, "driver_name"),
        favourite_p_win=_float(val(fav, "p_win")),
        favourite_finish=_finish_words(fav) if fav is not None else None,
        winner=val(win, "code"), winner_name=val(win, "driver_name"),
        winner_p_win=_float(val(win, "p_win")), winner_pick=int(winner_pick) if winner_pick is not None else None,
        winner_called=bool(fav is not None and win is not None and fav["driver_ref"] == win["driver_ref"]),
        predicted_podium=predicted_podium, actual_podium=actual_podium, podium_hits=hits,
    )


def _float(v) -> float | None:
    return None if v is None else float(v)


def _finish_words(row: pd.Series) -> str:
    if not row.get("took_part", True):
        return "did not take part"
    if bool(row.get("finished")):
        return f"P{int(row['position_order'])}"
    return str(row.get("status") or "not classified")


def race_metrics(source: PredictionSource, actual: pd.DataFrame) -> pd.DataFrame:
    """The race's metrics (`score_race`, as in the backtest) for the prediction and, beside them,
    the backtest's baselines: one row per metric with label, better ('higher' | 'lower'), model,
    grid, form (NaN when that predictor has no prediction for the race), and model_vs_grid
    ('better' | 'worse' | 'same', None without a grid baseline)."""
    scored = {"model": _score(source.predictions, actual)}
    for name in ("grid", "form"):
        scored[name] = _score(source.baselines.get(name), actual)
    rows = []
    for metric in RACE_METRICS:
        row = {"metric": metric, "label": METRIC_LABELS[metric],
               "better": "higher" if metric in HIGHER_IS_BETTER else "lower", "help": METRIC_HELP[metric]}
        for name, values in scored.items():
            row[name] = values.get(metric, np.nan)
        rows.append(row)
    out = pd.DataFrame(rows)
    out["model_vs_grid"] = [_versus(m, g, b) for m, g, b in zip(out["model"], out["grid"], out["better"])]
    return out


def _versus(model: float, baseline: float, better: str) -> str | None:
    if pd.isna(model) or pd.isna(baseline):
        return None
    gain = (model - baseline) * (1 if better == "higher" else -1)
    return "same" if abs(gain) < 1e-9 else ("better" if gain > 0 else "worse")


def _score(predictions: pd.DataFrame | None, actual: pd.DataFrame) -> dict[str, float]:
    if predictions is None or predictions.empty or actual.empty:
        return {}
    return score_race(predictions[_PRED_COLUMNS], actual[["driver_ref", "position_order"]])


@dataclass
class RaceReview:
    race: RaceRef
    source: PredictionSource
    actual: pd.DataFrame
    comparison: pd.DataFrame  # empty when there is no prediction
    verdict: Verdict | None
    metrics: pd.DataFrame | None


def review_race(engine: Engine, season: int, round_: int, actual: pd.DataFrame | None = None) -> RaceReview:
    """Everything the Past races page shows for one race. `actual`: `actual_result` when the
    caller has it cached."""
    race = engine.race(season, round_)
    actual = actual_result(engine.store, season, round_) if actual is None else actual
    source = prediction_source(engine, season, round_)
    if source.kind is None or actual.empty:
        return RaceReview(race, source, actual, pd.DataFrame(), None, None)
    comparison = compare(source.predictions, actual)
    missing = comparison["code"].isna()
    if missing.any():  # predicted drivers who did not take part: names from the drivers table
        names = driver_names(engine.store, list(comparison.loc[missing, "driver_ref"])).set_index("driver_ref")
        for col in ("code", "driver_name"):
            comparison.loc[missing, col] = comparison.loc[missing, "driver_ref"].map(names[col])
        comparison["code"] = comparison["code"].fillna(comparison["driver_ref"].str[:3].str.upper())
        comparison["driver_name"] = comparison["driver_name"].fillna(comparison["driver_ref"])
    return RaceReview(race, source, actual, comparison, verdict(comparison), race_metrics(source, actual))


def review_version(engine: Engine) -> tuple:
    """Changes whenever a review could change: new data, a new backtest run, a newly frozen
    prediction. For cache keys."""
    latest = engine.latest_backtest()
    logged = engine.store.scalar("SELECT max(logged_at) FROM prediction_log")
    return (engine.data_version(), latest["run_id"] if latest else None, str(logged))


# -- what-if helpers ------------------------------------------------------------------------

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


def grid_order_from_slots(slots: dict[str, float | None], codes: dict[str, str] | None = None) -> tuple[str, ...]:
    """A grid order (pole first) from each driver's typed slot. The slots must be 1..n, each used
    once; otherwise a ScenarioError says, in plain words with driver codes, what is wrong."""
    codes = codes or {}
    name = lambda d: codes.get(d, d)  # noqa: E731
    n = len(slots)
    problems = []
    empty = [name(d) for d, s in slots.items() if s is None or pd.isna(s)]
    if empty:
        problems.append(f"{', '.join(empty)} {'has' if len(empty) == 1 else 'have'} no slot")
    given = {d: s for d, s in slots.items() if s is not None and not pd.isna(s)}
    not_whole = [f"{name(d)} ({s:g})" for d, s in given.items() if float(s) != int(s)]
    if not_whole:
        problems.append(f"slots are whole numbers: {', '.join(not_whole)}")
    given = {d: int(s) for d, s in given.items()}
    outside = [f"{name(d)} (P{s})" for d, s in given.items() if not 1 <= s <= n]
    if outside:
        problems.append(f"slots go from 1 to {n}: {', '.join(outside)}")
    by_slot: dict[int, list[str]] = {}
    for d, s in given.items():
        by_slot.setdefault(s, []).append(name(d))
    twice = [f"P{s} is given to {' and '.join(ds)}" for s, ds in sorted(by_slot.items()) if len(ds) > 1]
    problems += twice
    free = [f"P{s}" for s in range(1, n + 1) if s not in by_slot]
    if free and (twice or empty or outside):
        problems.append(f"nobody starts from {', '.join(free)}")
    if problems:
        raise ScenarioError("The grid is not applied: " + "; ".join(problems) + ". Give every driver a different "
                            "slot, or use “Move one driver”, which shifts the others for you.")
    return tuple(d for d, _ in sorted(given.items(), key=lambda kv: kv[1]))


def shortest_grid_order(order: tuple[str, ...], race_grid: tuple[str, ...]) -> tuple[str, ...] | None:
    """The shortest head of a whole grid `order` that gives the same grid once the drivers it does
    not name follow in the race's own order (as `apply_scenario` does): short links. None when
    `order` is the race's own grid."""
    for k in range(len(order) + 1):
        head = order[:k]
        if list(order[k:]) == [d for d in race_grid if d not in head]:
            return tuple(head) or None
    return tuple(order)
