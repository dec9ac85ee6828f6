"""Charts of one race's prediction, shared by the race pages (Overview, Upcoming, Past, What-if).

Every chart takes `RacePrediction.table` (one row per driver) and labels drivers by their
three-letter code in their team's colour.
"""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from pages._style import pct, style_figure, team_color


def _colors(table: pd.DataFrame) -> list[str]:
    return [team_color(c) for c in table["constructor_ref"]]


def probability_bars(table: pd.DataFrame, column: str = "p_win", title: str | None = None,
                     top: int | None = None, baseline: pd.Series | None = None, height: int | None = None) -> go.Figure:
    """Horizontal bars of one probability per driver, most likely first; optional baseline ticks."""
    t = table.sort_values(column, ascending=False)
    if top:
        t = t.head(top)
    t = t.iloc[::-1]  # plotly draws the first row at the bottom
    # with a baseline, a thin grey bar under each driver's bar: a tick across the bar would strike
    # through the percentage printed at its end
    model_bar = dict(width=0.5, offset=-0.15) if baseline is not None else {}
    fig = go.Figure(go.Bar(
        x=t[column], y=t["code"], orientation="h", marker_color=_colors(t),
        text=[pct(p) for p in t[column]], textposition="outside", cliponaxis=False,
        customdata=t[["driver_name", "team_name"]].to_numpy(),
        hovertemplate="%{customdata[0]} (%{customdata[1]}): %{x:.1%}<extra></extra>", name="model", **model_bar,
    ))
    if baseline is not None:
        b = baseline.loc[t.index]
        fig.add_trace(go.Bar(x=b, y=t["code"], orientation="h", name="baseline", width=0.18, offset=-0.37,
                             marker_color="#9AA0A6", hovertemplate="baseline: %{x:.1%}<extra></extra>"))
        fig.update_layout(barmode="overlay")
    fig.data[0].showlegend = False  # bars are team-coloured; a legend swatch would show one team's colour
    fig.update_xaxes(tickformat=".0%", rangemode="tozero", range=[0, min(1.0, max(0.05, t[column].max() * 1.25))])
    fig.update_yaxes(type="category")
    fig = style_figure(fig, height=height or max(260, 26 * len(t) + 60), title=title)
    fig.update_layout(margin_r=44)  # room for the percentage printed past the longest bar
    return fig


def outcome_stack(table: pd.DataFrame, title: str | None = None) -> go.Figure:
    """Win / podium / points / DNF per driver in expected finishing order, as grouped bars."""
    t = table.sort_values("expected_position")
    fig = go.Figure()
    for column, name, color in (("p_win", "Win", "#E10600"), ("p_podium", "Podium", "#FFB800"),
                                ("p_points", "Points", "#3FA34D"), ("p_dnf", "DNF", "#9AA0A6")):
        fig.add_trace(go.Bar(x=t["code"], y=t[column], name=name, marker_color=color,
                             customdata=t["driver_name"],
                             hovertemplate="%{customdata}: " + name + " %{y:.1%}<extra></extra>"))
    fig.update_layout(barmode="group", bargap=0.25)
    fig.update_yaxes(tickformat=".0%", range=[0, 1])
    fig.update_xaxes(type="category")
    return style_figure(fig, height=380, title=title)


def position_bands(table: pd.DataFrame, title: str | None = None, actual: bool = False) -> go.Figure:
    """Expected finishing position with its P10-P90 band; the actual result when known."""
    t = table.sort_values("expected_position").iloc[::-1]
    fig = go.Figure()
    fig.add_trace(go.Bar(
        x=t["position_p90"] - t["position_p10"] + 0.6, base=t["position_p10"] - 0.3, y=t["code"], orientation="h",
        marker_color=_colors(t), opacity=0.35, name="P10–P90",
        customdata=t[["position_p10", "position_p90"]].assign(p_dnf=t.get("p_dnf", float("nan"))).to_numpy(),
        hovertemplate="likely between P%{customdata[0]:.0f} and P%{customdata[1]:.0f}"
                      + ("; retires in %{customdata[2]:.0%} of races" if "p_dnf" in t else "") + "<extra></extra>"))
    fig.add_trace(go.Scatter(x=t["expected_position"], y=t["code"], mode="markers", name="expected",
                             marker=dict(color=_colors(t), size=11, line=dict(width=1, color="#111")),
                             customdata=t["driver_name"],
                             hovertemplate="%{customdata}: expected P%{x:.1f}<extra></extra>"))
    if actual and "actual_position" in t and t["actual_position"].notna().any():
        fig.add_trace(go.Scatter(x=t["actual_position"], y=t["code"], mode="markers", name="actual",
                                 marker=dict(symbol="x", size=10, color="#FFFFFF", line=dict(width=1, color="#000")),
                                 hovertemplate="finished P%{x:.0f}<extra></extra>"))
    n = len(t)
    fig.update_xaxes(range=[0.4, n + 0.6], dtick=1 if n <= 12 else 2, title="finishing position")
    fig.update_yaxes(type="category")
    return style_figure(fig, height=max(300, 24 * n + 80), title=title)


def qualifying_chart(table: pd.DataFrame, title: str | None = None) -> go.Figure:
    """Predicted gap to pole with its P10-P90 interval; the real gap when qualifying is done."""
    t = table.sort_values("pred_quali_gap_pct").iloc[::-1]
    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=t["pred_quali_gap_pct"], y=t["code"], mode="markers", name="predicted",
        marker=dict(color=_colors(t), size=11, line=dict(width=1, color="#111")),
        error_x=dict(type="data", symmetric=False, array=t["pred_quali_gap_hi"] - t["pred_quali_gap_pct"],
                     arrayminus=t["pred_quali_gap_pct"] - t["pred_quali_gap_lo"], color="#9AA0A6", thickness=1.5),
        customdata=t[["driver_name", "pred_quali_time_s"]].to_numpy(),
        hovertemplate="%{customdata[0]}: +%{x:.2f}% (lap %{customdata[1]:.1f} s)<extra></extra>"))
    if t["actual_quali_gap_pct"].notna().any():
        fig.add_trace(go.Scatter(x=t["actual_quali_gap_pct"], y=t["code"], mode="markers", name="actual",
                                 marker=dict(symbol="x", size=10, color="#FFFFFF", line=dict(width=1, color="#000")),
                                 hovertemplate="actual +%{x:.2f}%<extra></extra>"))
    fig.update_xaxes(title="gap to pole, % of the pole lap", rangemode="tozero")
    fig.update_yaxes(type="category")
    return style_figure(fig, height=max(300, 24 * len(t) + 80), title=title)
