"""What-if: re-run a race's prediction with other weather or another grid, beside the race as it is.

The scenario lives in the URL (`season`, `round` and `Scenario.to_query()`), so a link reproduces it.
The controls are driven from one scenario state in the session: callbacks change that state, and
every run sets the widgets from it, so a link, the Reset button and a race change all work the
same way.

Past 400 lines on purpose: one page whose controls share one scenario state; the data it shows
is shaped in `f1core.views.what_if`.
"""
from __future__ import annotations

import hashlib
from urllib.parse import urlencode

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from f1core.engine.models import WET_FULL
from f1core.engine.predict import PredictionError
from f1core.engine.scenario import Scenario, ScenarioError, grid_from_slots, shortest_grid_order
from f1core.engine.training import PRE
from f1core.views.terms import MODE_NOTE, RETIREMENT_TAIL, percentage_points
from f1core.views.what_if import movers_table, surprising_gains, typical_conditions, win_cards
from pages._charts import position_bands
from pages._resources import cached_frame_query, race_prediction
from pages._style import pct, show_chart, style_figure, team_color
from pages._widgets import escape_markdown, friendly_error, require_data, require_model, show_table

P = "whatif_"  # prefix of every session-state key of this page
WEATHER = {  # scenario field: (widget key, slider range, step)
    "rain": (P + "rain", (0.0, 1.0), 0.05),
    "air_temp": (P + "air_temp", (0.0, 45.0), 0.5),
    "track_temp": (P + "track_temp", (5.0, 65.0), 0.5),
}
RAIN_STEPS = [round(i * 0.05, 2) for i in range(21)]
LINK_KEYS = ("season", "round", *WEATHER, "slots", "grid")  # the query-string keys this page owns
state = st.session_state

st.title("What-if")
st.caption("Change the weather or the grid of a race and see at once how everyone's chances move, against "
           "the race as it is. The link below each scenario reproduces it exactly.")
require_data()
engine = require_model()
# The race as it is may come from the predictions kept on disk; every what-if needs the model
# itself, so load it now rather than on the first slider move.
engine.champion()


# -- the scenario state ---------------------------------------------------------------------------

def scenario_now() -> Scenario:
    w = state.get(P + "weather", {})
    return Scenario(w.get("rain"), w.get("air_temp"), w.get("track_temp"), tuple(state.get(P + "slots", ())),
                    state.get(P + "order"))


def clear_scenario() -> None:
    state[P + "weather"] = {}
    state[P + "slots"] = ()
    state[P + "order"] = None
    state[P + "grid_error"] = None
    state[P + "editor_gen"] = state.get(P + "editor_gen", 0) + 1  # a fresh grid editor, without pending edits


def on_race_change() -> None:
    state[P + "race"] = state[P + "race_select"]
    state.pop(P + "move_driver", None)
    clear_scenario()


def on_weather_change(name: str) -> None:
    value = float(state[WEATHER[name][0]])
    weather = dict(state.get(P + "weather", {}))
    if abs(value - state[P + "defaults"][name]) < 1e-9:
        weather.pop(name, None)  # back at the race's own value: no override
    else:
        weather[name] = value
    state[P + "weather"] = weather


def rain_words(share: float) -> str:
    if share == 0:
        return "dry"
    if share == 1:
        return "wet all race"
    return f"{share:.0%} in rain" + (" (fully wet)" if share >= WET_FULL else "")


def weather_caption(known: dict, observed: bool, race_name: str) -> str:
    """What the race as it is knows of each slider's value, and where the others start."""
    words = {"rain": lambda v: f"{pct(v)} in rain", "air_temp": lambda v: f"air {v:.1f} °C",
             "track_temp": lambda v: f"track {v:.1f} °C"}
    have = [words[n](known[n]) for n in WEATHER if known.get(n) is not None]
    unknown = [{"rain": "rain", "air_temp": "air temperature", "track_temp": "track temperature"}[n]
               for n in WEATHER if known.get(n) is None]
    where = "observed on race day" if observed else "forecast"
    said = f"The race as it is: {', '.join(have)} ({where})." if have else "No weather is known for this race yet."
    if not unknown:
        return said
    return (f"{said} Not known: {', '.join(unknown)}, which the race as it is leaves open; "
            f"{'its slider starts' if len(unknown) == 1 else 'their sliders start'} at what is typical for the "
            f"{race_name} (medians of past races at this circuit), and moving one sets that value.")


