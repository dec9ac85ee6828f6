"""As-of features, declared once.

`build_frame` returns one row per driver and race, for every race with results since
`HISTORY_FROM` and every scheduled race without results. Each feature of race R is computed only
from races dated before R (group-wise `shift(1)` before any rolling statistic, ratings taken before
the race updates them), so the same code makes training rows and serving rows, and adding later
races to the store never changes the features of an earlier one (see the leakage test).

Every feature is declared in `FEATURES` with a description; that list feeds training, drift,
explanations and the UI.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from f1core.engine.rating_filter import QUALI_FILTER, RACE_FILTER, normal_scores, pace_filter, teammate_gap
from f1core.ingest.csvfiles import lap_seconds
from f1core.schema import NOT_STARTED
from f1core.store import Store

HISTORY_FROM = 1996  # seasons of burn-in for ratings and form before the training window starts
QUALI_GAP_CAP = 5.0  # % of pole; wet Q1 laps against a dry Q3 pole are not pace information
SPRINT_BEFORE_QUALI_FROM = 2024  # from 2024 the sprint shootout and the sprint run before qualifying
SPRINT_SESSION_WEIGHT = 0.5  # weight of the shootout order in the expected qualifying gap (not tunable before 2024)

# Renamed or sold teams keep their history: the car is built by the same factory (each name maps to
# the lineage's first name in the store). A team missing here looks new (no form, rated as a
# newcomer): with Brawn missing, "no team form" came to mean the 2009 champions to the models.
TEAM_LINEAGE = {
    "prost": "ligier",
    "arrows": "footwork",
    "jaguar": "stewart", "red_bull": "stewart",
    "honda": "bar", "brawn": "bar", "mercedes": "bar",
    "renault": "benetton", "lotus_f1": "benetton", "alpine": "benetton",
    "toro_rosso": "minardi", "alphatauri": "minardi", "rb": "minardi",
    "mf1": "jordan", "spyker_mf1": "jordan", "spyker": "jordan", "force_india": "jordan",
    "racing_point": "jordan", "aston_martin": "jordan",
    "bmw_sauber": "sauber", "alfa": "sauber", "audi": "sauber",
    "virgin": "marussia", "manor": "marussia",
    "caterham": "lotus_racing",
}


@dataclass(frozen=True)
class Feature:
    name: str
    description: str
    stage1: bool = False
    stage2: bool = True
    # +1: higher value never lowers the driver's strength; -1: never raises it; 0: free.
    monotone: int = 0
    group: str = "form"
    # False for features that follow the calendar (weather, circuit, season stage): their
    # distribution over a dozen races says which circuits were visited, not that the sport changed.
    drift_signal: bool = True
    # False for a race-model input applied outside the booster (rain: the learned weather effect)
    in_booster: bool = True

    @property
    def label(self) -> str:
        """A short plain name for charts and banners: the description up to its first bracket,
        colon or comma ("Driver's recent race pace")."""
        cut = min((i for i in (self.description.find(" ("), self.description.find(":"),
                               self.description.find(", ")) if i > 0), default=len(self.description))
        return self.description[:cut]


FEATURES: list[Feature] = [
    # grid and qualifying pace for the race model (real after qualifying, stage 1's prediction before)
    Feature("grid", "Starting slot (pit-lane start = back of the grid)", monotone=-1, group="grid"),
    Feature("quali_gap_pct", "Qualifying gap to pole, % of the pole lap", monotone=-1, group="grid"),
    # qualifying form
    Feature("drv_qgap_ewm", "Driver's recent qualifying gap to pole (%; decayed, half-life 3 races)", stage1=True),
    Feature("drv_qgap_last", "Driver's qualifying gap to pole at the previous race (%)", stage1=True),
    Feature("team_qgap_ewm", "Team's best-car qualifying gap to pole (%; decayed, half-life 3 races)", stage1=True),
    Feature("team_qgap_season", "Team's mean best-car qualifying gap this season so far (%)", stage1=True),
    Feature("drv_teammate_delta", "Driver's qualifying gap minus his teammate's (%; decayed)", stage1=True),
    Feature("drv_qelo", "Driver's qualifying Elo rating", stage1=True, stage2=False, group="rating"),
    Feature("team_circuit_qdelta", "Team's gap at this circuit last visits relative to its form then (%)",
            stage1=True, group="circuit", drift_signal=False),
    Feature("drv_circuit_qdelta", "Driver's gap at this circuit last visits relative to his form then (%)",
            stage1=True, group="circuit", drift_signal=False),
    # ratings: car and driver separated (a filter over every team and driver; see rating_filter.PaceFilter)
    Feature("car_pace", "Team's car pace this season: its car's expected qualifying gap to the fastest car (%; "
            "rating from qualifying gaps, shrunk towards the field at regulation and team changes)", stage1=True,
            group="rating"),
    Feature("drv_quali_skill", "Driver's qualifying pace against an average driver in the same car (%; from "
            "teammate gaps, negative is faster)", stage1=True, group="rating"),
    Feature("exp_quali_gap", "Expected qualifying gap to pole from car pace and driver skill (%); on sprint "
            "weekends from 2024 the sprint shootout order counts as one more session", stage1=True, stage2=False,
            group="rating"),
    Feature("exp_quali_sd", "Uncertainty of the expected qualifying gap (%; large after rule changes and for "
            "newcomers)", stage1=True, stage2=False, group="rating"),
    Feature("car_race_pace", "Team's race strength this season from its cars' finishing positions (normal scores "
            "behind the strongest car; shrunk at regulation and team changes)", stage1=True, group="rating"),
    Feature("drv_race_skill", "Driver's race strength against an average driver in the same car (from finishing "
            "against teammates; negative is stronger)", stage1=True, group="rating"),
    Feature("exp_race_score", "Expected finishing score from car and driver race ratings (normal scores, lower "
            "is better)", stage1=True, stage2=False, group="rating"),
    Feature("sprint_quali_pos", "This weekend's sprint shootout position, when it is held before qualifying "
            "(2024 on)", stage1=True, stage2=False, group="grid", drift_signal=False),
    # race form
    # Elo carries a car's results across rule changes: the qualifying model still uses it beside the
    # ratings above, the race model does not (the ratings replaced it there; chosen on 2009-2021)
    Feature("drv_elo", "Driver's race Elo rating", stage1=True, stage2=False, group="rating"),
    Feature("team_elo", "Team's race Elo rating (best car)", stage1=True, stage2=False, group="rating"),
    Feature("drv_finish_ewm", "Driver's recent finishing position (decayed, classified finishes)"),
    Feature("drv_points_ewm", "Driver's recent points per race (decayed)"),
    Feature("team_points_ewm", "Team's recent points per race, both cars (decayed)"),
    Feature("drv_flgap_ewm", "Driver's recent race pace: fastest lap's gap to the race's best lap (%; decayed)"),
    Feature("team_flgap_ewm", "Team's recent race pace: best car's fastest-lap gap to the race's best lap (%; decayed)"),
    Feature("sprint_position", "Finishing position in this weekend's sprint, when there was one", group="grid", drift_signal=False),
    Feature("drv_gain_ewm", "Driver's recent places gained from grid to flag (decayed)"),
    Feature("drv_dnf_rate", "Driver's recent rate of not being classified (decayed, half-life 10)", group="reliability"),
    Feature("team_dnf_rate", "Team's recent rate of cars not classified (decayed, half-life 10)", group="reliability"),
    Feature("circuit_dnf_rate", "Share of cars not classified at this circuit in past visits", group="circuit", drift_signal=False),
    Feature("drv_circuit_finish", "Driver's mean finishing position at this circuit (last 3 visits)", group="circuit", drift_signal=False),
    Feature("champ_rank", "Driver's championship position before the race", group="season", drift_signal=False),
    Feature("season_points_share", "Driver's share of the leader's points before the race", group="season", drift_signal=False),
    Feature("round_frac", "How far through the season the race is (0 to 1)", stage1=True, group="season", drift_signal=False),
    Feature("drv_starts", "Driver's number of previous race starts (experience)", stage1=True, group="experience"),
    Feature("drv_team_races", "Races the driver has done with his current team", stage1=True, group="experience"),
    # conditions
    Feature("rain", "Share of the race in rain (0 dry to 1 wet): observed, or forecast before the race; it "
            "flattens the order and raises retirements by amounts learned from the store's wet races",
            group="weather", drift_signal=False, in_booster=False),
    Feature("air_temp", "Air temperature at the race (°C)", group="weather", drift_signal=False),
    Feature("track_temp", "Track temperature at the race (°C)", group="weather", drift_signal=False),
    Feature("drv_wet_gain", "Driver's mean places gained in past wet races minus dry races", group="weather", drift_signal=False),
]

FEATURE_BY_NAME = {f.name: f for f in FEATURES}
STAGE1_FEATURES = [f.name for f in FEATURES if f.stage1]
STAGE2_FEATURES = [f.name for f in FEATURES if f.stage2 and f.in_booster]
WEATHER_FEATURES = ["rain", "air_temp", "track_temp"]
# what this weekend's qualifying times give the race model: missing when only the order is known,
# stage 1's predictions before qualifying
QUALI_TIME_FEATURES = ["quali_gap_pct", "quali_teammate_gap"]  # (the second is not a race-model input today)


def lineage(constructor_ref: str) -> str:
    return TEAM_LINEAGE.get(constructor_ref, constructor_ref)


# -- loading ----------------------------------------------------------------------------------------

def _load_history(store: Store) -> pd.DataFrame:
    """Driver rows of races with results, with their qualifying times."""
    return store.read(
        """
        SELECT r.season, r.round, ra.date, ra.circuit_ref, r.driver_ref, r.constructor_ref,
               r.grid, r.position, r.position_text, r.position_order, r.points, r.status,
               r.fastest_lap_time, q.position AS quali_position,
               least(q.q1_s, q.q2_s, q.q3_s) AS quali_best_s, sp.position_order AS sprint_position,
               sp.grid AS sprint_grid
        FROM results r
        JOIN races ra USING (season, round)
        LEFT JOIN qualifying q USING (season, round, driver_ref)
        LEFT JOIN sprint_results sp USING (season, round, driver_ref)
        WHERE r.season >= ?
        """,
        [HISTORY_FROM],
    )


def _load_upcoming(store: Store) -> pd.DataFrame:
    """Entry lists for scheduled races without results: the qualifying classification when it
    exists, otherwise each team's latest line-up (the drivers of its last race)."""
    races = store.read(
        """
        SELECT season, round, date, circuit_ref FROM races r
        WHERE NOT EXISTS (SELECT 1 FROM results x WHERE x.season = r.season AND x.round = r.round)
          AND season >= (SELECT coalesce(max(season), 0) FROM results)
        ORDER BY date
        """
    )
    if races.empty:
        return pd.DataFrame()
    quali = store.read(
        """
        SELECT q.season, q.round, q.driver_ref, q.constructor_ref, q.position AS quali_position,
               least(q.q1_s, q.q2_s, q.q3_s) AS quali_best_s, sp.position_order AS sprint_position,
               sp.grid AS sprint_grid
        FROM qualifying q
        LEFT JOIN sprint_results sp USING (season, round, driver_ref)
        WHERE NOT EXISTS (SELECT 1 FROM results x WHERE x.season = q.season AND x.round = q.round)
        """
    )
    lineup = store.read(
        """
        WITH last_race AS (
            SELECT constructor_ref, max(date) AS date FROM results JOIN races USING (season, round)
            WHERE season = (SELECT max(season) FROM results) GROUP BY constructor_ref)
        SELECT r.driver_ref, r.constructor_ref
        FROM results r JOIN races ra USING (season, round) JOIN last_race l USING (constructor_ref, date)
        ORDER BY r.constructor_ref, r.position_order
        """
    )
    sprints = store.read(
        """
        SELECT season, round, driver_ref, constructor_ref, position_order AS sprint_position, grid AS sprint_grid
        FROM sprint_results sp
        WHERE NOT EXISTS (SELECT 1 FROM results x WHERE x.season = sp.season AND x.round = sp.round)
        """
    )
    parts = []
    for race in races.itertuples(index=False):
        q = quali[(quali.season == race.season) & (quali["round"] == race.round)].drop(columns=["season", "round"])
        sp = sprints[(sprints.season == race.season) & (sprints["round"] == race.round)].drop(columns=["season", "round"])
        # who drives: the weekend's sprint when it has run (a reserve in for the weekend is in it),
        # else each team's latest line-up
        drivers = sp[["driver_ref", "constructor_ref"]] if not sp.empty else lineup
        entered = _not_classified_in(drivers, q).merge(sp.drop(columns="constructor_ref"), on="driver_ref", how="left")
        entries = pd.concat([q, entered.assign(quali_position=np.nan, quali_best_s=np.nan)], ignore_index=True)
        parts.append(entries.assign(season=race.season, round=race.round, date=race.date, circuit_ref=race.circuit_ref))
    return pd.concat(parts, ignore_index=True)


