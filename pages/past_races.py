"""Past races: the prediction made before each race, next to what happened; any race by link
(`?season=2025&round=10`)."""
from __future__ import annotations

from urllib.parse import urlencode

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from f1core.views import insights, race_review
from f1core.views.race_review import BACKTEST, LOG, RaceReview
from f1core.views.terms import DIRECTION, DIRECTION_HELP
from pages._resources import cached_query, get_engine
from pages._style import pcts, show_chart, style_figure, team_color
from pages._widgets import LinkChoices, friendly_error, require_data, show_table

st.title("Past races")
st.caption("What the model expected before each race, next to what happened. The prediction is the one the "
           "app published before the race when it has one; otherwise the walk-forward backtest's, made by a "
           "model trained only on earlier races. Either way the model never saw the result.")
require_data()


@st.cache_data(show_spinner=False, max_entries=64)
def _review(db_path: str, version: tuple, season: int, round_: int) -> RaceReview:
    return race_review.review_race(get_engine(), season, round_)


def load_review(season: int, round_: int) -> RaceReview:
    engine = get_engine()
    if "version" not in _run:  # once per run: new data, a new backtest or a newly frozen prediction
        _run["version"] = race_review.review_version(engine)
    return _review(str(engine.store.path), _run["version"], season, round_)


_run: dict = {}


def finish_chart(c: pd.DataFrame) -> go.Figure:
    """Expected vs actual finishing position per driver, in finishing order: a hollow marker for
    the expectation, a filled one (a cross when not classified) for the result, joined by a line."""
    t = c[c["took_part"]].sort_values("position_order", ascending=False)  # P1 drawn at the top
    colors = [team_color(r) for r in t["constructor_ref"]]
    fig = go.Figure()
    xs, ys = [], []
    for code, exp, act in zip(t["code"], t["expected_position"], t["position_order"]):
        if pd.notna(exp):
            xs += [exp, act, None]
            ys += [code, code, None]
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line=dict(color="#9AA0A6", width=2),
                             hoverinfo="skip", showlegend=False))
    has = t["expected_position"].notna()
    legend = (("expected", "circle-open"), ("finished", "circle"), ("not classified", "x"))
    if t["finished"].astype(bool).all():
        legend = legend[:2]
    for name, symbol in legend:  # legend entries in a neutral colour; the points carry team colours
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=name, showlegend=True,
                                 marker=dict(symbol=symbol, size=11, color="#C8CCD0", line=dict(width=2))))
    fig.add_trace(go.Scatter(
        x=t.loc[has, "expected_position"], y=t.loc[has, "code"], mode="markers", name="expected", showlegend=False,
        marker=dict(symbol="circle-open", size=12, color=[c for c, h in zip(colors, has) if h], line=dict(width=2.5)),
        customdata=t.loc[has, ["driver_name", "p_win", "p_podium"]].to_numpy(),
        hovertemplate="%{customdata[0]}: expected P%{x:.1f}<br>win %{customdata[1]:.1%} · "
                      "podium %{customdata[2]:.1%}<extra></extra>"))
    classified = t["finished"].astype(bool)
    for mask, name, symbol in ((classified, "finished", "circle"), (~classified, "not classified", "x")):
        rows = t[mask]
        if rows.empty:
            continue
        fig.add_trace(go.Scatter(
            x=rows["position_order"], y=rows["code"], mode="markers", name=name, showlegend=False,
            marker=dict(symbol=symbol, size=11, color=[team_color(r) for r in rows["constructor_ref"]],
                        line=dict(width=1, color="#111")),
            customdata=rows[["driver_name", "status", "grid"]].to_numpy(),
            hovertemplate="%{customdata[0]}: P%{x} (%{customdata[1]}), started P%{customdata[2]}<extra></extra>"))
    n = int(t["position_order"].max()) if len(t) else 20
    fig.update_xaxes(range=[0.4, n + 0.6], dtick=1 if n <= 12 else 2, title="finishing position (1 = winner)")
    # the finishing order, not the order drivers first appear in the traces (non-starters would top it)
    fig.update_yaxes(type="category", title=None, categoryorder="array", categoryarray=list(t["code"]))
    return style_figure(fig, height=max(320, 24 * len(t) + 90))


CARD = "stretch"  # metric cards share the row and wrap on a phone