def on_move() -> None:
    driver, slot = state[P + "move_driver"], int(state[P + "move_slot"])
    if state.get(P + "grid_now", {}).get(driver) == slot:
        return
    state[P + "slots"] = scenario_now().with_slot(driver, slot).grid_slots
    state[P + "grid_error"] = None


def on_grid_edit(editor_key: str) -> None:
    """Apply the whole-grid editor when its slots are 1..n, each once; otherwise keep the edits
    and say what is wrong."""
    base: list[str] = state[P + "editor_base"]
    codes: dict[str, str] = state[P + "codes"]
    edits = state[editor_key].get("edited_rows", {})
    slots = {d: i + 1 for i, d in enumerate(base)}
    for row, change in edits.items():
        if "slot" in change:
            slots[base[int(row)]] = change["slot"]
    try:
        order = grid_from_slots(slots, codes)
    except ScenarioError as exc:
        state[P + "grid_error"] = str(exc)
        return
    state[P + "grid_error"] = None
    state[P + "order"] = shortest_grid_order(order, state[P + "race_grid"])
    state[P + "slots"] = ()  # the whole order now holds any earlier moves


# -- the link -------------------------------------------------------------------------------------

def load_link(params: dict[str, str]) -> list[str]:
    """Take the race and the scenario from the URL's query string; returns what could not be used.
    Drivers are checked against the race's field later (`check_link_drivers`)."""
    problems: list[str] = []
    clear_scenario()
    if "season" in params or "round" in params:
        try:
            key = (int(params.get("season", "")), int(params.get("round", "")))
            engine.race(*key)
            state[P + "race"] = key
        except (ValueError, PredictionError):
            problems.append(f"there is no race season={params.get('season', '?')}, round={params.get('round', '?')}")
    scenario, found = Scenario.from_link(params)
    problems += found
    state[P + "weather"] = {k: getattr(scenario, k) for k in WEATHER if getattr(scenario, k) is not None}
    state[P + "slots"], state[P + "order"] = scenario.grid_slots, scenario.grid_order
    state[P + "check_link"] = True
    return problems


def check_link_drivers(field: list[str], label: str) -> list[str]:
    """Drop the link's grid changes that name drivers outside the race's field."""
    fitted, problems = scenario_now().fitted_to(field, label)
    state[P + "slots"], state[P + "order"] = fitted.grid_slots, fitted.grid_order
    if fitted.grid_slots:
        state[P + "move_driver"] = fitted.grid_slots[-1][0]  # the move control shows the link's last move
    state[P + "check_link"] = False
    return problems


def link_params(race_key: tuple[int, int], scenario: Scenario) -> dict[str, str]:
    return {"season": str(race_key[0]), "round": str(race_key[1]), **scenario.to_query()}


# -- charts and tables ----------------------------------------------------------------------------

def win_chart(movers: pd.DataFrame, top: int = 10) -> go.Figure:
    """What-if vs as-it-is win chance of the likeliest winners, what-if in team colours."""
    t = movers.assign(most=movers[["win_now", "win_before"]].max(axis=1))
    t = t.sort_values(["most", "win_now"], ascending=False).head(top).iloc[::-1]
    fig = go.Figure()
    fig.add_trace(go.Bar(x=t["win_before"] / 100, y=t["code"], orientation="h", name="race as it is",
                         marker_color="rgba(154,160,166,0.55)", customdata=t["driver"], showlegend=False,
                         hovertemplate="%{customdata}, as it is: %{x:.1%}<extra></extra>"))
    fig.add_trace(go.Bar(x=t["win_now"] / 100, y=t["code"], orientation="h", name="what-if", showlegend=False,
                         marker_color=[team_color(c) for c in t["constructor_ref"]],
                         text=[pct(v / 100) for v in t["win_now"]], textposition="outside", cliponaxis=False,
                         customdata=t[["driver", "win_change"]].to_numpy(),
                         hovertemplate="%{customdata[0]}, what-if: %{x:.1%} (%{customdata[1]:+.1f} pts)<extra></extra>"))
    for name, color in (("what-if (team colours)", "#E8EAED"), ("race as it is", "rgba(154,160,166,0.55)")):
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=name,  # legend only
                                 marker=dict(symbol="square", size=12, color=color)))
    peak = float(t[["win_now", "win_before"]].to_numpy().max()) / 100 if len(t) else 0.1
    fig.update_layout(barmode="group", bargap=0.25, bargroupgap=0.05)
    fig.update_xaxes(tickformat=".0%", range=[0, min(1.0, max(0.05, peak * 1.2))], title="chance to win")
    fig.update_yaxes(type="category")
    return style_figure(fig, height=max(300, 44 * len(t) + 70))


