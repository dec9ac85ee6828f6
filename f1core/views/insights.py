"""Read-only questions the dashboard asks about the store: its sources and ingestion history,
standings, recent form, teammate head-to-heads and rating histories.

Every function takes a `Store` (the rating history also takes the feature frame, which the app
caches) and returns plain data frames with readable column names, so pages only draw.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from f1core.config import Settings
from f1core.names import with_driver_labels
from f1core.store import Store

# How `position_text` marks a car without a finishing position, in the words fans use.
_UNCLASSIFIED = {"R": "DNF", "D": "DSQ", "E": "EXC", "W": "DNS", "F": "DNQ", "N": "NC"}


def result_label(position_text) -> str:
    """A race result as fans write it: "P3", "DNF", "DNS"...; "—" when there is none."""
    if not isinstance(position_text, str) or not position_text:
        return "—"
    return _UNCLASSIFIED.get(position_text, f"P{position_text}")


def short_race_name(name: str) -> str:
    return name.replace(" Grand Prix", " GP")


# -- sources and the ingestion log --------------------------------------------------------------

def ingestion_log(store: Store, limit: int = 50) -> pd.DataFrame:
    """The most recent ingestion runs, newest first. A run without a finish time is still going,
    or its process stopped mid-run: "unfinished" either way."""
    return store.read(
        """
        SELECT run_id AS run, source, started_at AS started, finished_at AS finished,
               CASE WHEN ok THEN 'ok' WHEN NOT ok THEN 'error' ELSE 'unfinished' END AS outcome,
               rows_added AS "rows added",
               round(epoch(finished_at - started_at), 1) AS "seconds",
               message
        FROM ingestion_runs ORDER BY run_id DESC LIMIT ?
        """,
        [int(limit)],
    )


# The setting that chooses each source of the ingestion log (file imports log their path after
# a colon, "ergast-csv:/data/dump", so they are grouped by the part before it).
_SOURCE_SETTING = {
    "ergast-csv": "F1_SNAPSHOT", "ergast-url": "F1_SNAPSHOT_URL", "weather-csv": "F1_WEATHER", "jolpica": "JOLPICA_URL",
    "jolpica-bootstrap": "JOLPICA_URL", "fastf1": "FASTF1_CACHE", "open-meteo": "OPEN_METEO_URL",
}


def _configured_sources(settings: Settings) -> pd.DataFrame:
    def path_state(path) -> str:
        if path is None:
            return "not set"
        return str(path) if path.exists() else f"{path} (missing)"

    rows = [
        ("Ergast-format CSV dump", "F1_SNAPSHOT", path_state(settings.snapshot),
         "bootstraps an empty store", "Ergast / Jolpica-F1 data (Kaggle dump: CC0)"),
        ("Ergast-format dump to download", "F1_SNAPSHOT_URL", settings.snapshot_url or "not set",
         "bootstraps an empty store in one download", "Ergast / Jolpica-F1 data (Kaggle dump: CC0)"),
        ("Race weather CSVs", "F1_WEATHER", path_state(settings.weather),
         "observed weather backfill", "FastF1 and Open-Meteo (CC BY 4.0)"),
        ("Jolpica API", "JOLPICA_URL", settings.jolpica_url,
         "schedule, results, qualifying, sprints", "Jolpica-F1, successor of the Ergast API"),
        ("Open-Meteo", "OPEN_METEO_URL", settings.open_meteo_url,
         "forecasts for upcoming races", "Weather data by Open-Meteo.com (CC BY 4.0)"),
        ("FastF1", "FASTF1_CACHE", str(settings.fastf1_cache),
         "session weather of completed races", "FastF1 (MIT), F1 live timing data"),
    ]
    return pd.DataFrame(rows, columns=["source", "setting", "value", "used for", "credit"])


def source_summary(store: Store, settings: Settings) -> pd.DataFrame:
    """Each source: where it is read from (and the setting that chooses it), when it last
    delivered, when it last failed, how many rows it has added in all, and whom to credit."""
    runs = store.read(
        "SELECT source, finished_at, ok, coalesce(rows_added, 0) AS rows_added FROM ingestion_runs")
    runs["setting"] = [_SOURCE_SETTING.get(s.split(":", 1)[0], s.split(":", 1)[0]) for s in runs["source"]]
    good, bad = runs[runs["ok"] == True], runs[runs["ok"] == False]  # noqa: E712 - ok is NULL while running
    stats = pd.DataFrame({
        "last success": good.groupby("setting")["finished_at"].max(),
        "last failure": bad.groupby("setting")["finished_at"].max(),
        "rows added": good.groupby("setting")["rows_added"].sum(),
    }).reset_index(names="setting")
    table = _configured_sources(settings).merge(stats, on="setting", how="outer")
    table["source"] = table["source"].fillna(table["setting"])
    table["rows added"] = table["rows added"].fillna(0).astype(int)
    return table[["source", "value", "last success", "last failure", "rows added", "used for", "setting", "credit"]]


def table_rows(store: Store) -> pd.DataFrame:
    """Rows per source table, in the order a bootstrap fills them."""
    return pd.DataFrame(list(store.table_counts().items()), columns=["table", "rows"])


# -- seasons and standings ----------------------------------------------------------------------

def seasons_with_results(store: Store) -> list[int]:
    """Seasons with at least one race result, newest first."""
    frame = store.read("SELECT DISTINCT season FROM results ORDER BY season DESC")
    return [int(s) for s in frame["season"]]


@dataclass(frozen=True)
class Standings:
    season: int
    round: int
    race_name: str
    drivers: pd.DataFrame
    constructors: pd.DataFrame


def standings(store: Store, season: int) -> Standings | None:
    """Championship tables after the latest round of `season` that has standings."""
    round_ = store.scalar("SELECT max(round) FROM driver_standings WHERE season = ?", [season])
    if round_ is None:
        return None
    round_ = int(round_)
    drivers = store.read(
        """
        WITH last_team AS (
            SELECT driver_ref, arg_max(constructor_ref, round) AS constructor_ref
            FROM results WHERE season = ? AND round <= ? GROUP BY driver_ref)
        SELECT s.position AS pos, d.code, d.driver_name AS driver,
               c.name AS team, s.points, s.wins, s.driver_ref, lt.constructor_ref
        FROM driver_standings s
        JOIN driver_labels d USING (driver_ref)
        LEFT JOIN last_team lt USING (driver_ref)
        LEFT JOIN constructors c ON c.constructor_ref = lt.constructor_ref
        WHERE s.season = ? AND s.round = ?
        ORDER BY s.position NULLS LAST, s.points DESC
        """,
        [season, round_, season, round_],
    )
    constructors = store.read(
        """
        SELECT s.position AS pos, c.name AS team, s.points, s.wins, s.constructor_ref
        FROM constructor_standings s JOIN constructors c USING (constructor_ref)
        WHERE s.season = ? AND s.round = (SELECT max(round) FROM constructor_standings WHERE season = ?)
        ORDER BY s.position NULLS LAST, s.points DESC
        """,
        [season, season],
    )
    race = store.race(season, round_)
    return Standings(season, round_, race.name if race else f"Round {round_}", drivers, constructors)


# -- recent form --------------------------------------------------------------------------------

@dataclass(frozen=True)
class RecentForm:
    races: list[str]  # the race columns of `table`, oldest first
    table: pd.DataFrame


def recent_form(store: Store, season: int, last_n: int = 5) -> RecentForm:
    """Finishing positions of every driver in the last `last_n` races of `season` with results,
    one column per race (oldest first; empty where the driver did not take part), plus the points
    scored over them ("points", sprints included), ordered by the championship after the latest
    of those races."""
    races = store.read(
        """
        SELECT season, round, name FROM races r
        WHERE season = ? AND EXISTS (SELECT 1 FROM results x WHERE x.season = r.season AND x.round = r.round)
        ORDER BY round DESC LIMIT ?
        """,
        [season, int(last_n)],
    ).sort_values("round")
    if races.empty:
        return RecentForm([], pd.DataFrame())
    rounds = [int(r) for r in races["round"]]
    labels = [f"R{r} {short_race_name(n)}" for r, n in zip(rounds, races["name"])]
    rows = store.read(
        f"""
        WITH sprint AS (
            SELECT round, driver_ref, sum(points) AS points FROM sprint_results
            WHERE season = ? GROUP BY round, driver_ref),
        standing AS (
            SELECT driver_ref, position FROM driver_standings WHERE season = ? AND round = ?)
        SELECT r.round, r.driver_ref, d.code, d.driver_name AS driver,
               r.constructor_ref, c.name AS team, r.position_text,
               coalesce(r.points, 0) + coalesce(sp.points, 0) AS points, st.position AS standing
        FROM results r
        JOIN driver_labels d USING (driver_ref)
        JOIN constructors c USING (constructor_ref)
        LEFT JOIN sprint sp ON sp.round = r.round AND sp.driver_ref = r.driver_ref
        LEFT JOIN standing st ON st.driver_ref = r.driver_ref
        WHERE r.season = ? AND r.round IN ({', '.join('?' * len(rounds))})
        ORDER BY r.round
        """,
        [season, season, max(rounds), season, *rounds],
    )
    rows["result"] = rows["position_text"].map(result_label)
    rows["race"] = rows["round"].map(dict(zip(rounds, labels)))
    wide = rows.pivot_table(index="driver_ref", columns="race", values="result", aggfunc="first")
    people = rows.groupby("driver_ref").agg(
        code=("code", "first"), driver=("driver", "first"), team=("team", "last"),
        constructor_ref=("constructor_ref", "last"), points=("points", "sum"), standing=("standing", "first"))
    table = (people.join(wide.reindex(columns=labels))
                   .sort_values(["standing", "points"], ascending=[True, False], na_position="last")
                   .reset_index())
    return RecentForm(labels, table[["code", "driver", "team", *labels, "points", "driver_ref", "constructor_ref"]])


# -- teammates ----------------------------------------------------------------------------------

def teammate_head_to_head(store: Store, season: int) -> pd.DataFrame:
    """Each pair of drivers who raced for the same team in `season`: who out-qualified whom, who
    finished ahead when both were classified, and the median qualifying gap in the last session
    both set a time in (Q3, else Q2, else Q1; positive = driver B slower). Driver A is the one
    placed higher in the championship."""
    return store.read(
        """
        WITH standing AS (
            SELECT driver_ref, position FROM driver_standings
            WHERE season = ? AND round = (SELECT max(round) FROM driver_standings WHERE season = ?)),
        entry AS (
            SELECT r.round, r.constructor_ref, r.driver_ref, r.position AS finish,
                   q.position AS quali, q.q1_s, q.q2_s, q.q3_s,
                   coalesce(st.position, 999) AS rank
            FROM results r
            LEFT JOIN qualifying q USING (season, round, driver_ref)
            LEFT JOIN standing st USING (driver_ref)
            WHERE r.season = ?),
        pair AS (
            SELECT a.round, a.constructor_ref, a.driver_ref AS a_ref, b.driver_ref AS b_ref,
                   a.rank AS a_rank, a.quali AS a_quali, b.quali AS b_quali, a.finish AS a_finish, b.finish AS b_finish,
                   CASE WHEN a.q3_s IS NOT NULL AND b.q3_s IS NOT NULL THEN [a.q3_s, b.q3_s]
                        WHEN a.q2_s IS NOT NULL AND b.q2_s IS NOT NULL THEN [a.q2_s, b.q2_s]
                        WHEN a.q1_s IS NOT NULL AND b.q1_s IS NOT NULL THEN [a.q1_s, b.q1_s] END AS laps
            FROM entry a JOIN entry b
              ON a.round = b.round AND a.constructor_ref = b.constructor_ref
             AND (a.rank, a.driver_ref) < (b.rank, b.driver_ref))
        SELECT c.name AS team,
               da.code AS driver_a, db.code AS driver_b,
               count(*) AS races,
               -- NULL, not 0-0, for seasons before qualifying was recorded (1994)
               CASE WHEN count(a_quali) > 0 THEN count(*) FILTER (WHERE a_quali < b_quali) END AS quali_a,
               CASE WHEN count(a_quali) > 0 THEN count(*) FILTER (WHERE b_quali < a_quali) END AS quali_b,
               count(*) FILTER (WHERE a_finish < b_finish) AS race_a,
               count(*) FILTER (WHERE b_finish < a_finish) AS race_b,
               round(median(laps[2] - laps[1]), 3) AS gap_s,
               round(median(100 * (laps[2] - laps[1]) / laps[1]), 2) AS gap_pct,
               count(laps) AS sessions_compared,
               p.constructor_ref, p.a_ref AS driver_a_ref, p.b_ref AS driver_b_ref
        FROM pair p
        JOIN constructors c USING (constructor_ref)
        JOIN driver_labels da ON da.driver_ref = p.a_ref
        JOIN driver_labels db ON db.driver_ref = p.b_ref
        GROUP BY ALL
        ORDER BY min(p.a_rank), races DESC
        """,
        [season, season, season],
    )


# -- ratings ------------------------------------------------------------------------------------

def rating_history(store: Store, frame: pd.DataFrame, season: int) -> pd.DataFrame:
    """Every driver's and car's rating after each race of `season` (`f1core.engine.ratings`:
    the car from its qualifying and race pace, the driver from how he compares with his
    teammates, both on one points scale, the car's shrunk towards the field at rule changes),
    with codes, names and the team's name: season, round, race, driver_ref, code, driver,
    constructor_ref, team_name, car_rating, driver_rating, strength, rank (1 = strongest)."""
    from f1core.engine.ratings import ratings_as_of

    rows = frame[(frame["season"] == season) & frame["has_result"]]
    if rows.empty:
        return pd.DataFrame()
    out = ratings_as_of(frame, season, int(rows["round"].max()))
    names = store.read("SELECT driver_ref, code, driver_name AS driver FROM driver_labels")
    teams = store.read("SELECT constructor_ref, name AS team_name FROM constructors")
    races = store.read("SELECT round, name FROM races WHERE season = ?", [season])
    races["race"] = [f"R{r} {short_race_name(n)}" for r, n in zip(races["round"], races["name"])]
    out = (out.merge(names, on="driver_ref", how="left")
              .merge(teams, on="constructor_ref", how="left")
              .merge(races[["round", "race"]], on="round", how="left"))
    out = with_driver_labels(out.rename(columns={"driver": "driver_name"})).rename(columns={"driver_name": "driver"})
    out["team_name"] = out["team_name"].fillna(out["constructor_ref"])
    return out.sort_values(["round", "rank"]).reset_index(drop=True)