def _not_classified_in(drivers: pd.DataFrame, quali: pd.DataFrame) -> pd.DataFrame:
    """The entered drivers a qualifying classification lacks (all of them before qualifying): a car
    that set no time still races, from the back. Per team, only as many as its cars missing there,
    so a regular driver whose seat a stand-in took is not added beside him."""
    absent = drivers[~drivers["driver_ref"].isin(quali["driver_ref"])]
    cars = drivers.groupby("constructor_ref").size()
    classified = quali.groupby("constructor_ref").size().reindex(cars.index, fill_value=0)
    room = (cars - classified).clip(lower=0)
    return absent[absent.groupby("constructor_ref").cumcount() < absent["constructor_ref"].map(room)]


def _load_weather(store: Store) -> pd.DataFrame:
    """Observed weather per race: FastF1 session values where present, else Open-Meteo's daily ones,
    and for races not yet run the latest forecast."""
    obs = store.read(
        """
        SELECT season, round,
            coalesce(max(rainfall_rate) FILTER (WHERE source = 'fastf1'),
                     least(1.0, max(precipitation_mm) FILTER (WHERE source = 'openmeteo') / 30.0)) AS rain,
            coalesce(max(air_temp) FILTER (WHERE source = 'fastf1'),
                     max(temp_max) FILTER (WHERE source = 'openmeteo')) AS air_temp,
            max(track_temp) FILTER (WHERE source = 'fastf1') AS track_temp
        FROM weather_observed GROUP BY season, round
        """
    )
    fc = store.read(
        """
        SELECT season, round, 0.5 * precipitation_probability AS rain, air_temp, NULL::DOUBLE AS track_temp
        FROM weather_forecast f
        WHERE NOT EXISTS (SELECT 1 FROM results x WHERE x.season = f.season AND x.round = f.round)
        QUALIFY row_number() OVER (PARTITION BY season, round ORDER BY fetched_at DESC) = 1
        """
    )
    return pd.concat([obs, fc], ignore_index=True).drop_duplicates(["season", "round"], keep="first")