# -- the page -------------------------------------------------------------------------------------

try:
    upcoming, recent = engine.upcoming_races(40), engine.recent_races(5)  # every race still to come
except Exception as exc:
    friendly_error(exc, "list the races")
    st.stop()
races = {(r.season, r.round): r for r in upcoming + recent}
if not races:
    st.info("There is no race to play with: the store has no upcoming race and no race with results.")
    st.stop()
default_race = next(iter(races))

params = {k: v for k, v in st.query_params.to_dict().items() if k in LINK_KEYS}
notices: list[str] = []
if params != state.get(P + "written"):
    if params:
        notices += load_link(params)
    elif P + "race" not in state:
        clear_scenario()
if state.get(P + "race") is None:
    state[P + "race"] = default_race
race_key = state[P + "race"]
if race_key not in races:  # a race from a link, outside the usual list
    try:
        races[race_key] = engine.race(*race_key)
    except PredictionError:
        race_key = state[P + "race"] = default_race


def race_label(key: tuple[int, int]) -> str:
    r = races[key]
    if r in upcoming:
        tag = "next race" if r == upcoming[0] else "upcoming"
    elif r in recent:
        tag = "result known"
    else:
        tag = "from the link"
    return f"{r.season} R{r.round} {r.name} · {tag}"


try:
    baseline = race_prediction(*race_key)
except PredictionError as exc:
    notices.append(f"{races[race_key].label} cannot be predicted ({exc}); showing {races[default_race].label}")
    race_key = state[P + "race"] = default_race
    clear_scenario()
    baseline = race_prediction(*race_key)
except Exception as exc:
    friendly_error(exc, f"predict {races[race_key].label}")
    st.stop()
race = races[race_key]

# weather defaults: the race's own conditions, else what is typical at this circuit. A slider at
# its default is no override, whether it got there by hand or from a link.
known = baseline.conditions
typical = cached_frame_query(typical_conditions, race.circuit_ref)
defaults = {name: round(float(known[name] if known.get(name) is not None else typical[name]),
                        2 if name == "rain" else 1) for name in WEATHER}
state[P + "defaults"] = defaults
state[P + "weather"] = {name: value for name, value in state.get(P + "weather", {}).items()
                        if abs(value - defaults[name]) >= 1e-9}

field = list(baseline.table.sort_values("grid")["driver_ref"])
codes = dict(zip(baseline.table["driver_ref"], baseline.table["code"]))
state[P + "codes"] = codes
state[P + "race_grid"] = tuple(field)
if state.get(P + "check_link"):
    notices += check_link_drivers(field, race.label)

try:
    scenario = scenario_now()
    what = race_prediction(*race_key, scenario)
except ScenarioError as exc:
    notices.append(f"the grid changes could not be used ({exc})")
    state[P + "slots"], state[P + "order"] = (), None
    scenario = scenario_now()
    what = race_prediction(*race_key, scenario)
except Exception as exc:
    friendly_error(exc, "run the what-if")
    st.stop()

if notices:
    # the notices echo what the link said: shown as literal text, never as markdown
    st.warning("**This link could not be used in full**: " + "; ".join(escape_markdown(n, limit=200) for n in notices)
               + ". The rest of it is shown; the controls start from the race's own values for the parts left out.",
               icon=":material/link_off:")

# race picker
state[P + "race_select"] = race_key
st.selectbox("Race", list(races), key=P + "race_select", format_func=race_label, on_change=on_race_change,
             help="Every race still to come this season, and recent races whose result is known (to replay them differently).")
if baseline.mode == PRE:
    st.caption(MODE_NOTE[baseline.mode] + " Moving a driver moves him on that predicted grid.")
elif baseline.has_results:
    st.caption(MODE_NOTE[baseline.mode] + " This race has been run and today's model learned from its result, "
               "so replaying it shows how the model reacts, not how well it predicts (see Past races for that).")
else:
    st.caption(MODE_NOTE[baseline.mode])

