"""Accuracy: how good the predictions have really been, out-of-sample, beside the baselines.

Past 400 lines on purpose: one page with seven tabs of one backtest (its charts are in
`pages/_accuracy_charts.py`); each tab's drawing is a few dozen lines and reads the same tables.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from f1core.engine.backtest import RACE_METRICS, STAGE1_METRICS
from f1core.engine.baselines import serving_baseline
from f1core.names import plural
from f1core.views import reports
from f1core.views.terms import (
    DIRECTION,
    DIRECTION_HELP,
    INTERVAL_KIND,
    METRICS,
    MODE_LABEL,
    MODE_NOTE,
    MODES,
    PREDICTOR_LABEL,
    PREDICTOR_NOTE,
    TOO_FEW,
    TOO_SMALL,
    ordered_predictors,
    percentage_points,
)
from pages._accuracy_charts import bin_count_chart, checkpoint_chart, reliability_chart, rolling_chart, season_chart
from pages._resources import get_engine, get_store, latest_season_replay
from pages._style import show_chart
from pages._widgets import (
    computed_at,
    download_csv,
    friendly_error,
    progress_status,
    require_admin,
    require_data,
    show_table,
)

HEADLINE_METRICS = ["winner_top1", "winner_top3", "winner_logloss", "spearman"]
ALL_SEASONS = "All seasons"

st.title("Accuracy")
st.caption("How good the predictions have really been. Every figure is out-of-sample: each race was "
           "predicted by a model trained only on the races before it, and stands beside the simple "
           "baselines it has to beat.")
require_data()
engine = get_engine()


# -- data -------------------------------------------------------------------------------------------

@st.cache_data(show_spinner=False, max_entries=4)
def backtest_tables(db_path: str, run_id: int) -> dict:
    """Everything the page draws from one stored backtest run (a run never changes once stored)."""
    eng = get_engine()
    per_race = eng.records.backtest_race_metrics(run_id)
    predictions = eng.records.backtest_predictions(run_id)
    stage1 = eng.records.backtest_stage1(run_id)
    races = tuple((int(s), int(r)) for s, r in stage1[["season", "round"]].itertuples(index=False))
    stage1_base = reports.stage1_baseline(eng.store, eng.frame(), races, eng.reference_poles()) if races else None
    return {
        "per_race": per_race,
        "seasons": reports.season_metrics(per_race),
        "reliability": {o: reports.reliability(predictions, o) for o in ("win", "podium")},
        "reliability_by_season": {o: reports.reliability(predictions, o, by="season") for o in ("win", "podium")},
        "stage1": stage1,
        "stage1_seasons": reports.stage1_by_season(stage1, stage1_base) if not stage1.empty else pd.DataFrame(),
    }


@st.cache_data(show_spinner=False, ttl=600, max_entries=4)
def live_record(db_path: str, data_version: int, run_id: int) -> pd.DataFrame:
    eng = get_engine()
    return reports.track_record_with_baselines(eng.records.track_record(), eng.records.backtest_race_metrics(run_id))


def run_backtest_now() -> None:
    if not require_admin("run the backtest", key="accuracy_backtest"):
        return
    if not st.button("Run backtest now", key="accuracy_run_backtest", icon=":material/play_arrow:", type="primary"):
        return
    with progress_status("Running the walk-forward backtest…") as (status, progress):
        try:
            run_id, summary = engine.lifecycle.run_backtest(2022, None, progress)
        except Exception as exc:
            status.update(label="The backtest failed", state="error")
            friendly_error(exc, "run the backtest")
            return
        status.update(label=f"Backtest run {run_id} done: {summary['races']} races", state="complete")
    st.cache_data.clear()
    st.rerun()


try:
    latest = engine.records.latest_backtest()
except Exception as exc:
    friendly_error(exc, "read the stored backtest")
    st.stop()

if latest is None:
    st.info("**No backtest has been run yet.** The app's background upkeep runs one by itself after the "
            "first model is trained (it takes a few minutes): every race since 2022 is predicted by a model "
            "trained only on the races before it. You can also run it now.", icon=":material/hourglass_top:")
    run_backtest_now()
    st.stop()

summary = latest["summary"]
run_id = latest["run_id"]
try:
    with st.spinner("Summarising the backtest…"):
        tables = backtest_tables(str(get_store().path), run_id)
except Exception as exc:
    friendly_error(exc, "summarise the backtest")
    st.stop()
per_race: pd.DataFrame = tables["per_race"]

seasons_span = f"{summary.get('from_season')}–{summary.get('to_season')}"
if summary.get("from_season") == summary.get("to_season"):
    seasons_span = str(summary.get("from_season"))
created = pd.Timestamp(latest["created_at"])
st.caption(f"Backtest run {run_id} · {summary['races']} races of {seasons_span} · the model retrained every "
           f"{summary.get('retrain_every', '?')} races · computed {computed_at(created)} in "
           f"{latest['seconds']:.0f} s")
bundle = engine.champion()
if bundle is not None:
    window = bundle.training_window
    first_data = int(get_store().scalar("SELECT min(season) FROM results") or window["first_season"])
    first = max(int(window["first_season"]), first_data)
    same_setup = latest.get("config") == engine.lifecycle.champion_setup()
    describes = ("this backtest trains the same set-up on the same store, so its figures describe this model"
                 if same_setup else
                 "its set-up differs from this backtest's (the app was updated in between; the next retrain or "
                 "backtest brings them together), so these figures describe it only roughly")
    st.caption(f":material/model_training: The model serving predictions here, {bundle.version}, learned from "
               f"{window['races']} races, {first} to {window['last_race_label']}; {describes}"
               + (f" (this store starts in {first_data}: a store with more history scores better, see the README)"
                  if first_data > 2003 else "") + ".")

available = [m for m in MODES if m in summary.get("modes", {})]
if not available:
    st.warning("The stored backtest holds no race scores.", icon=":material/warning:")
    st.stop()
mode = st.segmented_control("Predictions made", available, default=available[0], required=True,
                            format_func=MODE_LABEL.get, key="accuracy_mode",
                            help="After qualifying the model knows the real grid; before qualifying it uses "
                                 "its own predicted grid.")
st.caption(MODE_NOTE[mode])
main_baseline = serving_baseline(mode)
mode_races = per_race[per_race["mode"] == mode]


# -- headline ---------------------------------------------------------------------------------------

def metric_card(column, metric: str, values: dict[str, dict], baseline: str, verdict: str | None) -> None:
    """The model's figure with its difference to the baseline, coloured only when the race-by-race
    comparison says the difference is more than luck (`verdict`, from `reports.paired_differences`)."""
    info = METRICS[metric]
    model = values.get("model", {})
    base = values.get(baseline, {})
    value = model.get(metric)
    lo, hi = (model.get(f"{metric}_ci") or [np.nan, np.nan])[:2]
    delta = None
    if base.get(metric) is not None and value is not None:
        diff = value - base[metric]
        delta = percentage_points(diff) if info.kind == "share" else f"{diff:+.3f}"
    decided = verdict in ("model better", "baseline better")
    column.metric(
        info.label, info.format(value), delta=delta,
        delta_color=("normal" if info.higher_is_better else "inverse") if decided else "off",
        delta_description=(f"vs {baseline} {info.format(base.get(metric))}"
                           # a card has room for a word; the help and the table below say "too close to call"
                           + ("" if decided else " · " + {"identical": "identical", TOO_SMALL: "too few races",
                                                           TOO_FEW: "too few races"}.get(verdict, "unclear")))
        if delta else None,
        help=f"{info.meaning.capitalize()}. Model {info.format(value)}; {info.interval(lo, hi)}. The difference is "
             "coloured only when the race-by-race comparison puts it beyond luck; \"unclear\" when it is too close "
             "to call.",
        border=True)


entry = summary["modes"][mode]
values = {"model": entry["model"], **entry.get("baselines", {})}
diffs = reports.paired_differences(per_race, mode)
verdicts = dict(zip(diffs.loc[diffs["baseline"] == main_baseline, "metric"],
                    diffs.loc[diffs["baseline"] == main_baseline, "verdict"]))
cards = st.columns(len(HEADLINE_METRICS))
for col, metric in zip(cards, HEADLINE_METRICS):
    metric_card(col, metric, values, main_baseline, verdicts.get(metric))

margin = reports.top1_margin(summary, mode)
n_races = int(entry["model"].get("races", 0))
if n_races:
    top1 = mode_races.loc[mode_races["predictor"] == "model", "winner_top1"].dropna()
    se = float(top1.std(ddof=1) / np.sqrt(len(top1)) * 100) if len(top1) > 1 else float("nan")
    if margin and n_races >= 30 and not np.isnan(se):
        st.caption(f"With {n_races} races, each race moves the winner-picked rate by {100 / n_races:.1f} percentage "
                   f"points (pp); on its own the rate is known to about ±{se:.0f} pp (one standard error), ±{margin:.0f} "
                   "pp at 90%. The cards compare the model with a baseline race by race on the same races, which "
                   "tells smaller differences from luck: a delta is coloured when that comparison leaves out zero.")
    else:
        st.caption(f"Only {n_races} races so far: each one moves the winner-picked rate by "
                   f"{100 / n_races:.0f} percentage points, far too few to judge the model. About 90 races pin it "
                   "down to about ±5.")

st.subheader("Every metric, with its 90% interval")
table = reports.headline_table(summary, per_race, mode)
table["metric"] = table["metric"] + " " + table["better"].map(DIRECTION)
verdict_cols = [c for c in table.columns if c.startswith("vs ")]
main_label = PREDICTOR_LABEL[main_baseline]
# four columns, so the table reads whole on a phone: the model, the baseline it must beat, the verdict
show_table(table, f"accuracy_{mode}_run{run_id}.csv", height="content",
           columns=["metric", "Model", main_label, f"vs {main_baseline}"],
           column_config={"metric": st.column_config.TextColumn(width="medium", pinned=True,
                                                                help=DIRECTION_HELP),
                          **{c: st.column_config.TextColumn(f"model {c}", width="small") for c in verdict_cols}})
others = [p for p in PREDICTOR_LABEL.values() if p in table.columns and p not in ("Model", main_label)]
if others:
    with st.expander("Beside the other baseline" + ("s" if len(others) > 1 else "")):
        show_table(table, f"accuracy_{mode}_run{run_id}_other_baselines.csv", height="content",
                   columns=["metric", *others, *[c for c in verdict_cols if c != f"vs {main_baseline}"]],
                   column_config={c: st.column_config.TextColumn(f"model {c}") for c in verdict_cols})
st.caption(f"Each cell: the mean over the backtest's races and its {INTERVAL_KIND} over races (↑: higher is "
           "better). "
           "**model vs …**: the model's and the baseline's scores compared race by race on the same races; "
           "*too close to call* when the 90% interval of the difference includes zero (the CSV has the "
           "differences and their intervals).")

with st.expander("What these numbers mean", icon=":material/help:"):
    lines = [f"- **{METRICS[m].label}** ({'higher' if METRICS[m].higher_is_better else 'lower'} is better): "
             f"{METRICS[m].meaning}." for m in RACE_METRICS]
    st.markdown(
        "**Out-of-sample, walk-forward.** Every race from "
        f"{summary.get('from_season')} on was predicted by a model trained only on races run before it; the "
        f"model was retrained every {summary.get('retrain_every', '?')} races, as it would have been live. "
        "No figure here comes from a race the model had seen.\n\n"
        "**Weather.** Each race is predicted with the weather it actually had (FastF1's session record or "
        "Open-Meteo's observed day), not the forecast a fan would have seen before it: the archive keeps no "
        "forecasts. Live predictions use the forecast. The Rain tab shows what the observed rain is worth.\n\n"
        "**Baselines**, scored the same way on the same races:\n"
        f"- **Grid**: {PREDICTOR_NOTE['grid']}.\n"
        f"- **Form**: {PREDICTOR_NOTE['form']}.\n\n"
        "Both turn an order into probabilities with how often each grid or form rank finished where in the "
        "earlier races, so they get the same metrics.\n\n"
        "**Metrics**\n" + "\n".join(lines) + "\n\n"
        f"**How sure are these figures?** Each interval is a {INTERVAL_KIND} over races. About 90 races "
        "pin the winner-picked rate down to about ±5 percentage points (one standard error; about ±8 for a "
        "90% interval); a single season of about 23 races only to about ±10 (±16 at 90%), so compare "
        "seasons with care. Qualifying figures are explained in their tab.")


# -- details ----------------------------------------------------------------------------------------

def draw_by_season() -> None:
    seasons = tables["seasons"]
    seasons = seasons[seasons["mode"] == mode]
    metric = st.selectbox("Metric", RACE_METRICS, format_func=lambda m: METRICS[m].label,
                          key="accuracy_season_metric")
    show_chart(season_chart(seasons[seasons["metric"] == metric], metric), key="accuracy_season_chart")
    st.caption(f"{METRICS[metric].label}: {METRICS[metric].meaning}. The whiskers: a {INTERVAL_KIND} "
               "over the season's races; a season of about 23 races is a small sample.")
    chosen = seasons[seasons["metric"] == metric]
    info = METRICS[metric]
    compact = chosen.assign(cell=[info.with_interval(v, lo, hi)
                                  for v, lo, hi in zip(chosen["value"], chosen["lo"], chosen["hi"])])
    compact = compact.pivot_table(index="season", columns="predictor", values="cell", aggfunc="first")
    compact = compact[ordered_predictors(compact.columns)]
    compact.columns = [PREDICTOR_LABEL.get(p, p) for p in compact.columns]
    compact.insert(0, "races", chosen.groupby("season")["races"].max())
    compact = compact.reset_index().sort_values("season", ascending=False)
    show_table(compact, f"accuracy_by_season_{metric}_{mode}_run{run_id}.csv", height="content",
               column_config={"season": st.column_config.NumberColumn(format="%d")})
    download_csv(seasons.assign(label=seasons["metric"].map(lambda m: METRICS[m].label)),
                 f"accuracy_by_season_all_metrics_{mode}_run{run_id}.csv", "Download every metric by season (CSV)")


def draw_over_time() -> None:
    races_here = int(mode_races[["season", "round"]].drop_duplicates().shape[0])
    windows = [w for w in (6, 12, 24) if w <= races_here]
    if not windows:
        st.info(f"The latest backtest covers only {races_here} races; rolling figures need at least 6.",
                icon=":material/timeline:")
    else:
        window = st.segmented_control("Rolling window", windows, default=12 if 12 in windows else windows[-1],
                                      required=True, format_func=lambda w: f"{w} races", key="accuracy_window")
        rolled = reports.rolling_metrics(mode_races, window)
        show_chart(rolling_chart(rolled[rolled["metric"] == "winner_top1"], "winner_top1", window),
                   key="accuracy_rolling_top1")
        show_chart(rolling_chart(rolled[rolled["metric"] == "winner_logloss"], "winner_logloss", window),
                   key="accuracy_rolling_logloss")
        st.caption(f"Each point is the average over the {window} races up to that date (higher is better for "
                   "winner picked, lower for log loss). Shorter windows swing more with luck: a 12-race "
                   "winner-picked rate moves by about ±20 points (90%) from chance alone.")
        download = rolled.assign(predictor=rolled["predictor"].map(lambda p: PREDICTOR_LABEL.get(p, p)))
        with st.expander("Rolling figures as a table"):
            show_table(download, f"accuracy_rolling_{window}_{mode}_run{run_id}.csv",
                       columns=["date", "race_name", "predictor", "metric", "value"],
                       column_config={"date": st.column_config.DateColumn(format="D MMM YYYY"),
                                      "value": st.column_config.NumberColumn(format="%.3f")})


def draw_calibration() -> None:
    left, right = st.columns(2)
    with left:
        outcome = st.segmented_control("Outcome", ["win", "podium"], default="win", required=True,
                                       format_func=str.capitalize, key="accuracy_calibration_outcome")
    by_season = tables["reliability_by_season"][outcome]
    by_season = by_season[by_season["mode"] == mode]
    seasons = sorted({int(s) for s in by_season["season"]}, reverse=True)
    with right:
        season = st.selectbox("Season", [ALL_SEASONS, *seasons], key="accuracy_calibration_season",
                              help="One season's diagram: about 23 races, so its groups are small and wander a lot.")
    if season == ALL_SEASONS:
        bins = tables["reliability"][outcome]
        bins = bins[bins["mode"] == mode]
    else:
        bins = by_season[by_season["season"] == season].drop(columns="season")
    if bins.empty:
        st.info("No probabilities are stored for this backtest.")
    else:
        show_chart(reliability_chart(bins, outcome), key="accuracy_reliability_chart")
        show_chart(bin_count_chart(bins, outcome), key="accuracy_reliability_counts")
        where = "every backtest race" if season == ALL_SEASONS else f"every race of {season}"
        st.caption(f"Every driver in {where}, grouped by the {outcome} probability he was given. "
                   "On the dotted diagonal, things given 20% happened 20% of the time; points below it are "
                   "over-confident, above it under-confident. The whiskers are 90% intervals of the model's "
                   "points, and the bars below count the driver-races in each of the model's groups (log scale): "
                   "groups of a few dozen wander a lot by chance.")
        with st.expander("Calibration bins as a table"):
            shown = bins.assign(predictor=bins["predictor"].map(lambda p: PREDICTOR_LABEL.get(p, p)),
                                given=[f"{lo * 100:.0f}–{hi * 100:.0f}%"
                                       for lo, hi in zip(bins["bin_lo"], bins["bin_hi"])])
            suffix = "" if season == ALL_SEASONS else f"_{season}"
            show_table(shown, f"calibration_{outcome}_{mode}{suffix}_run{run_id}.csv",
                       columns=["predictor", "given", "predicted", "observed", "observed_lo", "observed_hi",
                                "count", "hits"],
                       column_config={c: st.column_config.NumberColumn(format="percent")
                                      for c in ("predicted", "observed", "observed_lo", "observed_hi")})


def draw_qualifying() -> None:
    s1 = tables["stage1_seasons"]
    if s1.empty:
        st.info("This backtest holds no qualifying predictions.")
    else:
        overall = s1[s1["season"] == "all"].set_index(["predictor", "metric"])
        cols = st.columns(len(STAGE1_METRICS))
        for col, metric in zip(cols, STAGE1_METRICS):
            info = METRICS[metric]
            value = overall.loc[("model", metric)]
            base = overall.loc[("last race", metric)] if ("last race", metric) in overall.index else None
            delta = None
            if base is not None and not pd.isna(base["value"]):
                diff = value["value"] - base["value"]
                delta = percentage_points(diff) if info.kind == "share" else f"{diff:+.2f}"
            col.metric(info.label, info.format(value["value"]), delta=delta,
                       delta_color="normal" if info.higher_is_better else "inverse",
                       delta_description=f"vs last-race baseline {info.format(base['value'])}" if delta else None,
                       help=f"{info.meaning.capitalize()}. {info.interval(value['lo'], value['hi'])}, over "
                            f"{plural(int(value['races']), 'session')}.",
                       border=True)
        cells = s1.assign(cell=[METRICS[m].with_interval(v, lo, hi)
                                for m, v, lo, hi in zip(s1["metric"], s1["value"], s1["lo"], s1["hi"])])
        wide = cells.pivot_table(index=["season", "predictor"], columns="metric", values="cell",
                                 aggfunc="first")
        wide["races"] = cells.groupby(["season", "predictor"])["races"].max()
        wide = wide.reset_index()
        wide["predictor"] = wide["predictor"].map(lambda p: PREDICTOR_LABEL.get(p, p))
        order = {s: i for i, s in enumerate(["all", *sorted({s for s in wide["season"] if s != "all"}, reverse=True)])}
        wide = wide.sort_values(["season", "predictor"], key=lambda c: c.map(order) if c.name == "season" else c,
                                ascending=[True, False])
        show_table(wide[["season", "predictor", "races", *STAGE1_METRICS]],
                   f"qualifying_accuracy_run{run_id}.csv", height="content",
                   column_config={m: METRICS[m].label for m in STAGE1_METRICS})
        st.caption(
            "The qualifying model, walk-forward like the race model: "
            + "; ".join(f"**{METRICS[m].label}**: {METRICS[m].meaning}" for m in STAGE1_METRICS)
            + ". The lap-time error per season is the median over sessions of each session's median error. "
            f"**Last-race baseline**: {PREDICTOR_NOTE['last race']} (newcomers at the back). "
            f"Intervals: a {INTERVAL_KIND} over sessions.")


def draw_track_record() -> None:
    try:
        record = live_record(str(get_store().path), get_store().data_version(), run_id)
    except Exception as exc:
        friendly_error(exc, "score the frozen predictions")
        record = None
    if record is not None and record.empty:
        st.info("**No live track record yet.** Before every race the app freezes the predictions people see "
                "(with the model version and the time); once the results are in, they are scored here. The "
                "first scores appear after the next race.", icon=":material/lock_clock:")
    elif record is not None:
        scored = record[record["predictor"] == "model"]
        rs = reports.record_summary(record)  # over the sessions every predictor has
        n_compared = int(rs.loc[rs["predictor"] == "model", "races"].max()) if not rs.empty else 0
        sessions = scored["session"].value_counts()
        said = " and ".join(plural(int(sessions[s]), s) for s in ("race", "sprint") if s in sessions)
        alone = len(scored) - n_compared
        apart = "(sprints, races the backtest has not reached)"
        if not n_compared:
            st.markdown(f"**{said} predicted live** and scored after the session. None of them has the backtest's "
                        f"baselines beside it yet {apart}, so there is no summary to compare; they are listed below.")
        else:
            st.markdown(f"**{said} predicted live** and scored after the session. The summary compares the "
                        f"{plural(n_compared, 'race')} the backtest's baselines were scored on too, in the same mode"
                        + (f"; {plural(alone, 'other session')} {apart} {'is' if alone == 1 else 'are'} in the list "
                           "below only." if alone else "."))
            rs = rs.assign(cell=[METRICS[m].with_interval(v, lo, hi)
                                 for m, v, lo, hi in zip(rs["metric"], rs["value"], rs["lo"], rs["hi"])])
            wide = rs.pivot_table(index="metric", columns="predictor", values="cell", aggfunc="first")
            wide = wide.reindex([m for m in RACE_METRICS if m in wide.index])
            wide = wide[[p for p in ordered_predictors(wide.columns)]]
            wide.columns = [PREDICTOR_LABEL.get(p, p) for p in wide.columns]
            wide.insert(0, "metric", [METRICS[m].label for m in wide.index])
            show_table(wide.reset_index(drop=True), "live_track_record_summary.csv", height="content")
        per = record.assign(predictor=record["predictor"].map(lambda p: PREDICTOR_LABEL.get(p, p)))
        show_table(per, "live_track_record.csv",
                   columns=["date", "race", "session", "mode", "predictor", "model_version", "winner_top1", "winner_logloss",
                            "spearman", "position_mae"],
                   column_config={"date": st.column_config.DateColumn(format="D MMM YYYY"),
                                  "model_version": "model",
                                  "winner_top1": st.column_config.NumberColumn("winner picked", format="%.0f"),
                                  "winner_logloss": st.column_config.NumberColumn("winner log loss", format="%.3f"),
                                  "spearman": st.column_config.NumberColumn(format="%.3f"),
                                  "position_mae": st.column_config.NumberColumn("position error", format="%.2f")})
        st.caption("The model rows are the predictions frozen before each race started, exactly as shown then. "
                   "A handful of races says little: see the backtest above for the long view.")


@st.cache_data(show_spinner=False, ttl=600, max_entries=4)
def replay_summaries(db_path: str, season_run: int, _per: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """The replay's figures with their intervals, overall and by stage of the season (`season_run`
    keys the cache to the replay `_per` comes from)."""
    from f1core.engine import season_backtest

    by_stage = {group: season_backtest.summarise(g, season_backtest.stage_groups(g))
                for group, g in season_backtest.season_groups(_per).items()}
    return season_backtest.summarise(_per), by_stage


STAGE_METRICS = {"favourite_won": "Favourite won", "champion_logloss": "Log loss"}  # short: four columns side by side


def stage_table(by_stage: pd.DataFrame) -> pd.DataFrame:
    """One row per stage of the season: how often the favourite became champion and the champion's
    log loss, model beside the baseline, each with its interval."""
    rows = []
    for stage, g in by_stage.groupby("group", sort=False):
        cell = {(r.predictor, r.metric): METRICS[r.metric].with_interval(r.value, r.lo, r.hi) for r in g.itertuples()}
        rows.append({"checkpoint": stage[:1].upper() + stage[1:], "seasons": int(g["checkpoints"].iloc[0]),
                     **{f"{short} · {label}": cell.get((p, m), "—") for m, short in STAGE_METRICS.items()
                        for p, label in (("model", "model"), ("leader's share", "baseline"))}})
    return pd.DataFrame(rows)


def draw_championship() -> None:
    from f1core.engine.season_backtest import CHECKPOINT_METRICS, season_groups

    found = latest_season_replay()
    if found is None:
        st.info("**The championship odds have not been checked yet.** Past seasons are replayed at checkpoints "
                "(before the first race, after rounds 6 and 12, and three rounds before the end), each with "
                "models trained only on the races before, and scored against the final standings. The app does "
                "it in the background after its next data refresh (a few minutes).", icon=":material/emoji_events:")
        return
    run, per = found
    summary, by_stage = replay_summaries(str(get_store().path), run["run_id"], per)
    groups = list(dict.fromkeys(summary["group"]))
    group = st.segmented_control("Seasons", groups, default=groups[0], required=True, key="accuracy_champ_group")
    g = summary[summary["group"] == group]
    n = int(g["checkpoints"].iloc[0])
    cells = g.assign(cell=[METRICS[m].with_interval(v, lo, hi)
                           for m, v, lo, hi in zip(g["metric"], g["value"], g["lo"], g["hi"])])
    wide = cells.pivot_table(index="metric", columns="predictor", values="cell", aggfunc="first")
    wide = wide.reindex(index=[m for m in CHECKPOINT_METRICS if m in wide.index],
                        columns=[p for p in ("model", "leader's share") if p in wide.columns])
    wide.insert(0, "metric", [METRICS[m].label for m in wide.index])
    wide = wide.rename(columns={"model": "Model", "leader's share": "Leader's share baseline"})
    show_table(wide.reset_index(drop=True).fillna("—"), f"championship_checkpoints_{run['run_id']}.csv",
               height="content")
    st.caption(f"{n} checkpoints, each value with its {INTERVAL_KIND} over checkpoints. "
               + "; ".join(f"**{METRICS[m].label}**: {METRICS[m].meaning}" for m in CHECKPOINT_METRICS)
               + ". **Leader's share baseline**: each driver's title chance is his share of the points scored so "
                 "far, so the current leader is the favourite (before the first race, his share of last season's "
                 "points, so last season's champion is). The season simulation's drift was chosen on "
                 "2010–2021 only; later seasons are out of sample. About 12 checkpoints a span is a small "
                 "sample: one title decided at the last race moves these figures a lot.")
    show_chart(checkpoint_chart(season_groups(per)[group]),
               key="accuracy_champ_chart")
    st.markdown("**When in the season**")
    show_table(stage_table(by_stage[group]), f"championship_by_stage_{run['run_id']}.csv", height="content")
    st.caption("The same checkpoints by when they were made. **Favourite won**: the title favourite became "
               "champion; **log loss**: the champion's. Before the first race nothing of the new cars has been "
               "seen, and after a rule change last season's order says least.")
    st.caption(f"Season backtest run {run['run_id']}, computed {computed_at(run['created_at'])}, "
               f"{run['seconds']:.0f} s.")


def draw_rain() -> None:
    check = reports.rain_check(summary)
    if check is None:
        st.info("This backtest run was made before the app checked its rain effect; the next run adds it.",
                icon=":material/rainy:")
        return
    if not check["wet races"].any():
        st.info(f"No race of {seasons_span} had rain for at least a twentieth of its distance, so there is no "
                "wet race to check the rain effect on.", icon=":material/rainy:")
        return
    # one column per mode: the measures read down, and the table fits a phone
    by_mode = check.set_index("predictions").T.astype(str).rename_axis("measure").reset_index()
    show_table(by_mode, f"rain_check_run{run_id}.csv", height="content")
    st.caption(
        "Does the learned rain effect help? Every race of the backtest with rain was predicted twice by the same "
        "model: with the rain that was observed (FastF1 rainfall, else Open-Meteo precipitation) and as if it had "
        "been dry. **Winner log loss** (lower is better) both ways, and the difference race by race with its "
        "90% bootstrap interval: below zero, knowing about the rain made the winner likelier. **DNF chance**: the "
        "mean chance of not being classified, both ways, beside the share of cars that were not. The effect itself "
        "is learned from the training races' weather, with the uncertainty a few dozen wet races allow; a "
        "handful of wet races is a small sample, so read the interval before the sign.")


# Only the open tab runs (a tab switch reruns the page), so a page switch draws one tab's charts.
TABS = {"By season": draw_by_season, "Over time": draw_over_time, "Calibration": draw_calibration,
        "Qualifying": draw_qualifying, "Rain": draw_rain, "Championship": draw_championship,
        "Live track record": draw_track_record}
for tab, draw in zip(st.tabs(list(TABS), key="accuracy_tab", on_change="rerun"), TABS.values()):
    if tab.open:
        with tab:
            draw()