# -- computing --------------------------------------------------------------------------------------

def _lagged(df: pd.DataFrame, key: str | list[str], col: str, halflife: float | None = None,
            window: int | None = None) -> pd.Series:
    """Statistic of the previous values of `col` within each group (the current row excluded)."""
    keys = [key] if isinstance(key, str) else key
    prev = df.groupby(keys, sort=False)[col].shift(1)
    grouped = prev.groupby([df[k] for k in keys], sort=False)
    if halflife is not None:
        out = grouped.ewm(halflife=halflife, ignore_na=True).mean()
    elif window is not None:
        out = grouped.rolling(window, min_periods=1).mean()
    else:
        return grouped.ffill()
    return out.reset_index(level=list(range(len(keys))), drop=True).reindex(df.index)


def _with_shootout(rows: pd.DataFrame) -> np.ndarray:
    """The expected gap of each row of sprint weekends (race_idx, sprint_quali_pos, exp_quali_gap)
    with the shootout counted as one more qualifying session: the k-th of the shootout is given the
    k-th smallest expected gap of his race, averaged with his own (one session is about as
    informative as the ratings before it)."""
    implied = np.empty(len(rows))
    for idx in rows.groupby("race_idx", sort=False).indices.values():
        race = rows.iloc[idx]
        ranks = race["sprint_quali_pos"].rank(method="first").to_numpy(dtype=int) - 1
        implied[idx] = np.sort(race["exp_quali_gap"].to_numpy(dtype=float))[ranks]
    own = rows["exp_quali_gap"].to_numpy(dtype=float)
    return SPRINT_SESSION_WEIGHT * implied + (1 - SPRINT_SESSION_WEIGHT) * own