def verdict_panel(r: RaceReview) -> None:
    v = r.verdict
    metrics = r.metrics.set_index("metric")
    grid_called = metrics.loc["winner_top1", "grid"]
    mae, mae_grid = metrics.loc["position_mae", "model"], metrics.loc["position_mae", "grid"]
    favourite_pct, winner_pct = pcts(v.favourite_p_win, v.winner_p_win)
    row = st.container(horizontal=True, gap="small")
    a = b = c = d = row
    a.metric("Winner called?", "Yes" if v.winner_called else "No", border=True, width=CARD,
             help="Did the driver with the highest win chance win?",
             delta_description=None if pd.isna(grid_called) else
             f"pole sitter (grid baseline): {'won' if grid_called else 'did not win'}")
    b.metric("Podium in predicted top 3", f"{v.podium_hits} of {len(v.actual_podium)}", border=True, width=CARD,
             help="How many of the actual podium finishers were among the three drivers most likely to "
                  "finish on the podium.",
             delta_description=f"picked {', '.join(v.predicted_podium)}")
    c.metric("Winner's chance", winner_pct, border=True, width=CARD,
             help="The win chance the prediction gave the driver who won.",
             delta_description=(f"{v.winner} was pick {v.winner_pick}" if v.winner_pick else
                                f"{v.winner} had no prediction") if v.winner else None)
    d.metric("Mean position error", f"{mae:.1f} places" if pd.notna(mae) else "—", border=True, width=CARD,
             delta=None if pd.isna(mae_grid) or pd.isna(mae) else f"{mae - mae_grid:+.1f} vs grid baseline",
             delta_color="inverse",
             help="Mean distance between expected and actual finishing position (lower is better), beside "
                  "the same for the grid baseline (finishing order = starting grid).")
    fav = f"**{v.favourite_name}** ({favourite_pct} to win)"
    if v.winner_called:
        line = f"The favourite, {fav}, won."
    else:
        line = (f"The favourite, {fav}, finished {v.favourite_finish}; **{v.winner_name}** won with a "
                f"predicted {winner_pct}" + (f" (pick {v.winner_pick} of the field)." if v.winner_pick else "."))
    st.markdown(f"{line} {v.podium_hits} of the 3 drivers most likely to reach the podium "
                f"({', '.join(v.predicted_podium)}) did: the podium was {', '.join(v.actual_podium)}.")


def metrics_table(r: RaceReview, key: str) -> None:
    m = r.metrics
    shown = m.assign(**{"grid baseline": m["grid"], "form baseline": m["form"],
                        "label": m["label"] + " " + m["better"].map(DIRECTION)})
    columns = ["label", "model", "grid baseline", "form baseline"]
    for name in ("grid", "form"):
        if m[name].isna().all():
            columns.remove(f"{name} baseline")
    st.markdown("**This race's scores**")
    show_table(shown.drop(columns=["grid", "form"]), f"past_race_scores_{key}.csv", columns=columns,
               height="content",
               column_config={"label": st.column_config.TextColumn(
                                  "metric", width=185, help=DIRECTION_HELP),
                              "model": st.column_config.NumberColumn(format="%.3g", width=60),
                              "grid baseline": st.column_config.NumberColumn("grid", format="%.3g", width=60,
                                                                             help="The grid baseline"),
                              "form baseline": st.column_config.NumberColumn("form", format="%.3g", width=60,
                                                                             help="The form baseline")})
    with st.expander("What these scores mean"):
        st.markdown("\n".join(f"- **{label}**: {text}" for label, text in zip(m["label"], m["help"])))
        st.markdown("Baselines are scored the same way: the **grid** baseline expects the finishing order to be "
                    "the starting grid, the **form** baseline the order of recent points; both turn that order "
                    "into chances with how often each slot finished where in earlier races.")
    st.caption("One race is mostly luck: judge the model over dozens of races on the Accuracy page.")


def driver_table(r: RaceReview, key: str) -> None:
    t = r.comparison.copy()
    t["result"] = [race_review.result_words(row) for _, row in t.iterrows()]
    t["win_pct"] = t["p_win"] * 100
    t["podium_pct"] = t["p_podium"] * 100
    show_table(t, f"past_race_{key}.csv", height="content",
               columns=["position_order", "code", "expected_position", "error", "win_pct", "podium_pct", "result",
                        "grid", "driver_name", "team_name"],
               column_config={
                   "position_order": st.column_config.NumberColumn("pos", help="Actual finishing position", width=44),
                   "code": st.column_config.TextColumn("driver", width=56),
                   "expected_position": st.column_config.NumberColumn("expected", format="%.1f", width=70,
                                                                      help="Expected finishing position"),
                   "error": st.column_config.NumberColumn(
                       "error", format="%+.1f", width=56,
                       help="Actual minus expected position: positive = finished behind the expectation"),
                   "win_pct": st.column_config.NumberColumn("win", format="%.1f%%", width=60,
                                                            help="Predicted chance to win"),
                   "podium_pct": st.column_config.NumberColumn("podium", format="%.1f%%", width=64,
                                                               help="Predicted chance of a podium"),
                   "result": st.column_config.TextColumn("result", help="Classified position, or why not", width=180),
                   "grid": st.column_config.NumberColumn("grid", help="Starting slot (0 = pit lane)", width=44),
                   "driver_name": "name", "team_name": "team",
               })


