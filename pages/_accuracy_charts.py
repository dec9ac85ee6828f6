"""The Accuracy page's charts: metrics by season and over time with their intervals, reliability
diagrams, and the championship checkpoints, each predictor in its own colour and dash."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from f1core.views.terms import METRICS, PREDICTOR_LABEL, ordered_predictors
from pages._style import style_figure

COLORS = {"model": "#E10600", "grid": "#9AA0A6", "form": "#64C4FF", "last race": "#9AA0A6",
          "leader's share": "#9AA0A6"}
DASH = {"model": "solid", "grid": "dash", "form": "dot", "last race": "dash", "leader's share": "dash"}


def predictors_of(frame: pd.DataFrame) -> list[str]:
    return ordered_predictors(frame["predictor"].unique())

def season_chart(data: pd.DataFrame, metric: str) -> go.Figure:
    info = METRICS[metric]
    scale = 100 if info.kind == "share" else 1
    fig = go.Figure()
    for predictor in predictors_of(data):
        d = data[data["predictor"] == predictor]
        fig.add_trace(go.Bar(
            x=d["season"].astype(str), y=d["value"] * scale, name=PREDICTOR_LABEL.get(predictor, predictor),
            marker_color=COLORS.get(predictor, "#9AA0A6"),
            error_y=dict(type="data", symmetric=False, array=(d["hi"] - d["value"]) * scale,
                         arrayminus=(d["value"] - d["lo"]) * scale, thickness=1.5, width=4),
            customdata=np.c_[[info.interval(lo, hi) for lo, hi in zip(d["lo"], d["hi"])], d["races"]],
            hovertemplate=(f"<b>{PREDICTOR_LABEL.get(predictor, predictor)}</b> %{{x}}: "
                           f"%{{y:.{0 if scale == 100 else 3}f}}"
                           + ("%" if scale == 100 else "") + " (%{customdata[0]}) · %{customdata[1]} races<extra></extra>"),
        ))
    fig.update_layout(barmode="group", bargap=0.25)
    fig.update_xaxes(type="category", title=None)
    fig.update_yaxes(title=info.label + (" (%)" if scale == 100 else ""), rangemode="tozero")
    return style_figure(fig, height=380)

def rolling_chart(data: pd.DataFrame, metric: str, window: int) -> go.Figure:
    info = METRICS[metric]
    scale = 100 if info.kind == "share" else 1
    fig = go.Figure()
    for predictor in predictors_of(data):
        d = data[data["predictor"] == predictor]
        fig.add_trace(go.Scatter(
            x=d["date"], y=d["value"] * scale, name=PREDICTOR_LABEL.get(predictor, predictor), mode="lines",
            line=dict(color=COLORS.get(predictor, "#9AA0A6"), dash=DASH.get(predictor, "solid"),
                      width=3 if predictor == "model" else 2),
            customdata=np.c_[d["season"], d["race_name"]],
            hovertemplate=(f"<b>{PREDICTOR_LABEL.get(predictor, predictor)}</b><br>{window} races to "
                           "%{customdata[0]} %{customdata[1]}: %{y:." + ("0f}%" if scale == 100 else "3f}")
                           + "<extra></extra>"),
        ))
    fig.update_xaxes(title=None)
    fig.update_yaxes(title=f"{info.label}, last {window} races" + (" (%)" if scale == 100 else ""),
                     rangemode="tozero")
    return style_figure(fig, height=360)

def reliability_chart(bins: pd.DataFrame, outcome: str) -> go.Figure:
    fig = go.Figure()
    top = float(max(bins["bin_hi"].max(), bins["observed_hi"].max(), 0.1)) if not bins.empty else 1.0
    top = min(1.0, top)
    fig.add_trace(go.Scatter(x=[0, top], y=[0, top], mode="lines", name="perfectly calibrated",
                             line=dict(color="#9AA0A6", dash="dot", width=1.5), hoverinfo="skip"))
    for predictor in predictors_of(bins):
        d = bins[bins["predictor"] == predictor]
        label = PREDICTOR_LABEL.get(predictor, predictor)
        is_model = predictor == "model"
        fig.add_trace(go.Scatter(
            x=d["predicted"], y=d["observed"], name=label, mode="lines+markers",
            line=dict(color=COLORS.get(predictor, "#9AA0A6"), width=3 if is_model else 1.5,
                      dash=DASH.get(predictor, "solid")),
            marker=dict(size=9 if is_model else 6),
            error_y=dict(type="data", symmetric=False, array=d["observed_hi"] - d["observed"],
                         arrayminus=d["observed"] - d["observed_lo"], thickness=1.2, width=3) if is_model else None,
            customdata=np.c_[d["bin_lo"] * 100, d["bin_hi"] * 100, d["count"], d["hits"]],
            hovertemplate=(f"<b>{label}</b><br>given %{{customdata[0]:.0f}}–%{{customdata[1]:.0f}}% "
                           "(mean %{x:.1%})<br>happened %{y:.1%}: %{customdata[3]} of %{customdata[2]} "
                           "driver-races<extra></extra>"),
        ))
    fig.update_xaxes(title=f"Predicted {outcome} probability", tickformat=".0%", range=[0, top * 1.02])
    fig.update_yaxes(title="How often it happened", tickformat=".0%", range=[0, top * 1.02])
    return style_figure(fig, height=440)


def bin_count_chart(bins: pd.DataFrame, outcome: str) -> go.Figure:
    """How many driver-races the model's groups hold (the baselines' are in the table)."""
    d = bins[bins["predictor"] == "model"].sort_values("bin")
    given = [f"{lo * 100:.0f}–{hi * 100:.0f}%" for lo, hi in zip(d["bin_lo"], d["bin_hi"])]
    fig = go.Figure(go.Bar(
        x=given, y=d["count"], name="Model", marker_color=COLORS["model"], text=d["count"],
        textposition="outside", cliponaxis=False, textfont=dict(size=12),
        hovertemplate="%{y} driver-races given %{x}<extra></extra>"))
    top = float(d["count"].max()) if len(d) else 10.0
    ticks = [v for v in (1, 10, 100, 1000, 10000, 100000) if v <= top * 3]
    fig.update_xaxes(type="category", title=f"{outcome.capitalize()} probability the model gave")
    fig.update_yaxes(type="log", title="Driver-races", showgrid=False, tickvals=ticks,
                     ticktext=[f"{v:,}" for v in ticks], range=[0, np.log10(top * 4)])
    return style_figure(fig, height=230)


def checkpoint_chart(per: pd.DataFrame) -> go.Figure:
    """The champion's title chance at every checkpoint, model against the leader's-share baseline;
    the model's line joins the checkpoints of one season only."""
    per = per.sort_values(["season", "after_round"]).reset_index(drop=True)
    per["x"] = [f"{s} start" if r == 0 else f"{s} R{r}" for s, r in zip(per["season"], per["after_round"])]
    first = per["season"].ne(per["season"].shift()) & (per.index > 0)
    gaps = per[first].assign(p_champion=np.nan).set_index(per.index[first] - 0.5)  # no value: the line breaks
    fig = go.Figure()
    for name, col in (("model", "p_champion"), ("leader's share", "baseline_p_champion")):
        if col not in per:
            continue
        rows = pd.concat([per, gaps]).sort_index() if name == "model" and len(gaps) else per
        fig.add_trace(go.Scatter(x=rows["x"], y=rows[col], mode="markers+lines" if name == "model" else "markers",
                                 name="Model" if name == "model" else "Leader's share baseline",
                                 line=dict(color=COLORS[name], width=1, dash=DASH[name]),
                                 marker=dict(size=8 if name == "model" else 6, color=COLORS[name]),
                                 customdata=rows[["champion"]].to_numpy(),
                                 hovertemplate="%{x}: %{customdata[0]} given %{y:.0%}<extra></extra>"))
    fig.update_yaxes(title="chance given to the eventual champion", tickformat=".0%", range=[0, 1.02])
    fig.update_xaxes(type="category", tickangle=-60, title=None)
    return style_figure(fig, height=360)
