"""Drift: is the racing the model sees now still like the racing it learned from?"""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from f1core.engine import drift as drift_mod
from f1core.engine.features import FEATURE_BY_NAME
from pages._resources import champion_version, get_engine, get_store, retrain_triggers
from pages._style import bar_rows_height, show_chart, style_figure, wrap_labels
from pages._widgets import friendly_error, require_data, require_model, show_table

MODERATE, MAJOR = drift_mod.MODERATE, drift_mod.MAJOR
LEVEL_COLOR = {"major": "#E10600", "moderate": "#FFB800", "small": "#9AA0A6"}
CALENDAR_COLOR = {"major": "rgba(225,6,0,0.35)", "moderate": "rgba(255,184,0,0.35)", "small": "rgba(154,160,166,0.35)"}
TRIGGER_ICON = {"no-model": ":material/block:", "set-up": ":material/tune:", "new-results": ":material/sports_score:",
                "new-weather": ":material/rainy:", "drift": ":material/trending_down:", "accuracy": ":material/target:", "age": ":material/schedule:"}
LOG_TICKS = [0.001, 0.01, 0.03, 0.1, 0.25, 1, 3, 10, 30]

st.title("Drift")
st.caption("Is the racing the model sees now still like the racing it learned from? When the inputs move "
           "far from what it was trained on, its predictions deserve less trust until it is retrained.")
require_data()
engine = require_model()


@st.cache_data(show_spinner=False, max_entries=4)
def drift_data(db_path: str, data_version: int, champion: str) -> tuple[pd.DataFrame, dict]:
    """The drift series and its summary (`Engine.drift_summary`, computed from the same series so the
    couple of seconds it takes are spent once), per data version and champion."""
    eng = get_engine()
    series = eng.drift_series()
    return series, drift_mod.summarise(series, eng.champion())


def plain_name(feature: str) -> str:
    """A feature as the pages name it ("Driver's recent race pace"), its code name when unknown."""
    return FEATURE_BY_NAME[feature].label if feature in FEATURE_BY_NAME else feature


def level(psi: float) -> str:
    return "major" if psi >= MAJOR else "moderate" if psi >= MODERATE else "small"


store = get_store()
key = (str(store.path), store.data_version(), champion_version() or "")
try:
    with st.spinner("Comparing recent races with the model's training data (a few seconds)…"):
        series, summary = drift_data(*key)
except Exception as exc:
    friendly_error(exc, "measure the drift")
    st.stop()

if series.empty or summary.get("latest") is None or summary["latest"].empty:
    st.info("Not enough races yet to measure drift.", icon=":material/trending_flat:")
    st.stop()

# -- the suggestion ---------------------------------------------------------------------------------

window_end = summary.get("window_end", "")
end = series[~series["upcoming"]].sort_values("date").tail(1)
end_label = window_end
if not end.empty:
    race = engine.race(int(end["season"].iloc[0]), int(end["round"].iloc[0]))
    end_label = f"the 12 races up to {race.label}"
message = summary["message"]
same_data = engine.lifecycle.retrained_on_current_data()
if summary["suggest_retrain"] and same_data:
    st.info(f"**The inputs have moved**, over {end_label}: {message.removeprefix('drift suggests retraining: ')}. "
            f"A model has already been trained on the data as it is ({same_data}), so retraining again would give "
            "the same model: the shift is in the racing itself, and the next results will tell the models more.",
            icon=":material/trending_down:")
elif summary["suggest_retrain"]:
    st.warning(f"**Retraining is suggested.** Over {end_label}, the inputs have moved away from the model's "
               f"training data: {message.removeprefix('drift suggests retraining: ')}.",
               icon=":material/trending_down:")
else:
    st.success(f"**No retraining needed for drift.** Over {end_label}: "
               f"{message.removeprefix('no retraining needed for drift: ')}.", icon=":material/check_circle:")

try:
    triggers = retrain_triggers()
except Exception as exc:
    friendly_error(exc, "check the retrain triggers")
    triggers = []
others = [(kind, text) for kind, text in triggers if kind != "drift"]
if others:
    st.markdown("**Other reasons to retrain right now**" if summary["suggest_retrain"] else
                "**Reasons to retrain right now**")
    for kind, text in others:
        st.markdown(f"- {TRIGGER_ICON.get(kind, ':material/info:')} {text[:1].upper() + text[1:]}")
elif triggers:
    st.markdown("Drift is the only reason to retrain right now: there are no new results since the champion "
                "was trained, and it is recent.")
if triggers:
    st.caption("The background upkeep retrains by itself when new results arrive or the set-up changed, and for "
               "the other reasons at most once a day. Retrain by hand on the **Models** page: the new model "
               "replaces the champion only when it is at least as accurate on the most recent races.")
elif same_data and summary["suggest_retrain"]:
    pass  # the box above says it: moved inputs, but a retrain on the same data would give the same model