def show_review(season: int, round_: int) -> None:
    key = f"{season}_{round_}"
    try:
        r = load_review(season, round_)
    except Exception as exc:
        friendly_error(exc, f"load {season} round {round_}")
        return
    st.subheader(f"{r.race.name} {r.race.season}")
    link = f"?{urlencode({'season': season, 'round': round_})}"  # this page's address, nothing echoed from it
    st.caption(f"Round {r.race.round} · {r.race.date:%-d %B %Y} · [:material/link: link to this race]({link})")
    icon = {LOG: ":material/history_edu:", BACKTEST: ":material/science:"}.get(r.source.kind, ":material/info:")
    label = {LOG: "Source: the published prediction.", BACKTEST: "Source: the backtest."}.get(
        r.source.kind, "No prediction for this race.")
    (st.info if r.source.kind else st.warning)(f"**{label}** {r.source.description}", icon=icon)
    if r.actual.empty:
        st.info("This race has no result in the store yet.")
        return
    if r.verdict is None:
        st.markdown("**Result**")
        show_table(r.actual, f"past_race_result_{key}.csv", height="content",
                   columns=["position_order", "code", "driver_name", "team_name", "grid", "position_text", "status",
                            "points"],
                   column_config={"position_order": st.column_config.NumberColumn("pos", width=50),
                                  "code": st.column_config.TextColumn("driver", width="small"),
                                  "driver_name": "name", "team_name": "team", "position_text": "classified",
                                  "points": st.column_config.NumberColumn(format="%g")})
        return
    verdict_panel(r)
    chart_col, table_col = st.columns([4, 3], gap="medium")
    with chart_col:
        st.markdown("**Expected vs actual finishing position**")
        show_chart(finish_chart(r.comparison), key=f"past_chart_{key}")
    with table_col:
        metrics_table(r, key)
    st.markdown("**Driver by driver**")
    driver_table(r, key)


try:
    recent = get_engine().recent_races(3)
except Exception as exc:
    friendly_error(exc, "list the races with results")
    st.stop()
if not recent:
    st.info("No race has a result yet.")
    st.stop()

# a shared link names a race: its tab when it has one, else the earlier races' choice
try:
    seasons = cached_query(insights.seasons_with_results)
except Exception as exc:
    friendly_error(exc, "list the seasons with results")
    st.stop()
link = LinkChoices()
asked_season = link.get("season", seasons, int, unusable="has no race results here")
season_races = cached_query(race_review.races_of_season, asked_season) if asked_season else []
asked_round = link.get("round", [r.round for r in season_races], int,
                       unusable=f"is not a race with results in {asked_season}") if asked_season else None
link.warn()
labels = [f"{insights.short_race_name(r.name)} {r.season}" for r in recent] + ["Earlier races"]
in_tabs = {(r.season, r.round): label for r, label in zip(recent, labels)}
asked = (asked_season, asked_round) if asked_round else None
tabs = st.tabs(labels, default=in_tabs.get(asked, labels[-1]) if asked else None)
for tab, race in zip(tabs, recent):
    with tab:
        show_review(race.season, race.round)

with tabs[-1]:
    try:
        left, right = st.columns([1, 3])
        season = left.selectbox("Season", seasons, key="past_season", help="Seasons with race results, newest first.",
                                index=seasons.index(asked_season) if asked and asked not in in_tabs else 0)
        races = [r for r in cached_query(race_review.races_of_season, season) if (r.season, r.round) not in in_tabs]
        if not races:
            st.info(f"The races of {season} with results are in the tabs above.")
        else:
            rounds = [r.round for r in races]
            race = right.selectbox("Race", races, key=f"past_race_{season}",
                                   index=rounds.index(asked_round) if asked and season == asked_season
                                   and asked_round in rounds else 0,
                                   format_func=lambda r: f"R{r.round} {r.name} ({r.date:%-d %b})")
            show_review(race.season, race.round)
    except Exception as exc:
        friendly_error(exc, "list the earlier races")
