"""Upcoming races: for each of the next three races without results, the predicted qualifying
(stage 1) and the race chances (stage 2), with the weather forecast when there is one."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from f1core.engine.training import PRE
from f1core.ingest.openmeteo import FORECAST_DAYS
from f1core.views import racecards
from f1core.views.insights import short_race_name
from f1core.views.race_review import actual_result
from f1core.views.terms import BASELINE_SHORT, MODE_NOTE, QUALIFYING_ORDER_NOTE, RETIREMENT_TAIL
from pages._charts import outcome_stack, position_bands, probability_bars, qualifying_chart
from pages._resources import (
    cached_query,
    freeze_shown_predictions,
    get_engine,
    race_prediction,
    sprint_prediction,
    today,
)
from pages._style import chance_formats, pct, show_chart
from pages._widgets import escape_markdown, friendly_error, require_data, require_model, show_table, why_favourite


def lap(seconds: float, digits: int = 1) -> str:
    """A lap time to tenths: the predictions are off by most of a second (median error about
    0.8 s in the backtest), so thousandths would claim a precision they do not have."""
    if pd.isna(seconds):
        return "—"
    seconds = round(float(seconds), digits)
    minutes, rest = divmod(seconds, 60)
    width = 3 + digits if digits else 2
    return f"{int(minutes)}:{rest:0{width}.{digits}f}" if minutes else f"{rest:.{digits}f}"


WEATHER_HELP = ("The forecast is Open-Meteo's for the circuit at the start time; the model reads the chance of "
                "rain as an expected share of the race in the wet (half the chance of rain).")


def weather_line(conditions: dict, days_to_race: int) -> str:
    rain = conditions.get("rain")
    if rain is None:
        why = (f"Open-Meteo forecasts {FORECAST_DAYS} days ahead" if days_to_race >= FORECAST_DAYS
               else "none could be fetched yet; the Data page shows the last refresh")
        return (f":material/partly_cloudy_day: **Weather:** no forecast yet ({why}); the prediction counts no "
                "rain and leaves the temperatures unknown.")
    parts = ["dry" if rain < 0.005 else f"about {pct(rain)} of the race expected in the wet"]
    if conditions.get("air_temp") is not None:
        parts.append(f"air {conditions['air_temp']:.0f} °C")
    if conditions.get("track_temp") is not None:
        parts.append(f"track {conditions['track_temp']:.0f} °C")
    return ":material/partly_cloudy_day: **Weather forecast:** " + ", ".join(parts) + "."


def qualifying_table(table: pd.DataFrame) -> tuple[pd.DataFrame, list[str], dict]:
    t = table.sort_values(["pred_grid", "driver_ref"]).reset_index(drop=True)
    t = t.assign(
        driver=t["driver_name"], team=t["team_name"],
        predicted_lap=t["pred_quali_time_s"].map(lap),
        lap_interval=[f"{lap(lo)}–{lap(hi)}"
                      for lo, hi in zip(t["pred_quali_time_lo_s"], t["pred_quali_time_hi_s"])],
    )
    # a phone shows the left of the table first: four narrow columns read whole there, and the
    # names and teams follow for a wider screen (or a swipe); the gaps are in the CSV
    columns = ["pred_grid", "code", "predicted_lap", "lap_interval"]
    if t["actual_quali_position"].notna().any():
        columns += ["actual_quali_position"]
    columns += ["driver", "team"]
    config = {
        "pred_grid": st.column_config.NumberColumn("pred.", format="P%d", width=50,
                                                   help="Predicted grid slot (qualifying position)."),
        "code": st.column_config.TextColumn("", width=45, pinned=True),
        "driver": st.column_config.TextColumn(width=145),
        "team": st.column_config.TextColumn(width=105),
        "predicted_lap": st.column_config.TextColumn(
            "lap", width=65, help="Predicted best qualifying lap (min:s), to the tenth: the model is typically "
                                  "off by most of a second."),
        "lap_interval": st.column_config.TextColumn(
            "P10–P90", width=115, help="80% of the time the lap should fall in this range."),
        "pred_quali_gap_pct": st.column_config.NumberColumn(
            "gap", format="+%.2f%%", width=65, help="Predicted gap to pole, in percent of the pole lap."),
        "actual_quali_position": st.column_config.NumberColumn("actual", format="P%d", width=55,
                                                               help="The real qualifying position."),
        "actual_quali_gap_pct": st.column_config.NumberColumn("real gap", format="+%.2f%%", width=70),
    }
    export = t[["pred_grid", "code", "driver", "team", "pred_quali_time_s", "pred_quali_time_lo_s",
                "pred_quali_time_hi_s", "pred_quali_gap_pct", "pred_quali_gap_lo", "pred_quali_gap_hi",
                "actual_quali_position", "actual_quali_gap_pct", "driver_ref", "constructor_ref",
                "predicted_lap", "lap_interval"]]
    return export, columns, config


PROBABILITIES = {"p_win": "win", "p_podium": "podium", "p_points": "points", "p_dnf": "DNF"}


def race_table(table: pd.DataFrame, before: bool) -> tuple[pd.DataFrame, list[str], dict, dict]:
    """The race chances in percent (the CSV too: columns win_pct, podium_pct, ...), with the
    columns to show, their configuration and how the chances read (as on the charts: "<1%")."""
    t = table.sort_values(["expected_position", "driver_ref"]).reset_index(drop=True)
    t = t.assign(
        driver=t["driver_name"], team=t["team_name"],
        position_range=[f"P{lo:.0f}–P{hi:.0f}" for lo, hi in zip(t["position_p10"], t["position_p90"])],
        **{f"{label.lower()}_pct": t[col] * 100 for col, label in PROBABILITIES.items()},
        baseline_win_pct=t["baseline_p_win"] * 100,
    )
    config = {
        "code": st.column_config.TextColumn("", width=45, pinned=True),
        "driver": st.column_config.TextColumn(width=140),
        "team": st.column_config.TextColumn(width=100),
        "grid": st.column_config.NumberColumn("pred. grid" if before else "grid", format="P%d", width=70,
                                              help="The qualifying model's predicted grid." if before else
                                              "The qualifying order (penalties announced after it not applied)."),
        **{f"{label.lower()}_pct": st.column_config.NumberColumn(label, width=52) for label in PROBABILITIES.values()},
        "expected_position": st.column_config.NumberColumn("exp. pos.", format="%.1f", width=65,
                                                           help="Expected finishing position."),
        "position_range": st.column_config.TextColumn(
            "P10–P90", width=80, help="80% of the simulated races end with the driver in this range."),
        "baseline_win_pct": st.column_config.NumberColumn("base", width=48,
                                                          help="The baseline's chance to win, for comparison."),
    }
    # six narrow columns read whole on a phone: the chances, with the baseline beside the win; the
    # expected finish, names and teams follow for a wider screen (or a swipe)
    columns = ["code", "win_pct", "baseline_win_pct", "podium_pct", "points_pct", "dnf_pct",
               "expected_position", "position_range", "driver", "team"]
    export = t[["code", "driver", "team", "grid", "win_pct", "podium_pct", "points_pct", "dnf_pct",
                "expected_position", "position_p10", "position_p90", "position_range", "baseline",
                "baseline_win_pct", "driver_ref", "constructor_ref"]]
    return export, columns, config, chance_formats(*(f"{label.lower()}_pct" for label in PROBABILITIES.values()),
                                                   "baseline_win_pct")


def show_race(race) -> None:
    prediction = race_prediction(race.season, race.round)
    table = prediction.table
    before = prediction.mode == PRE
    circuit = cached_query(racecards.circuit, race.circuit_ref)
    start = race.start_utc
    when = racecards.start_text(start, race.time is not None, circuit)
    where = f" · {circuit.name}, {circuit.place}" if circuit is not None else ""
    st.markdown(f"#### {race.name}")
    st.markdown(f":material/schedule: {when}{where}")
    st.markdown(f":material/{'grid_view' if before else 'flag'}: **{MODE_NOTE[PRE] if before else QUALIFYING_ORDER_NOTE}**")
    st.markdown(weather_line(prediction.conditions, (race.date - today()).days), help=WEATHER_HELP)
    if before:
        st.caption("The entry list is each team's latest line-up; a change of driver shows up once the "
                   "schedule or results name him.")
    slug = f"{race.season}_r{race.round}"

    st.subheader("Qualifying (stage 1)", divider="gray")
    quali, columns, config = qualifying_table(table)
    table_col, chart_col = st.columns([3, 2])
    with table_col:
        show_table(quali, f"upcoming_{slug}_qualifying.csv", columns=columns, column_config=config,
                   height="content")
    with chart_col:
        show_chart(qualifying_chart(table), key=f"upcoming_{slug}_quali_chart")
    st.caption("Predicted gap to pole with its P10–P90 interval (80% of the time inside the bar); the lap "
               "time is the gap applied to a reference pole lap: the circuit's typical pole of the last five seasons "
               "averaged with its latest dry one, at this season's pace."
               + (" Crosses: the real qualifying." if table["actual_quali_gap_pct"].notna().any() else ""))

    if race_has_sprint(race):
        show_sprint(race, slug)

    st.subheader("Race (stage 2)", divider="gray")
    fav = prediction.favourite
    st.markdown(f"Favourite: **{fav['driver_name']}** ({fav['team_name']}) at {pct(fav['p_win'])} to win "
                f"(baseline {pct(fav['baseline_p_win'])}).")
    race_rows, columns, config, formats = race_table(table, before)
    show_table(race_rows, f"upcoming_{slug}_race.csv", columns=columns, column_config=config, height="content",
               formats=formats)
    st.caption("Chances from simulating the race thousands of times; they add up to 100% for the win, 3 "
               f"podium places and 10 points places. Baseline win: {BASELINE_SHORT[table['baseline'].iloc[0]]}.")
    why_favourite(table, race.season, race.round, before, key=f"upcoming_{slug}_why")

    # only the chart on show is drawn (the tabs rerun the page): the page stays quick to open
    baseline_words = BASELINE_SHORT[table["baseline"].iloc[0]]
    charts = {
        "Win chances": lambda: (probability_bars(table, "p_win", top=10, baseline=table["baseline_p_win"]),
                                f"The ten likeliest winners. Thin grey bars: {baseline_words}."),
        "Podium chances": lambda: (probability_bars(table, "p_podium", top=10, baseline=table["baseline_p_podium"]),
                                   f"The ten likeliest podium finishers. Thin grey bars: {baseline_words}."),
        "Finishing range": lambda: (position_bands(table), "Dot: expected finishing position; bar: where 80% of "
                                                           f"the simulated races end (P10–P90). {RETIREMENT_TAIL}"),
        "All outcomes": lambda: (outcome_stack(table), "Win, podium, points and retirement chances per driver, "
                                                       "in expected finishing order."),
    }
    for (name, draw), tab in zip(charts.items(), st.tabs(list(charts), key=f"upcoming_{slug}_charts",
                                                         on_change="rerun")):
        if tab.open:
            with tab:
                fig, caption = draw()
                show_chart(fig, key=f"upcoming_{slug}_{name.split()[0].lower()}_chart")
                st.caption(caption)


def race_has_sprint(race) -> bool:
    return get_engine().records.sprint_start(race) is not None


def show_sprint(race, slug: str) -> None:
    st.subheader("Sprint", divider="gray")
    result = cached_query(actual_result, race.season, race.round, "sprint_results")
    if not result.empty:  # run already: what happened, not a prediction of it
        winner = result.iloc[0]
        st.markdown(f"The sprint has been run: won by **{escape_markdown(winner['driver_name'])}** "
                    f"({escape_markdown(winner['team_name'])}).")
        rows = result[result["points"].fillna(0) > 0].rename(columns={"position_order": "pos"})
        show_table(rows.assign(driver=rows["driver_name"], team=rows["team_name"]), f"upcoming_{slug}_sprint_result.csv",
                   columns=["pos", "code", "driver", "team", "grid", "points"],
                   column_config={"pos": st.column_config.NumberColumn("", width=40),
                                  "code": st.column_config.TextColumn("", width=45),
                                  "grid": st.column_config.NumberColumn(format="P%d", width=60)},
                   height="content")
        st.caption("The drivers who scored. The prediction frozen before the sprint is scored in the Accuracy "
                   "page's live track record.")
        return
    try:
        sprint = sprint_prediction(race.season, race.round)
    except Exception as exc:
        friendly_error(exc, f"predict the sprint of the {race.name}")
        return
    t = sprint.table
    fav = sprint.favourite
    st.markdown(f"Favourite: **{fav['driver_name']}** ({fav['team_name']}) at {pct(fav['p_win'])} to win the sprint.")
    rows = t.assign(driver=t["driver_name"], team=t["team_name"], win_pct=t["p_win"] * 100,
                    podium_pct=t["p_podium"] * 100, points_pct=t["p_points"] * 100, dnf_pct=t["p_dnf"] * 100)
    show_table(rows, f"upcoming_{slug}_sprint.csv",
               columns=["code", "win_pct", "podium_pct", "points_pct", "dnf_pct", "driver", "team"],
               column_config={
                   "code": st.column_config.TextColumn("", width=45, pinned=True),
                   "driver": st.column_config.TextColumn(width=140),
                   "team": st.column_config.TextColumn(width=100),
                   "win_pct": st.column_config.NumberColumn("win", width=52),
                   "podium_pct": st.column_config.NumberColumn("podium", width=60),
                   "points_pct": st.column_config.NumberColumn("points", width=60, help="A top-8 finish"),
                   "dnf_pct": st.column_config.NumberColumn("DNF", width=52)},
               height=300, formats=chance_formats("win_pct", "podium_pct", "points_pct", "dnf_pct"))
    st.caption("The sprint is predicted like the race by the pre-qualifying race model: its grid is the qualifying "
               "model's until the sprint grid is published, retirements are as rare as in past sprints, and points "
               "go to the top eight. It is frozen before the sprint and scored in the track record.")


# -- the page -----------------------------------------------------------------------------------

st.title("Upcoming races")
st.caption("The next three races without results: the predicted qualifying first, then the race. "
           "Before qualifying the race model starts from the predicted grid; after it, from the real one.")
store = require_data()
engine = require_model()

races = engine.upcoming_races(3)
if not races:
    st.info("There is no upcoming race in the calendar yet. The next season's calendar arrives with the "
            "background refresh once it is published.", icon=":material/event_busy:")
    st.stop()

# only the race on show is drawn (switching tabs reruns the page, from the cache)
tabs = st.tabs([f"R{r.round} {short_race_name(r.name)} · {r.date:%-d %b}" for r in races], key="upcoming_race",
               on_change="rerun")
for race, tab in zip(races, tabs):
    if tab.open:
        with tab:
            try:
                show_race(race)
            except Exception as exc:
                friendly_error(exc, f"predict the {race.name}")

freeze_shown_predictions()