elif same_data:
    st.markdown(f":material/check: **No reason to retrain right now**: {same_data} was trained with this set-up "
                "on the data as it is, so only new results can change what a retrain learns.")
else:
    st.markdown(":material/check: **No reason to retrain right now**: no new results, no marked drift, the "
                "live track record is as expected and the model is recent.")

# -- the latest window ------------------------------------------------------------------------------

latest = summary["latest"].copy()
important = set(summary.get("important", []))
latest["level"] = latest["psi"].map(level)
latest["important"] = latest["feature"].isin(important)
latest["description"] = latest["feature"].map(lambda f: FEATURE_BY_NAME[f].description if f in FEATURE_BY_NAME else "")
latest["label"] = latest["feature"].map(plain_name)
latest["follows calendar"] = latest["calendar"]

st.subheader(f"What moved most ({window_end}, last 12 races)")


def latest_chart(frame: pd.DataFrame, top: int = 15) -> go.Figure:
    t = frame.head(top).iloc[::-1]
    labels = wrap_labels(f"{'★ ' if imp else ''}{label}{' (calendar)' if cal else ''}"
                         for label, imp, cal in zip(t["label"], t["important"], t["calendar"]))
    fig = go.Figure(go.Bar(
        x=t["psi"], y=labels, orientation="h",
        marker_color=[(CALENDAR_COLOR if cal else LEVEL_COLOR)[lv] for lv, cal in zip(t["level"], t["calendar"])],
        text=[f"{p:.2f}" for p in t["psi"]], textposition="outside", cliponaxis=False,
        customdata=np.c_[t["description"], t["kl"], t["level"]],
        hovertemplate="%{customdata[0]}<br>PSI %{x:.3f} (%{customdata[2]}) · KL %{customdata[1]:.3f}"
                      "<extra></extra>",
    ))
    for x, name, side in ((MODERATE, "moderate", "right"), (MAJOR, "major", "left")):
        fig.add_vline(x=x, line=dict(color="#9AA0A6", dash="dot", width=1))
        # annotations on a log axis take the log of the value (shapes take the value itself)
        fig.add_annotation(x=np.log10(x), y=1, yref="paper", text=f" {name} ", showarrow=False, xanchor=side,
                           yanchor="bottom", font=dict(size=11, color="#9AA0A6"))
    fig.update_xaxes(type="log", title="PSI (log scale)", tickvals=LOG_TICKS, ticktext=[f"{v:g}" for v in LOG_TICKS],
                     range=[np.log10(0.01), np.log10(max(t["psi"].max(), 1) * 3)])
    fig.update_yaxes(type="category", automargin=True)
    return style_figure(fig, height=bar_rows_height(labels))


show_chart(latest_chart(latest), key="drift_latest_chart")
st.caption("The 15 features that moved most, by PSI; red is a major shift (PSI ≥ 0.25), amber a moderate one "
           "(0.1 to 0.25). Faded bars marked (calendar) follow the calendar or the weather rather than the sport, "
           "so they are not counted towards the suggestion above. ★ marks the model's 8 most important features: "
           "drift there matters most.")
show_table(latest, f"drift_latest_{window_end.replace(' ', '_')}.csv",
           columns=["label", "psi", "level", "follows calendar", "important", "kl", "feature"],
           column_config={"label": st.column_config.TextColumn("feature", width="large", pinned=True),
                          "feature": st.column_config.TextColumn("name in the code"),
                          "psi": st.column_config.NumberColumn("PSI", format="%.3f"),
                          "kl": st.column_config.NumberColumn("KL", format="%.3f"),
                          "important": st.column_config.CheckboxColumn("among the 8 most important"),
                          "follows calendar": st.column_config.CheckboxColumn()})

# -- over time --------------------------------------------------------------------------------------

st.subheader("Over time")
controls = st.columns([1, 3])
measure = controls[0].segmented_control("Measure", ["psi", "kl"], default="psi", required=True,
                                        format_func=str.upper, key="drift_measure")
features = sorted(series["feature"].unique(), key=lambda f: -float(latest.set_index("feature")["psi"].get(f, 0)))
default = [f for f in features if f in important][:5] or features[:5]
label_of = {f: FEATURE_BY_NAME[f].label if f in FEATURE_BY_NAME else f for f in features}
chosen = controls[1].multiselect("Features", features, default=default, key="drift_features", format_func=label_of.get,
                                 help="Most moved first (in the latest window). At first: the model's most "
                                      "important features that moved most.")
with_upcoming = st.toggle("Include races not run yet", value=False, key="drift_upcoming",
                          help="Their grid, qualifying and weather are not known yet; missing values count as "
                               "a category of their own, so those features jump there.")


