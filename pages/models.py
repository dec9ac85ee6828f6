"""Models: the champion and its history, retraining and rollback, and why a prediction came out as it did."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from f1core.engine.backtest import RACE_METRICS
from f1core.engine.features import FEATURE_BY_NAME
from f1core.engine.registry import RegistryError
from f1core.views import reports
from f1core.views.explain import input_value
from f1core.views.terms import DIRECTION_HELP, INTERVAL_KIND, METRICS, MODE_NOTE
from pages._admin import ERROR_LIMIT, for_visitor
from pages._resources import champion_version, get_engine, get_store, race_prediction, retrain_triggers
from pages._style import bar_rows_height, pct, show_chart, style_figure, team_color, wrap_labels
from pages._widgets import (
    escape_markdown,
    friendly_error,
    model_fallback_notice,
    require_admin,
    require_data,
    require_model,
    retrain_with_progress,
    show_table,
)

DECISION_KEY = "models_last_action"  # what the last retrain / rollback of this session did, shown after the rerun
UP, DOWN = "#3FA34D", "#E10600"

st.title("Models")
st.caption("The model that makes the predictions (the champion), the versions before it, and why it "
           "predicts what it does.")
require_data()
engine = require_model()
store = get_store()
db_key = (str(store.path), store.data_version(), champion_version() or "")


# -- cached reads -----------------------------------------------------------------------------------

# Bounded in entries and in time: keys of superseded data versions or champions are never asked
# for again, and the ttl lets them go even when fewer new keys come along to push them out.
@st.cache_data(show_spinner=False, max_entries=4, ttl=6 * 3600)
def backtest_per_race(db_path: str, run_id: int) -> pd.DataFrame:
    return get_engine().records.backtest_race_metrics(run_id)


def latest_per_race() -> pd.DataFrame | None:
    latest = engine.records.latest_backtest()
    return backtest_per_race(str(store.path), latest["run_id"]) if latest else None


@st.cache_data(show_spinner=False, max_entries=4, ttl=6 * 3600)
def feature_importance(db_path: str, champion: str) -> pd.DataFrame:
    return get_engine().feature_importance()


@st.cache_data(show_spinner=False, max_entries=64, ttl=3600)
def explanation(db_path: str, data_version: int, champion: str, season: int, round_: int, driver: str) -> pd.DataFrame:
    return get_engine().explain(season, round_, driver)


def describe(feature: str) -> str:
    return FEATURE_BY_NAME[feature].description if feature in FEATURE_BY_NAME else feature


# -- the outcome of the last action of this session ----------------------------------------------------

done = st.session_state.pop(DECISION_KEY, None)
if done:
    if done["kind"] == "retrain":
        text = (f"**Retrain finished in {done['seconds']:.0f} s: {done['challenger']} "
                + ("was promoted to champion.**" if done["promoted"]
                   else "was kept pending; the champion is unchanged.**"))
        (st.success if done["promoted"] else st.info)(
            text + "\n\n" + "\n".join(f"- {r}" for r in done["reasons"]), icon=":material/model_training:")
    else:
        st.success(f"**Rolled back: {done['version']} is the champion again.** Predictions use it from now on.",
                   icon=":material/undo:")

# A champion whose file cannot be loaded is served by the newest version that loads: say so here,
# and keep every tab working, so the way out (roll back, retrain) stays reachable.
model_fallback_notice(engine)
if (behind := engine.behind_baseline()) is not None:
    st.warning(f"**The champion is behind its baseline lately.** {behind}", icon=":material/trending_down:")
bundle = engine.champion()  # None when no version loads at all


# -- champion ---------------------------------------------------------------------------------------

def draw_champion() -> None:
    if bundle is None:
        st.info("No model can be loaded right now, so there is no champion to describe. The **Retrain & "
                "roll back** tab trains a new one.", icon=":material/model_training:")
        return
    window = bundle.training_window
    label = escape_markdown(window.get("last_race_label"), limit=80)  # from the model's file: text, not markdown
    cols = st.columns(4)
    cols[0].metric("Champion", bundle.version, border=True)
    cols[1].metric("Trained through", f"{window.get('last_season')} R{window.get('last_round')}",
                   help=f"The last race it learned from: {label}.", border=True)
    cols[2].metric("Race model trained on", f"{window.get('races', 0):,} races",
                   help=f"Seasons {window.get('first_season')} to {window.get('last_season')}.", border=True)
    created = pd.Timestamp(bundle.created_at)
    cols[3].metric("Created", f"{created:%-d %b %Y}", help=f"{created:%-d %b %Y, %H:%M} UTC", border=True)
    st.caption(f"Training window: seasons {window.get('first_season')} to {label} "
               f"({escape_markdown(window.get('last_race_date'))}) · data fingerprint "
               f"{escape_markdown(bundle.data_fingerprint)} (changes when "
               "any result, grid, qualifying time or weather it learned from changes).")

    recent = bundle.metrics.get("recent", {})
    if recent:
        st.markdown(f"**Recent walk-forward accuracy** — the last {recent.get('races')} races before it was "
                    "trained, each predicted by a model trained only on earlier races (after qualifying):")
        base = bundle.metrics.get("recent_baselines") or {}
        if not base:  # versions trained before baselines were stored with the model
            per_race = latest_per_race()
            base = (reports.recent_baselines(per_race, (int(window["last_season"]), int(window["last_round"])),
                                             int(recent.get("races", 12)))
                    if per_race is not None and window.get("last_season") else {})
        rows = []
        for metric in RACE_METRICS:
            info = METRICS[metric]
            lo, hi = (recent.get(f"{metric}_ci") or [np.nan, np.nan])[:2]
            value = recent.get(metric)
            rows.append({"metric": info.label_with_direction, "model": info.format(value),
                         "grid baseline": info.format(base.get("grid", {}).get(metric)),
                         "form baseline": info.format(base.get("form", {}).get(metric)),
                         "model's 90% interval": info.bounds(lo, hi) if value is not None and not pd.isna(value)
                         else "—"})
        # the model beside its baselines, the metric pinned: on a phone the three read at a glance
        show_table(pd.DataFrame(rows), f"recent_accuracy_{bundle.version}.csv", height="content",
                   column_config={"metric": st.column_config.TextColumn(width=185, pinned=True, help=DIRECTION_HELP),
                                  "model": st.column_config.TextColumn(width=60),
                                  "grid baseline": st.column_config.TextColumn("grid", width=60),
                                  "form baseline": st.column_config.TextColumn("form", width=60)})
        st.caption(f"Model: mean over those races and its {INTERVAL_KIND}. Baselines: grid order and recent "
                   "form, scored the same way on the same races" + ("." if base else " (not available).")
                   + " A dozen races is a small sample; the **Accuracy** page has the long view.")

    with st.expander("Features the model uses", icon=":material/list:"):
        used = {f: [] for f in dict.fromkeys(bundle.features.get("stage2", []) + bundle.features.get("stage1", []))}
        for f in bundle.features.get("stage1", []):
            used[f].append("qualifying")
        for f in bundle.features.get("stage2", []):
            used[f].append("race")
        feats = pd.DataFrame({"feature": list(used), "description": [describe(f) for f in used],
                              "group": [FEATURE_BY_NAME[f].group if f in FEATURE_BY_NAME else "" for f in used],
                              "used by": [" and ".join(v) + " model" for v in used.values()]})
        show_table(feats, f"features_{bundle.version}.csv",
                   column_config={"description": st.column_config.TextColumn(width="large")})
    with st.expander("Training parameters", icon=":material/tune:"):
        params = bundle.config.as_dict()
        show_table(pd.DataFrame({"parameter": list(params),
                                 "value": [json.dumps(v) if isinstance(v, (dict, list)) or v is None else str(v)
                                           for v in params.values()]}),
                   f"parameters_{bundle.version}.csv", height="content")

    st.subheader("What the race model relies on")
    try:
        importance = feature_importance(str(store.path), bundle.version).head(15)
        importance = importance.assign(description=importance["feature"].map(describe))
        t = importance.iloc[::-1]
        labels = wrap_labels(FEATURE_BY_NAME[f].label if f in FEATURE_BY_NAME else f for f in t["feature"])
        fig = go.Figure(go.Bar(
            x=t["gain"], y=labels,
            orientation="h", marker_color="#E10600",
            text=[pct(g) for g in t["gain"]], textposition="outside", cliponaxis=False,
            customdata=np.c_[t["feature"], t["description"]],
            hovertemplate="<b>%{customdata[1]}</b> (%{customdata[0]})<br>%{x:.1%} of the gain<extra></extra>"))
        fig.update_xaxes(tickformat=".0%", title="Share of the model's total gain",
                         range=[0, float(t["gain"].max()) * 1.25])  # room for the value beside the longest bar
        fig.update_yaxes(type="category", automargin=True)
        show_chart(style_figure(fig, height=bar_rows_height(labels, minimum=320)), key="models_importance_chart")
        st.caption("How much each input improved the race model's fit while it was trained (its share of the "
                   "total gain of the trees), top 15. This is what the model leans on in general; the next tab "
                   "shows what moved one driver's prediction.")
    except Exception as exc:
        friendly_error(exc, "read the feature importance")


# -- explanation ------------------------------------------------------------------------------------

def waterfall(contrib: pd.DataFrame, code: str, color: str, title: str, top: int = 10) -> go.Figure:
    shown = contrib.head(top)
    rest = contrib.iloc[top:]
    labels = [FEATURE_BY_NAME[f].label if f in FEATURE_BY_NAME else f for f in shown["feature"]]
    values = shown["contribution"].tolist()
    hover = [f"<b>{d}</b><br>{code}: {input_value(f, v)} · field average {input_value(f, a)}<br>effect {c:+.2f}"
             for f, d, v, a, c in zip(shown["feature"], shown["description"], shown["value"], shown["field_average"],
                                      values)]
    if len(rest):
        labels.append(f"{len(rest)} other inputs")
        values.append(float(rest["contribution"].sum()))
        hover.append(f"the {len(rest)} other inputs together: {values[-1]:+.2f}")
    labels.append(f"{code} vs field average")
    values.append(float(contrib["contribution"].sum()))
    hover.append(f"<b>{code}</b>: strength {values[-1]:+.2f} relative to the average driver of this field")
    labels = wrap_labels(labels)
    fig = go.Figure(go.Waterfall(
        orientation="h", y=labels, x=values, measure=["relative"] * (len(values) - 1) + ["total"],
        increasing=dict(marker=dict(color=UP)), decreasing=dict(marker=dict(color=DOWN)),
        totals=dict(marker=dict(color=color)), connector=dict(line=dict(color="#9AA0A6", width=1, dash="dot")),
        text=[f"{v:+.2f}" for v in values], textposition="outside", cliponaxis=False,
        hovertext=hover, hovertemplate="%{hovertext}<extra></extra>",
    ))
    fig.add_vline(x=0, line=dict(color="#9AA0A6", width=1))
    path = np.r_[0.0, np.cumsum(values[:-1]), values[-1]]
    lo, hi = float(min(path.min(), 0)), float(max(path.max(), 0))
    pad = 0.18 * (hi - lo or 1)  # room for the value labels beside the bars
    fig.update_yaxes(autorange="reversed", type="category", automargin=True, tickfont=dict(size=11))
    fig.update_xaxes(title="← lowers · raises his chances →", zeroline=False,
                     range=[lo - (pad if lo < 0 else 0.02 * pad), hi + pad])
    return style_figure(fig, height=bar_rows_height(labels, base=110, minimum=340), title=title)


def draw_explanation() -> None:
    try:
        upcoming = engine.upcoming_races(3)
        recent_races = engine.recent_races(5)
    except Exception as exc:
        friendly_error(exc, "list the races")
        upcoming, recent_races = [], []
    races = [(r, "next" if i == 0 else "upcoming") for i, r in enumerate(upcoming)] + \
            [(r, "results in") for r in recent_races]
    if not races:
        st.info("There is no race to explain yet.")
    else:
        by_key = {(r.season, r.round): (r, tag) for r, tag in races}
        race_key = st.selectbox(
            "Race", list(by_key), key="models_explain_race",
            format_func=lambda k: f"{by_key[k][0].season} {by_key[k][0].name} ({by_key[k][1]})")
        race, _ = by_key[race_key]
        try:
            with st.spinner("Predicting the race…"):
                prediction = race_prediction(race.season, race.round)
            table = prediction.table.sort_values("expected_position")
            drivers = table["driver_ref"].tolist()
            info = table.set_index("driver_ref")
            driver = st.selectbox(
                "Driver", drivers, key="models_explain_driver",
                format_func=lambda d: (f"{info.at[d, 'code']} · {info.at[d, 'driver_name']} "
                                       f"({info.at[d, 'team_name']})"))
            row = info.loc[driver]
            code, name = escape_markdown(row["code"]), escape_markdown(row["driver_name"])  # names from the data
            st.caption(f"{MODE_NOTE[prediction.mode]} The champion gives {code}: win {pct(row['p_win'])}, "
                       f"podium {pct(row['p_podium'])}, points {pct(row['p_points'])}, expected position "
                       f"{row['expected_position']:.1f}.")
            contrib = explanation(*db_key, race.season, race.round, driver)
            show_chart(waterfall(contrib, row["code"], team_color(row["constructor_ref"]),
                                 f"Why {row['code']}: what moved his prediction"), key="models_explain_chart")
            st.caption(
                f"Each bar is how much one input moved {name}'s race strength compared with the "
                "average driver of this field: green raised his chances, red lowered them; the last bar adds "
                "them up. The 10 largest effects are shown one by one. Strength is on a log scale: +0.7 "
                "doubles his odds of finishing ahead of any given rival, −0.7 halves them. The effects are "
                "the model's own split of its prediction (SHAP values of the gradient-boosted trees), "
                "so they explain the model, not the sport.")
            details = contrib.assign(effect=contrib["contribution"].round(3), value=contrib["value"].round(6),
                                     field_average=contrib["field_average"].round(6))
            show_table(details, f"explanation_{race.season}_{race.round}_{driver}.csv",  # (the CSV names each feature)
                       columns=["description", "value", "field_average", "effect"],
                       column_config={"description": st.column_config.TextColumn("input", width="large"),
                                      "value": st.column_config.NumberColumn(row["code"], format="%.3g"),
                                      "field_average": st.column_config.NumberColumn("field average", format="%.3g"),
                                      "effect": st.column_config.NumberColumn(format="%+.3f")})
        except Exception as exc:
            friendly_error(exc, "explain the prediction")


# -- versions and history ---------------------------------------------------------------------------

STATUS_NOTE = {"champion": "★ champion", "retired": "retired (former champion)",
               "pending": "pending (not promoted)", "challenger": "challenger (being judged)"}


def artifact_state(version: str, on_disk: bool) -> str:
    if not on_disk:
        return "missing"
    return "damaged (cannot be loaded)" if engine.registry.problem(version, thorough=False) else "on disk"


def draw_versions() -> None:
    try:
        versions = reports.registry_table(engine.registry, latest_per_race())
    except Exception as exc:
        friendly_error(exc, "read the model registry")
        versions = pd.DataFrame()
    if not versions.empty:
        versions = versions.assign(
            status=[STATUS_NOTE.get(s, s) for s in versions["status"]],
            recent_top1=versions["recent_top1"] * 100, grid_recent_top1=versions["grid_recent_top1"] * 100,
            created=pd.to_datetime(versions["created_at"], utc=True).dt.tz_localize(None),
            artifact=[artifact_state(v, on_disk) for v, on_disk in zip(versions["version"], versions["artifact"])])
        st.markdown("**Every model version** (newest first). *Recent* figures are each version's own "
                    "walk-forward test on the races just before it was trained (after qualifying), beside the "
                    "grid baseline on the same races.")
        show_table(versions, "model_versions.csv", height="content",
                   columns=["version", "status", "created", "trained_through", "races", "fingerprint",
                            "recent_races", "recent_top1", "grid_recent_top1", "recent_logloss",
                            "grid_recent_logloss", "recent_spearman", "artifact"],
                   column_config={
                       "created": st.column_config.DatetimeColumn(format="D MMM YYYY, HH:mm"),
                       "trained_through": "trained through",
                       "races": st.column_config.NumberColumn("races trained on", format="%d"),
                       "recent_races": st.column_config.NumberColumn("recent races", format="%d"),
                       "recent_top1": st.column_config.NumberColumn("winner picked", format="%.0f%%"),
                       "grid_recent_top1": st.column_config.NumberColumn("grid: winner picked", format="%.0f%%"),
                       "recent_logloss": st.column_config.NumberColumn("log loss", format="%.3f"),
                       "grid_recent_logloss": st.column_config.NumberColumn("grid: log loss", format="%.3f"),
                       "recent_spearman": st.column_config.NumberColumn("Spearman", format="%.3f"),
                       "artifact": "model file"})
    history = pd.DataFrame(engine.registry.history())
    st.markdown("**Promotions and rollbacks** (newest first, times UTC)")
    if history.empty:
        st.write("Nothing has happened yet.")
    else:
        history = history.iloc[::-1].reset_index(drop=True)
        history["at"] = pd.to_datetime(history["at"], utc=True).dt.tz_localize(None)
        if "from" in history.columns:
            history["from"] = history["from"].fillna("—")
        show_table(history, "model_history.csv", height="content",
                   columns=[c for c in ["at", "action", "version", "from", "reason"] if c in history.columns],
                   column_config={"at": st.column_config.DatetimeColumn("when", format="D MMM YYYY, HH:mm"),
                                  "from": "previous champion",
                                  "reason": st.column_config.TextColumn(width="large")})


# -- actions ----------------------------------------------------------------------------------------

def draw_actions() -> None:
    st.markdown("**Retrain.** Train a new model on every race with results, test it on the most recent races "
                "the same way as the champion, and make it the champion only if it is at least as accurate "
                "(log loss at most 0.02 worse and Spearman at most 0.01 worse, trained on newer data) — "
                "otherwise it is kept as *pending*. It takes a few minutes.")
    try:
        triggers = retrain_triggers()
    except Exception as exc:
        friendly_error(exc, "check the retrain triggers")
        triggers = []
    if triggers:
        st.markdown("Reasons to retrain now:\n" + "\n".join(f"- {escape_markdown(text[:1].upper() + text[1:], limit=300)}"
                                                         for _, text in triggers))
    else:
        st.markdown(":material/check: No reason to retrain right now.")
    decision = retrain_with_progress("models_retrain")
    if decision is not None:
        st.session_state[DECISION_KEY] = {"kind": "retrain", "challenger": decision.challenger,
                                          "promoted": decision.promoted, "reasons": list(decision.reasons),
                                          "seconds": decision.seconds}
        st.rerun()

    st.divider()
    st.markdown("**Roll back.** Make an earlier version the champion again, for example when a new model "
                "turns out worse in the live track record. Nothing is deleted; you can roll forward the same way.")
    index = engine.registry.index().get("versions", {})
    # only versions whose model file loads (rolling back to a damaged one would fall back at once);
    # while the champion cannot be loaded, the version served in its place is one of them
    candidates = engine.registry.loadable_versions(exclude=(engine.registry.champion_version(),))
    if not candidates:
        st.caption("There is no other version whose model file loads to roll back to.")
    elif require_admin("roll back the model", key="models_rollback"):
        def label(v: str) -> str:
            meta = index.get(v, {})
            return (f"{v} · {STATUS_NOTE.get(meta.get('status'), meta.get('status'))} · trained through "
                    f"{meta.get('training_window', {}).get('last_race_label', '?')}")

        target = st.selectbox("Version to make champion", candidates, format_func=label, key="models_rollback_version")
        # a version newer than the champion (say, one kept pending) is a step forward, not back
        forward = target > (engine.registry.champion_version() or "")
        if st.button(f"Switch forward to {target}" if forward else f"Roll back to {target}",
                     key="models_rollback_button", icon=":material/redo:" if forward else ":material/undo:"):
            try:
                engine.lifecycle.rollback(target)
            except RegistryError as exc:
                st.error(f"Could not roll back: {escape_markdown(for_visitor(str(exc)), limit=ERROR_LIMIT)}.",
                         icon=":material/error:")
            except Exception as exc:
                from f1core.engine.service import RetrainInProgress

                if isinstance(exc, RetrainInProgress):
                    st.info(f"Could not roll back now: {exc}.", icon=":material/hourglass_top:")
                else:
                    friendly_error(exc, "roll back the model")
            else:
                st.cache_data.clear()
                st.session_state[DECISION_KEY] = {"kind": "rollback", "version": target}
                st.rerun()


# Only the open tab runs (a tab switch reruns the page): the explanation and the retrain triggers
# are computed when someone looks at them.
TABS = {"Champion": draw_champion, "Why this prediction?": draw_explanation,
        "Versions & history": draw_versions, "Retrain & roll back": draw_actions}
for tab, draw in zip(st.tabs(list(TABS), key="models_tab", on_change="rerun"), TABS.values()):
    if tab.open:
        with tab:
            draw()