def _elo(df: pd.DataFrame, key: str, outcome: str, k: float = 24.0, season_regress: float = 0.0) -> np.ndarray:
    """Multi-player Elo, value before each race. Each race is a round robin of pairwise duels among
    the rows whose `outcome` (lower is better) is known; rows without an outcome are only rated."""
    ratings: dict[str, float] = {}
    out = np.empty(len(df))
    last_season = None
    race_ids = df["race_idx"].to_numpy()
    keys = df[key].to_numpy()
    outcomes = df[outcome].to_numpy(dtype=float)
    seasons = df["season"].to_numpy()
    bounds = np.flatnonzero(np.diff(race_ids)) + 1
    for start, stop in zip(np.r_[0, bounds], np.r_[bounds, len(df)]):
        if seasons[start] != last_season and season_regress:
            ratings = {n: 1500 + (r - 1500) * (1 - season_regress) for n, r in ratings.items()}
        last_season = seasons[start]
        names = keys[start:stop]
        pre = np.array([ratings.get(n, 1450.0) for n in names])  # newcomers start a little below average
        out[start:stop] = pre
        res = outcomes[start:stop]
        known = ~np.isnan(res)
        if known.sum() < 2:
            continue
        r, o = pre[known], res[known]
        expected = 1 / (1 + 10 ** ((r[None, :] - r[:, None]) / 400))  # P(row beats column)
        actual = (o[:, None] < o[None, :]).astype(float) + 0.5 * (o[:, None] == o[None, :])
        np.fill_diagonal(expected, 0)
        np.fill_diagonal(actual, 0)
        delta = k * (actual - expected).sum(axis=1) / (known.sum() - 1)
        for n, new in zip(names[known], r + delta):
            ratings[n] = new
    return out