def series_chart(data: pd.DataFrame, measure: str) -> go.Figure:
    fig = go.Figure()
    palette = ["#E10600", "#64C4FF", "#FFB800", "#3FA34D", "#B36AE2", "#FF87BC", "#27F4D2", "#FF8000",
               "#9AA0A6", "#229971"]
    for i, (feature, d) in enumerate(data.groupby("feature", sort=False)):
        d = d.sort_values("date")
        race_labels = [f"{s} R{r}" + (" (not run yet)" if u else "") for s, r, u in
                       zip(d["season"], d["round"], d["upcoming"])]
        fig.add_trace(go.Scatter(
            x=d["date"], y=d[measure].clip(lower=0.001), name=label_of.get(feature, feature), mode="lines+markers",
            line=dict(color=palette[i % len(palette)], width=2), marker=dict(size=4),
            customdata=np.c_[race_labels, [FEATURE_BY_NAME[feature].description if feature in FEATURE_BY_NAME
                                           else ""] * len(d)],
            hovertemplate=(f"<b>{label_of.get(feature, feature)}</b> · 12 races to %{{customdata[0]}}<br>{measure.upper()} %{{y:.3f}}"
                           "<br>%{customdata[1]}<extra></extra>"),
        ))
    for y, name in ((MODERATE, f"moderate ({MODERATE})"), (MAJOR, f"major ({MAJOR})")):
        fig.add_hline(y=y, line=dict(color="#9AA0A6", dash="dot", width=1))
        # annotations on a log axis take the log of the value (shapes take the value itself)
        fig.add_annotation(x=0, xref="paper", y=np.log10(y), text=name, showarrow=False, xanchor="left",
                           yanchor="bottom", font=dict(size=11, color="#9AA0A6"))
    upcoming = data[data["upcoming"]]
    if not upcoming.empty:
        fig.add_vrect(x0=upcoming["date"].min(), x1=upcoming["date"].max(), fillcolor="#9AA0A6", opacity=0.12,
                      line_width=0, annotation=dict(text="not run yet", font=dict(size=11)),
                      annotation_position="top left")
    fig.update_yaxes(type="log", title=f"{measure.upper()} vs the training data (log scale)", tickvals=LOG_TICKS,
                     ticktext=[f"{v:g}" for v in LOG_TICKS])
    fig.update_xaxes(title=None)
    return style_figure(fig, height=460)


shown = series[series["feature"].isin(chosen)]
if not with_upcoming:
    shown = shown[~shown["upcoming"]]
if shown.empty:
    st.info("Pick at least one feature.")
else:
    order = {f: i for i, f in enumerate(chosen)}
    shown = shown.sort_values("feature", key=lambda c: c.map(order), kind="mergesort")
    show_chart(series_chart(shown, measure), key="drift_series_chart")
    st.caption("Each point compares the 12 races up to that race with the reference. The dotted lines are the "
               "usual PSI rules of thumb (0.1 moderate, 0.25 major); KL is on a similar but not identical "
               "scale. Watch the trend over several windows, not single points.")
    with st.expander("The series as a table"):
        show_table(series.assign(label=series["feature"].map(plain_name)), "drift_series.csv",
                   columns=["season", "round", "date", "upcoming", "label", "psi", "kl"],
                   column_config={"label": st.column_config.TextColumn("feature"),
                                  "date": st.column_config.DateColumn(format="D MMM YYYY"),
                                  "psi": st.column_config.NumberColumn("PSI", format="%.3f"),
                                  "kl": st.column_config.NumberColumn("KL", format="%.3f")})

with st.expander("What drift means here", icon=":material/help:", expanded=False):
    bundle = engine.champion()
    last = int(bundle.training_window["last_season"]) if bundle else None
    reference = f"{last - 2}–{last}" if last else "the last three seasons of the training window"
    st.markdown(
        f"- **Reference**: every driver-race of the last three seasons the champion model was trained on "
        f"({reference}). That is the racing the model mostly reflects.\n"
        f"- **Windows**: the 12 races ending at each race of the last two seasons (and, if you include them, "
        f"the races not run yet, with what is known of them today). A single race has only about 20 drivers, "
        f"so **per-race scores are noise**: compare windows of a dozen races or more.\n"
        f"- **PSI** (population stability index): cut the reference into 10 equal-sized bins of the feature "
        f"(plus one for missing values), and measure how far the window's shares of those bins are from 10% "
        f"each. Below {MODERATE}: little change; {MODERATE} to {MAJOR}: moderate; above {MAJOR}: a major shift.\n"
        f"- **KL divergence**: the information lost when the reference's shares are used in place of the window's; "
        f"0 when they match. It tells the same story as PSI on a slightly different scale.\n"
        f"- **Retraining is suggested** when a feature among the model's 8 most important has a major shift, or "
        f"when five or more features have at least a moderate one.\n"
        f"- Some features follow the calendar or the weather rather than the sport (how far through the season "
        f"the race is, temperatures, rain, circuit history, the standings): early in a season they always look "
        f"shifted, so they are shown but not counted towards the suggestion. New rules (as in 2026) move almost "
        f"everything else.")