overrides = state.get(P + "weather", {})

weather_col, grid_col = st.columns([2, 3], gap="large")
with weather_col:
    st.markdown("**Weather**")
    rain_value = overrides.get("rain", defaults["rain"])
    rain_options = sorted(set(RAIN_STEPS) | {defaults["rain"], rain_value})
    state[WEATHER["rain"][0]] = rain_value
    st.select_slider(
        "Share of the race in rain", rain_options, key=WEATHER["rain"][0], on_change=on_weather_change,
        args=("rain",), format_func=rain_words,
        help=f"0 = a dry race, 1 = rain from start to finish; 0.3 = rain over about a third of the race. Rain over "
             f"{WET_FULL:.0%} of the race or more counts as fully wet: that is how the model learned rain's effect "
             "from the store's wet races, so the chances stop moving there. Those races are few: the Accuracy "
             "page's Rain tab shows how much knowing the rain has helped past predictions.")
    for name, label in (("air_temp", "Air temperature (°C)"), ("track_temp", "Track temperature (°C)")):
        key, (lo, hi), step = WEATHER[name]
        value = float(overrides.get(name, defaults[name]))
        state[key] = value
        st.slider(label, min_value=min(lo, value), max_value=max(hi, value), step=step, key=key,
                  format="%.1f °C", on_change=on_weather_change, args=(name,))
    st.caption(weather_caption(known, baseline.has_results, race.name))

movers = movers_table(baseline.table, what.table)
with weather_col:
    st.markdown("**Chance to win**")
    top = win_cards(movers, scenario)
    cards = st.container(horizontal=True, wrap=True, gap="small")  # two in a row in this column
    for _, row in top.iterrows():
        cards.metric(f"{row['code']} to win", pct(row["win_now"] / 100, 1), border=True, width=150,
                     delta=None if scenario.is_baseline else percentage_points(row["win_change"] / 100, 1),
                     delta_arrow="off" if abs(row["win_change"]) < 0.05 else "auto",
                     help=f"{row['driver']} ({row['team']}): {pct(row['win_before'] / 100, 1)} in the race as it "
                          "is; the change is in percentage points (pp).")
    st.button("Reset", key=P + "reset", icon=":material/restart_alt:", on_click=clear_scenario,
              disabled=scenario.is_baseline and not state.get(P + "grid_error"),
              help="Back to the race as it is: its own weather and grid.")

# the grid as the what-if has it
# places counted from the front, as the scenario moves cars (a slot left empty is not a place)
grid_now = what.table.sort_values(["grid", "driver_ref"], kind="mergesort")
state[P + "grid_now"] = {d: place for place, d in enumerate(grid_now["driver_ref"], start=1)}
with grid_col:
    st.markdown("**Grid**")
    move_tab, edit_tab = st.tabs(["Move one driver", "Edit the whole grid"])
    with move_tab:
        if state.get(P + "move_driver") not in codes:
            state[P + "move_driver"] = baseline.favourite["driver_ref"]
        names = dict(zip(what.table["driver_ref"], what.table["driver_name"]))
        pick, slot_col = st.columns([1, 1])
        labels = {d: f"{codes[d]} · {names[d]}" for d in field}
        pick.selectbox("Driver", field, key=P + "move_driver", format_func=labels.get,
                       help="Drivers in the order of the race's own grid.")
        state[P + "move_slot"] = state[P + "grid_now"][state[P + "move_driver"]]
        slot_col.slider("Starts from", 1, len(field), key=P + "move_slot", on_change=on_move, format="P%d",
                        help="The cars between his old and new slot shift by one, as on a real grid.")
        moves = state.get(P + "slots", ())
        if moves:
            st.caption("Moves: " + ", ".join(f"{codes.get(d, d)} to P{s}" for d, s in moves))
    with edit_tab:
        order = list(grid_now["driver_ref"])
        editor_key = P + "editor_" + hashlib.md5(
            f"{state.get(P + 'editor_gen', 0)}:{','.join(order)}".encode()).hexdigest()[:10]
        state[P + "editor_base"] = order
        teams = dict(zip(what.table["driver_ref"], what.table["team_name"]))
        st.data_editor(
            pd.DataFrame({"slot": range(1, len(order) + 1), "driver": [codes[d] for d in order],
                          "name": [names[d] for d in order], "team": [teams[d] for d in order]}),
            key=editor_key, on_change=on_grid_edit, args=(editor_key,), hide_index=True, num_rows="fixed",
            disabled=["driver", "name", "team"], height=280, width="stretch",
            column_config={"slot": st.column_config.NumberColumn(
                "slot", min_value=1, max_value=len(order), step=1, required=True, width="small",
                help="Type each driver's starting slot; every slot from 1 to the field size once.")})
        if state.get(P + "grid_error"):
            st.error(state[P + "grid_error"], icon=":material/grid_off:")
        else:
            st.caption("Change the slot numbers to set a whole grid; it applies as soon as every slot is used once.")