def build_frame(store: Store) -> pd.DataFrame:
    hist = _load_history(store)
    hist["has_result"] = True
    upcoming = _load_upcoming(store)
    if not upcoming.empty:
        upcoming["has_result"] = False
    if not upcoming.empty:
        upcoming = upcoming.reindex(columns=hist.columns).astype(hist.dtypes.to_dict(), errors="ignore")
        df = pd.concat([hist, upcoming], ignore_index=True)
    else:
        df = hist
    if df.empty:
        return df
    for col in ["grid", "position", "position_order", "points", "quali_position", "quali_best_s", "sprint_position",
                "sprint_grid"]:
        df[col] = pd.to_numeric(df[col], errors="coerce").astype(float)
    df["date"] = pd.to_datetime(df["date"])
    df = df.sort_values(["date", "season", "round", "position_order", "quali_position"], na_position="last",
                        kind="mergesort").reset_index(drop=True)
    df["race_idx"] = df.groupby(["season", "round"], sort=False).ngroup()
    df["team"] = df["constructor_ref"].map(lineage)

    # outcomes (NaN for races not yet run)
    started = df["has_result"] & ~df["position_text"].isin(NOT_STARTED)
    df["started"] = started
    # classified = a number in the position text ('R' retired, 'D' disqualified, 'N' not classified...);
    # some sources fill `position` for retired cars too, so the text decides
    classified = df["position_text"].astype(str).str.fullmatch(r"\d+") & df["position"].notna()
    df["dnf"] = np.where(df["has_result"], (~classified & started).astype(float), np.nan)
    df.loc[df["has_result"] & ~started, "dnf"] = np.nan
    df["finish"] = np.where(started & classified, df["position"], np.nan)
    df["points_f"] = np.where(started, df["points"], np.nan)

    # grid: 0 in the sources means a pit-lane start; such a car starts behind everyone
    field = df.groupby("race_idx")["driver_ref"].transform("size")
    # the dump lacks the grid of one race (2025 R23); its qualifying order is the best stand-in
    raw_grid = df["grid"].where(df["has_result"] & df["grid"].notna(), df["quali_position"])
    df["pit_lane_start"] = (raw_grid == 0).astype(float)
    df["grid"] = np.where(raw_grid == 0, field, raw_grid).astype(float)
    df["gain"] = df["grid"] - df["finish"]

    # qualifying gap to pole (best of Q1/Q2/Q3, as % of the fastest lap of the session)
    pole = df.groupby("race_idx")["quali_best_s"].transform("min")
    df["pole_s"] = pole
    df["quali_gap_pct"] = ((df["quali_best_s"] / pole - 1) * 100).clip(upper=QUALI_GAP_CAP)
    # race pace: each car's fastest lap against the race's best lap
    fl = lap_seconds(df["fastest_lap_time"]) if "fastest_lap_time" in df else pd.Series(np.nan, index=df.index)
    df["flgap"] = ((fl / fl.groupby(df["race_idx"]).transform("min") - 1) * 100).clip(upper=QUALI_GAP_CAP)
    df["team_flgap"] = df.groupby(["race_idx", "team"])["flgap"].transform("min")
    team_best = df.groupby(["race_idx", "team"])["quali_gap_pct"].transform("min")
    df["team_qgap"] = team_best
    df["teammate_delta"] = teammate_gap(df, "quali_gap_pct")
    df["quali_teammate_gap"] = df["teammate_delta"]

    # driver form
    df["drv_qgap_ewm"] = _lagged(df, "driver_ref", "quali_gap_pct", halflife=3)
    df["drv_qgap_last"] = _lagged(df, "driver_ref", "quali_gap_pct", window=1)
    df["drv_teammate_delta"] = _lagged(df, "driver_ref", "teammate_delta", halflife=4)
    df["drv_finish_ewm"] = _lagged(df, "driver_ref", "finish", halflife=4)
    df["drv_points_ewm"] = _lagged(df, "driver_ref", "points_f", halflife=4)
    df["drv_gain_ewm"] = _lagged(df, "driver_ref", "gain", halflife=6)
    df["drv_flgap_ewm"] = _lagged(df, "driver_ref", "flgap", halflife=4)
    df["drv_dnf_rate"] = _lagged(df, "driver_ref", "dnf", halflife=10)
    started_before = df["started"].astype(int).groupby(df["driver_ref"]).shift(1, fill_value=0)
    df["drv_starts"] = started_before.groupby(df["driver_ref"]).cumsum()
    stint = (df["team"] != df.groupby("driver_ref")["team"].shift(1)).groupby(df["driver_ref"]).cumsum()
    df["drv_team_races"] = df.groupby([df["driver_ref"], stint]).cumcount().astype(float)

    # team form: one row per team and race, then lagged along the team's own races
    team_rows = df.groupby(["race_idx", "team"], sort=False).agg(
        team_qgap=("team_qgap", "first"), team_flgap=("team_flgap", "first"), team_points=("points_f", "sum"), team_dnf=("dnf", "mean"),
        has_result=("has_result", "first"), season=("season", "first"), circuit_ref=("circuit_ref", "first"),
    ).reset_index().sort_values("race_idx", kind="mergesort")
    team_rows.loc[~team_rows["has_result"], "team_points"] = np.nan
    team_rows["team_qgap_ewm"] = _lagged(team_rows, "team", "team_qgap", halflife=3)
    team_rows["team_flgap_ewm"] = _lagged(team_rows, "team", "team_flgap", halflife=3)
    team_rows["team_points_ewm"] = _lagged(team_rows, "team", "team_points", halflife=4)
    team_rows["team_dnf_rate"] = _lagged(team_rows, "team", "team_dnf", halflife=10)
    prev_in_season = team_rows.groupby(["team", "season"])["team_qgap"].shift(1)
    team_rows["team_qgap_season"] = prev_in_season.groupby([team_rows["team"], team_rows["season"]]).transform(
        lambda s: s.expanding().mean())
    # circuit affinity: how the team did here relative to its form at the time
    team_rows["team_circ_resid"] = team_rows["team_qgap"] - team_rows["team_qgap_ewm"]
    team_rows["team_circuit_qdelta"] = _lagged(team_rows, ["team", "circuit_ref"], "team_circ_resid", window=3)
    df = df.merge(team_rows[["race_idx", "team", "team_qgap_ewm", "team_flgap_ewm", "team_points_ewm", "team_dnf_rate",
                             "team_qgap_season", "team_circuit_qdelta"]], on=["race_idx", "team"], how="left")

    df["drv_circ_resid"] = df["quali_gap_pct"] - df["drv_qgap_ewm"]
    df["drv_circuit_qdelta"] = _lagged(df, ["driver_ref", "circuit_ref"], "drv_circ_resid", window=3)
    df["drv_circuit_finish"] = _lagged(df, ["driver_ref", "circuit_ref"], "finish", window=3)
    circuit_rows = df.groupby(["race_idx", "circuit_ref"], sort=False)["dnf"].mean().rename("circ_dnf").reset_index()
    circuit_rows["circuit_dnf_rate"] = _lagged(circuit_rows, "circuit_ref", "circ_dnf", window=5)
    df = df.merge(circuit_rows[["race_idx", "circuit_dnf_rate"]], on="race_idx", how="left")

    # car and driver ratings (qualifying pace in % of the lap; race strength in normal scores)
    for name, y, params in (("q", df["quali_gap_pct"].to_numpy(dtype=float), QUALI_FILTER),
                            ("r", normal_scores(df, "finish"), RACE_FILTER)):
        pre, post = pace_filter(df, y, params)
        for j, col in enumerate(("car", "car_sd", "drv", "drv_sd", "total")):
            df[f"rt_{name}_{col}"] = pre[:, j]
            df[f"rt_{name}_{col}_after"] = post[:, j]
    by_race = df.groupby("race_idx")
    df["car_pace"] = df["rt_q_car"] - by_race["rt_q_car"].transform("min")
    df["drv_quali_skill"] = df["rt_q_drv"] - by_race["rt_q_drv"].transform("mean")
    df["exp_quali_gap"] = df["rt_q_total"] - by_race["rt_q_total"].transform("min")
    df["exp_quali_sd"] = np.hypot(df["rt_q_car_sd"], df["rt_q_drv_sd"])
    df["car_race_pace"] = df["rt_r_car"] - by_race["rt_r_car"].transform("min")
    df["drv_race_skill"] = df["rt_r_drv"] - by_race["rt_r_drv"].transform("mean")
    df["exp_race_score"] = df["rt_r_total"]
    # this weekend: the sprint shootout order, known before qualifying from 2024 on
    df["sprint_quali_pos"] = df["sprint_grid"].where(df["season"] >= SPRINT_BEFORE_QUALI_FROM)
    df.loc[df["sprint_quali_pos"] == 0, "sprint_quali_pos"] = np.nan
    # ... counts as one more qualifying session (`_with_shootout`)
    df["exp_quali_gap_ratings"] = df["exp_quali_gap"]  # before this weekend's shootout (season projections)
    has_sprint = df["sprint_quali_pos"].notna()
    if has_sprint.any():
        df.loc[has_sprint, "exp_quali_gap"] = _with_shootout(df.loc[has_sprint, ["race_idx", "sprint_quali_pos",
                                                                                 "exp_quali_gap"]])

    # ratings
    df["drv_elo"] = _elo(df, "driver_ref", "finish", k=24, season_regress=0.1)
    df["drv_qelo"] = _elo(df, "driver_ref", "quali_position", k=24, season_regress=0.1)
    team_best_finish = df.groupby(["race_idx", "team"])["finish"].transform("min")
    team_elo_rows = df.assign(team_finish=team_best_finish).drop_duplicates(["race_idx", "team"])
    team_elo_rows = team_elo_rows.assign(team_elo=_elo(team_elo_rows, "team", "team_finish", k=32, season_regress=0.3))
    df = df.merge(team_elo_rows[["race_idx", "team", "team_elo"]], on=["race_idx", "team"], how="left")

    # season standing before the race
    points_before = df["points_f"].fillna(0).groupby([df["season"], df["driver_ref"]]).shift(1, fill_value=0)
    season_pts = points_before.groupby([df["season"], df["driver_ref"]]).cumsum()
    df["season_points_before"] = season_pts
    leader = df.groupby("race_idx")["season_points_before"].transform("max")
    df["season_points_share"] = np.where(leader > 0, season_pts / leader.where(leader > 0, 1), np.nan)
    df["champ_rank"] = df.groupby("race_idx")["season_points_before"].rank(ascending=False, method="min")
    df.loc[leader <= 0, "champ_rank"] = np.nan
    rounds = store.read("SELECT season, max(round) AS n_rounds FROM races GROUP BY season")
    df = df.merge(rounds, on="season", how="left")
    df["round_frac"] = (df["round"] - 1) / (df["n_rounds"] - 1).clip(lower=1)

    # conditions
    df = df.merge(_load_weather(store), on=["season", "round"], how="left")
    wet_race = df["rain"] >= 0.1
    df["gain_wet"] = df["gain"].where(wet_race)
    df["gain_dry"] = df["gain"].where(~wet_race & df["rain"].notna())
    wet_mean = _lagged(df, "driver_ref", "gain_wet", halflife=20)
    dry_mean = _lagged(df, "driver_ref", "gain_dry", halflife=20)
    df["drv_wet_gain"] = wet_mean - dry_mean

    # Sums over more or fewer later rows can change the last bits of a float; rounded, the same
    # history gives bit-identical features whatever follows it, so a replay reproduces exactly.
    derived = [c for c in df.columns if (c in FEATURE_BY_NAME or c.startswith("rt_") or c == "exp_quali_gap_ratings")
               and df[c].dtype == float]
    df[derived] = df[derived].round(9)
    # Within a race, rows go by driver, never by result: anything that breaks a tie by row order
    # (a baseline's rank, a predicted grid from equal gaps) must not see who finished ahead
    df = df.sort_values(["race_idx", "driver_ref"], kind="mergesort").reset_index(drop=True)
    return df


def race_rows(frame: pd.DataFrame, season: int, round_: int) -> pd.DataFrame:
    return frame[(frame["season"] == season) & (frame["round"] == round_)]


def describe_features() -> pd.DataFrame:
    return pd.DataFrame(
        [(f.name, f.description, f.group, "yes" if f.stage1 else "", "yes" if f.stage2 else "") for f in FEATURES],
        columns=["feature", "description", "group", "qualifying model", "race model"],
    )


