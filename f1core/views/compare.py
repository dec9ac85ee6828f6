"""Two drivers side by side in one season: points through the season, every race and qualifying
session both took part in (who was ahead), their duel as teammates when they shared a car, their
ratings going into each race and their recent form. No Streamlit."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from f1core.schema import NOT_STARTED
from f1core.store import Store
from f1core.views.insights import short_race_name


def drivers_of_season(store: Store, season: int) -> pd.DataFrame:
    """Everyone who started a race of `season`: driver_ref, code, driver_name, team (the last he
    drove for), points (scored in races and sprints), championship_points (the official table's
    latest: the seasons that counted only the best results dropped the rest; NaN where the store
    has no table), ordered by the championship."""
    return store.read(
        """
        WITH scored AS (
            SELECT driver_ref, round, constructor_ref, points FROM results WHERE season = ?
            UNION ALL SELECT driver_ref, round, constructor_ref, points FROM sprint_results WHERE season = ?),
        official AS (
            SELECT driver_ref, points AS championship_points FROM driver_standings
            WHERE season = ? AND round = (SELECT max(round) FROM driver_standings WHERE season = ?))
        SELECT * FROM (
            SELECT s.driver_ref, d.code, d.driver_name, arg_max(c.name, s.round) AS team,
                   arg_max(s.constructor_ref, s.round) AS constructor_ref, sum(coalesce(s.points, 0)) AS points,
                   any_value(o.championship_points) AS championship_points
            FROM scored s JOIN driver_labels d USING (driver_ref) LEFT JOIN constructors c USING (constructor_ref)
            LEFT JOIN official o USING (driver_ref) GROUP BY ALL)
        ORDER BY coalesce(championship_points, points) DESC, points DESC, driver_name
        """, [season, season, season, season])


@dataclass(frozen=True)
class Comparison:
    season: int
    drivers: pd.DataFrame  # the two rows of drivers_of_season, A first
    # per round: race, a_/b_position_text, a_/b_position_order, both (both started), a_ahead,
    # a_/b_quali, a_quali_ahead, teammates (both started in the same car)
    races: pd.DataFrame
    points: pd.DataFrame  # per round and driver: cumulative points
    summary: dict  # counts of races and sessions each was ahead, and as teammates

    @property
    def teammates(self) -> bool:
        return bool(self.races["teammates"].any())


def compare(store: Store, season: int, a: str, b: str) -> Comparison:
    """Driver `a` against driver `b` (driverRefs) in `season`."""
    people = drivers_of_season(store, season).set_index("driver_ref")
    missing = [d for d in (a, b) if d not in people.index]
    if missing:
        raise ValueError(f"{', '.join(missing)} did not race in {season}")
    rows = store.read(
        """
        SELECT r.round, ra.name, r.driver_ref, r.constructor_ref, r.position_text, r.position_order,
               r.position IS NOT NULL AS classified, q.position AS quali
        FROM results r JOIN races ra USING (season, round)
        LEFT JOIN qualifying q USING (season, round, driver_ref)
        WHERE r.season = ? AND r.driver_ref IN (?, ?)
        """, [season, a, b])
    wide = rows.pivot_table(index=["round", "name"], columns="driver_ref",
                            values=["position_text", "position_order", "quali", "constructor_ref", "classified"],
                            aggfunc="first")
    races = pd.DataFrame(index=wide.index)
    for who, ref in (("a", a), ("b", b)):
        for col in ("position_text", "position_order", "quali", "constructor_ref", "classified"):
            races[f"{who}_{col}"] = wide[(col, ref)] if (col, ref) in wide.columns else None
    races = races.reset_index().rename(columns={"name": "race"})
    races["race"] = races["race"].map(short_race_name)
    # a withdrawn car has a finishing order in the sources, but no race to be ahead or behind in
    both = (races["a_position_order"].notna() & races["b_position_order"].notna()
            & ~races["a_position_text"].isin(NOT_STARTED) & ~races["b_position_text"].isin(NOT_STARTED))
    races["both"] = both
    races["a_ahead"] = (races["a_position_order"] < races["b_position_order"]).where(both)
    quali_both = races["a_quali"].notna() & races["b_quali"].notna()
    races["a_quali_ahead"] = (races["a_quali"] < races["b_quali"]).where(quali_both)
    races["teammates"] = both & (races["a_constructor_ref"] == races["b_constructor_ref"])

    scored = store.read(
        """
        SELECT round, driver_ref, sum(coalesce(points, 0)) AS points FROM (
            SELECT round, driver_ref, points FROM results WHERE season = ? AND driver_ref IN (?, ?)
            UNION ALL SELECT round, driver_ref, points FROM sprint_results WHERE season = ? AND driver_ref IN (?, ?))
        GROUP BY ALL ORDER BY round
        """, [season, a, b, season, a, b])
    grid = pd.MultiIndex.from_product([sorted(races["round"]), [a, b]], names=["round", "driver_ref"])
    points = scored.set_index(["round", "driver_ref"]).reindex(grid, fill_value=0).reset_index()
    points["cumulative"] = points.groupby("driver_ref")["points"].cumsum()

    def count(mask) -> int:
        return int(mask.fillna(False).astype(bool).sum())

    def championship(ref: str) -> float:
        official = people.loc[ref, "championship_points"]
        return float(official if pd.notna(official) else people.loc[ref, "points"])

    mates = races[races["teammates"]]
    summary = {
        "races_both": int(both.sum()),
        "a_ahead": count(races["a_ahead"] == True), "b_ahead": count(races["a_ahead"] == False),  # noqa: E712
        "quali_both": int(quali_both.sum()),
        "a_quali_ahead": count(races["a_quali_ahead"] == True),  # noqa: E712
        "b_quali_ahead": count(races["a_quali_ahead"] == False),  # noqa: E712
        "teammate_races": int(len(mates)),
        "a_ahead_as_teammates": count(mates["a_ahead"] == True),  # noqa: E712
        "b_ahead_as_teammates": count(mates["a_ahead"] == False),  # noqa: E712
        "a_scored": float(people.loc[a, "points"]), "b_scored": float(people.loc[b, "points"]),
        "a_points": championship(a), "b_points": championship(b),
    }
    return Comparison(season, people.loc[[a, b]].reset_index(), races, points, summary)


def ratings(store: Store | None, frame: pd.DataFrame, season: int, drivers: tuple[str, str]) -> pd.DataFrame:
    """Each driver's ratings after every race of `season` (`f1core.engine.ratings`): round,
    driver_ref, strength, car_rating, driver_rating. `store` is unused (the shape of the UI's
    cached frame queries)."""
    from f1core.engine.ratings import ratings_as_of

    done = frame[(frame["season"] == season) & frame["has_result"]]
    if done.empty:
        return pd.DataFrame(columns=["round", "driver_ref", "strength", "car_rating", "driver_rating"])
    out = ratings_as_of(frame, season, int(done["round"].max()))
    return out[out["driver_ref"].isin(drivers)][["round", "driver_ref", "strength", "car_rating", "driver_rating"]]


def earlier_duels(store: Store, season: int, a: str, b: str) -> pd.DataFrame:
    """Driver `a` against driver `b` as teammates before `season` (the duels the driver ratings
    carry into it), one row per season they shared a car: season, team, races (both started),
    a_ahead (at the flag), sessions (both qualified), a_quali_ahead. Empty if they never did."""
    return store.read(
        """
        WITH r AS (
            SELECT r.season, r.round, r.driver_ref, r.constructor_ref, r.position_order, q.position AS quali
            FROM results r LEFT JOIN qualifying q USING (season, round, driver_ref)
            WHERE r.season < ? AND r.driver_ref IN (?, ?) AND NOT list_contains(?, r.position_text))
        SELECT x.season, arg_max(c.name, x.round) AS team, count(*)::INTEGER AS races,
               count_if(x.position_order < y.position_order)::INTEGER AS a_ahead,
               count_if(x.quali IS NOT NULL AND y.quali IS NOT NULL)::INTEGER AS sessions,
               count_if(x.quali < y.quali)::INTEGER AS a_quali_ahead
        FROM r x JOIN r y ON x.season = y.season AND x.round = y.round AND x.constructor_ref = y.constructor_ref
        LEFT JOIN constructors c ON c.constructor_ref = x.constructor_ref
        WHERE x.driver_ref = ? AND y.driver_ref = ?
        GROUP BY x.season ORDER BY x.season
        """, [season, a, b, sorted(NOT_STARTED), a, b])
