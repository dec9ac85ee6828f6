"""Past races: the prediction made before a race, next to what happened. No Streamlit.

The prediction comes from the public prediction log (what the app showed before the race) when
the log has the race, else from the walk-forward backtest (models trained only on races before
it, so still out-of-sample), else there is none and only the result is shown. The race is scored
with the backtest's own metrics (`score_race`), beside the grid and form baselines of the
backtest when it covers the race.

"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from f1core.engine.backtest import RACE_METRICS, score_race
from f1core.engine.training import POST, PRE
from f1core.names import with_driver_labels
from f1core.store import RaceRef, Store
from f1core.views.terms import METRICS, MODE_WORDS

if TYPE_CHECKING:
    from f1core.engine.service import Engine

LOG = "prediction log"
BACKTEST = "backtest"

# -- the actual result ------------------------------------------------------------------------------

RESULT_TABLES = ("results", "sprint_results")


def actual_result(store: Store, season: int, round_: int, table: str = "results") -> pd.DataFrame:
    """The classified result of a race (or with `table="sprint_results"`, of its sprint), one row
    per driver in finishing order: driver_ref, code, driver_name, constructor_ref, team_name, grid
    (0 = pit lane), position_order, position_text, status, points, finished (classified with a
    position). Empty when the session has no result."""
    if table not in RESULT_TABLES:
        raise ValueError(f"no results table {table!r} (one of {', '.join(RESULT_TABLES)})")
    return store.read(
        f"""
        SELECT r.driver_ref, d.code, d.driver_name, r.constructor_ref, coalesce(c.name, r.constructor_ref) AS team_name,
               r.grid, r.position_order, r.position_text, r.status, r.points,
               coalesce(regexp_full_match(r.position_text, '[0-9]+'), false) AS finished
        FROM {table} r
        LEFT JOIN driver_labels d USING (driver_ref)
        LEFT JOIN constructors c USING (constructor_ref)
        WHERE r.season = ? AND r.round = ?
        ORDER BY r.position_order
        """, [season, round_]).pipe(with_driver_labels)


def driver_names(store: Store, driver_refs: list[str]) -> pd.DataFrame:
    """driver_ref, code, driver_name for the given drivers, in their order (named by
    `with_driver_labels` when the store does not know them)."""
    found = store.read("SELECT driver_ref, code, driver_name FROM driver_labels WHERE list_contains(?, driver_ref)",
                       [list(driver_refs)])
    return pd.DataFrame({"driver_ref": list(driver_refs)}).merge(found, on="driver_ref", how="left").pipe(
        with_driver_labels)


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
        return MODE_WORDS.get(self.mode or "", "")

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
    latest = engine.records.latest_backtest()
    run_id = latest["run_id"] if latest else None
    backtest = engine.records.backtest_predictions(run_id, season, round_) if run_id is not None else pd.DataFrame()
    modes = set(backtest["mode"]) if not backtest.empty else set()
    bt_mode = POST if POST in modes else (PRE if PRE in modes else None)

    frozen = engine.records.frozen_prediction(engine.race(season, round_))
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


def result_words(row: pd.Series) -> str:
    """A driver's result as the driver table says it: the classified place ('3'), or why not
    ('Gearbox'; 'did not start: Power Unit' for a car withdrawn before the start, which a
    prediction made before the race still covered)."""
    if not row.get("took_part", True):
        return "did not take part"
    if bool(row.get("finished")):
        return str(row["position_text"])
    why = str(row.get("status") or "not classified")
    return f"did not start: {why}" if row.get("position_text") == "W" else why


def _finish_words(row: pd.Series) -> str:
    words = result_words(row)
    return f"P{words}" if bool(row.get("finished")) else words


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
        info = METRICS[metric]
        row = {"metric": metric, "label": info.label, "better": info.better,
               "help": info.per_race}
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
    return RaceReview(race, source, actual, comparison, verdict(comparison), race_metrics(source, actual))


def review_version(engine: Engine) -> tuple:
    """Changes whenever a review could change: new data, a new backtest run, a newly frozen
    prediction. For cache keys."""
    latest = engine.records.latest_backtest()
    logged = engine.records.last_logged_at()
    return (engine.data_version(), latest["run_id"] if latest else None, str(logged))