# reset, and the link (kept in the URL as the scenario changes)
params_now = link_params(race_key, scenario)
if params_now != {k: v for k, v in st.query_params.to_dict().items() if k in LINK_KEYS} \
        or set(st.query_params.to_dict()) - set(LINK_KEYS):
    st.query_params.from_dict(params_now)
state[P + "written"] = params_now

if scenario.is_baseline:
    st.info("This is the race as it is. Move a weather slider or a driver to see how the chances change.",
            icon=":material/tune:")
else:
    changed = [f"rain {pct(scenario.rain)}" if scenario.rain is not None else None,
               f"air {scenario.air_temp:g} °C" if scenario.air_temp is not None else None,
               f"track {scenario.track_temp:g} °C" if scenario.track_temp is not None else None,
               (f"{len(scenario.grid_slots)} grid move" + ("s" if len(scenario.grid_slots) > 1 else ""))
               if scenario.grid_slots else None,
               "a new grid order" if scenario.grid_order else None]
    st.markdown(f"**What-if for {race.label}:** " + ", ".join(c for c in changed if c)
                + ", against the race as it is.")

gained = surprising_gains(movers, scenario)
if gained:
    st.caption(":material/info: " + gained)

# results: the cards stand under the weather sliders (beside the grid controls on a laptop, just
# above them on a phone); the detail follows
chart_col, table_col = st.columns([2, 3], gap="medium")
with chart_col:
    st.markdown("**Chance to win: what-if vs the race as it is**")
    show_chart(win_chart(movers), key=P + "win_chart")
with table_col:
    st.markdown("**Biggest movers**")
    show_table(movers, f"what_if_{race.season}_r{race.round}.csv", height=460,
               columns=["code", "grid_now", "win_now", "win_change", "podium_now", "podium_change"],
               column_config={
                   "code": st.column_config.TextColumn("driver", width="small"),
                   "grid_now": st.column_config.NumberColumn("grid", format="P%d", width="small"),
                   "grid_before": st.column_config.NumberColumn("grid as is", format="P%d", width="small"),
                   "win_now": st.column_config.NumberColumn("win", format="%.1f%%"),
                   "win_change": st.column_config.NumberColumn("Δ win", format="%+.1f", help="Percentage points"),
                   "podium_now": st.column_config.NumberColumn("podium", format="%.1f%%"),
                   "podium_change": st.column_config.NumberColumn("Δ podium", format="%+.1f", help="Percentage points"),
                   "points_now": st.column_config.NumberColumn("points", format="%.1f%%"),
                   "points_change": st.column_config.NumberColumn("Δ points", format="%+.1f", help="Percentage points"),
                   "expected_now": st.column_config.NumberColumn("expected pos", format="%.1f"),
                   "win_before": st.column_config.NumberColumn("win as is", format="%.1f%%"),
                   "podium_before": st.column_config.NumberColumn("podium as is", format="%.1f%%"),
                   "points_before": st.column_config.NumberColumn("points as is", format="%.1f%%"),
               })
    st.caption("Chances under the what-if; Δ = change from the race as it is, in percentage points. "
               "Sorted by the biggest change in win, podium or points chance.")

st.markdown("**Where they may finish under the what-if**")
show_chart(position_bands(what.table), key=P + "bands")
st.caption(f"Dot: expected finishing position; bar: the likely range (8 races in 10 end inside it). {RETIREMENT_TAIL} "
           f"Model {what.model_version}. These are the model's chances, not certainties: weather and grid "
           "effects are learned from past races, where heavy rain was rare.")

base_url = st.context.url or "/what_if"
st.caption("Link to this scenario (copy it with the button at its right):")
st.code(f"{base_url}?{urlencode(params_now, safe=':,')}", language=None, wrap_lines=True)
