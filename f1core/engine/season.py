"""The season as a whole: every remaining race and sprint simulated together, so the championship
comes out as odds with honest bands.

Each remaining weekend gets the race model's per-race distribution (log-strengths and DNF
chances from the pre-qualifying model, with stage 1's predicted grid; the real grid once
qualifying is known). A simulated season then draws every race in a Plackett–Luce order with
DNFs, as the single-race simulation does, and on top of the race noise lets each car's and each
driver's strength wander over the rest of the season (a random walk in log-strength), because a
car that is quick now may not stay quick. The size of that wander was chosen on checkpoints of
the 2010–2021 seasons so that final points land inside the P10–P90 band about three times in four.

Points follow the season's own system as the store's results show it (the points most often
given to each position), sprints included. Everything is seeded: the same data and models give
the same odds.

One module, past 400 lines on purpose: points, standings, the weekends still to come and their
simulation are one projection; split up, each part would be read only beside the others.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from f1core.engine.features import FEATURES, WEATHER_FEATURES
from f1core.engine.predict import race_mode, race_view
from f1core.engine.scenario import Scenario
from f1core.engine.training import PRE, RaceModel, race_seed, stage2_rows, train_stage1, train_stage2
from f1core.store import Store

SEASON_SIMS = 10_000
# Random walk of log-strength per weekend still to come, for each car and, smaller, each driver:
# chosen on the 36 checkpoints of 2010-2021 (scratch grid over 0-0.8 x 0-0.3, replays with models
# trained only before each checkpoint): the smallest wander that brings the final points inside
# the P10-P90 band at an honest rate. With 0.5/0.2 they land there 75% of the time (65% with no
# wander, 81% with 0.8/0.2); the champion's log loss rises from 0.42 to 0.46 for it. Checked again
# with later models on 2010-2021, before the first race too: 81% inside after rounds 6, 12 and n-3,
# 75% before the first race. An extra start-of-season shift per car, as uncertain as the rating
# filter's car rating, only worsened the champion's log loss there (0.568; 0.579 to 0.607 with it).
TEAM_DRIFT = 0.5
DRIVER_DRIFT = 0.2
FORCED = 1e6  # a strength no Gumbel draw can overturn: used to fix a what-if's result

# Columns that belong to the weekend rather than to the driver's form: taken from the weekend's
# own rows, everything else from the first weekend after the checkpoint (what was known then).
CIRCUIT_COLUMNS = [f.name for f in FEATURES if f.group == "circuit"]
WEEKEND_COLUMNS = ["season", "round", "date", "circuit_ref", "race_idx", "round_frac", "n_rounds",
                   *WEATHER_FEATURES, *CIRCUIT_COLUMNS]
OUTCOME_COLUMNS = ["position", "position_order", "points", "finish", "points_f", "dnf", "gain", "status",
                   "position_text", "quali_position", "quali_best_s", "quali_gap_pct", "sprint_position",
                   "fastest_lap_time", "flgap", "teammate_delta", "grid", "sprint_grid", "sprint_quali_pos"]
# ... of those, what is known of the next weekend once its qualifying (or sprint shootout) has run
KNOWN_BEFORE_THE_RACE = ("grid", "quali_position", "quali_best_s", "quali_gap_pct", "sprint_position", "sprint_grid",
                         "sprint_quali_pos")


# -- points --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PointsSystem:
    season: int
    race: tuple[float, ...]  # points for P1, P2, ...
    sprint: tuple[float, ...]  # empty in seasons without sprints
    # rounds that gave more, announced with the season's rules (2014's double-points finale)
    race_rounds: tuple[tuple[int, tuple[float, ...]], ...] = ()
    fastest_lap: float = 0.0  # for the fastest lap, when its driver finishes in the points (2019-2024)

    def _race(self, round_: int | None) -> tuple[float, ...]:
        return dict(self.race_rounds).get(round_, self.race)

    def table(self, kind: str, n: int, round_: int | None = None) -> np.ndarray:
        points = self._race(round_) if kind == "race" else self.sprint
        out = np.zeros(n)
        out[: min(n, len(points))] = points[:n]
        return out

    def weekend_max(self, sprint: bool, round_: int | None = None) -> float:
        """The most points one driver can score in a weekend (race with its fastest-lap point,
        and sprint when there is one)."""
        race = self._race(round_)
        return float((race[0] + self.fastest_lap if race else 0) + (self.sprint[0] if sprint and self.sprint else 0))


def _points_by_position(store: Store, table: str, season: int) -> tuple[float, ...] | None:
    rows = store.read(f"SELECT position_order AS p, mode(points) AS pts FROM {table} WHERE season = ? "
                      "AND position_order <= 30 GROUP BY ALL ORDER BY p", [season])
    if rows.empty:
        return None
    pts = [float(v) for v in rows["pts"].fillna(0)]
    while pts and pts[-1] == 0:
        pts.pop()
    return tuple(pts)


def _rules_of_the_rounds(store: Store, season: int, race: tuple[float, ...]) -> tuple[tuple, float]:
    """What the season's rules gave beyond its usual table, read from all its results (rules are
    announced before the season, unlike outcomes): rounds worth more (at least one and a half
    times the table: a double-points finale; half points for a shortened race are an outcome,
    left out), and the fastest-lap point (in most rounds exactly one driver in the points has
    one more than his place gives)."""
    rounds = store.read("SELECT round, list(coalesce(points, 0) ORDER BY position_order) AS pts FROM results "
                        "WHERE season = ? AND position_order IS NOT NULL GROUP BY round ORDER BY round", [season])
    if rounds.empty or not race:
        return (), 0.0
    usual = np.asarray(race, dtype=float)
    special, bonus = [], 0
    for r in rounds.itertuples(index=False):
        got = np.zeros(len(usual))
        got[: min(len(usual), len(r.pts))] = np.asarray(r.pts, dtype=float)[: len(usual)]
        if got[0] >= 1.5 * usual[0]:
            special.append((int(r.round), tuple(float(v) for v in got)))
            continue
        extra = got - usual
        bonus += int(np.count_nonzero(extra == 1) == 1 and np.count_nonzero(extra) == 1)
    return tuple(special), (1.0 if bonus > len(rounds) / 2 else 0.0)


def points_system(store: Store, season: int) -> PointsSystem:
    """The points `season` gives: the most common points per position over all its results so far,
    with the rounds worth more and the fastest-lap point its rules gave (`_rules_of_the_rounds`).
    Rules are announced before a season, so a replay of any of its rounds reads them from the whole
    season (a few early rounds alone can make a half-points race or a fastest-lap point look like
    the table). A season with no result yet takes the latest earlier season's tables and its
    fastest-lap point, not its rounds worth more (which belong to that calendar); likewise its sprint
    table before its first sprint."""
    race = _points_by_position(store, "results", season)
    if race is None:
        last = store.scalar("SELECT max(season) FROM results WHERE season < ?", [season])
        if last is None:
            return PointsSystem(season, (), ())
        before = points_system(store, int(last))
        return PointsSystem(season, before.race, before.sprint, (), before.fastest_lap)
    sprint = _points_by_position(store, "sprint_results", season)
    if sprint is None and store.scalar("SELECT count(*) FROM races WHERE season = ? AND sprint_date IS NOT NULL",
                                       [season]):
        last = store.scalar("SELECT max(season) FROM sprint_results WHERE season < ?", [season])
        sprint = _points_by_position(store, "sprint_results", int(last)) if last is not None else None
    special, fastest_lap = _rules_of_the_rounds(store, season, race)
    return PointsSystem(season, race, sprint or (), special, fastest_lap)


def _sprint_run(after_round: int) -> str:
    """SQL: the weekend (alias s) right after `after_round` has run its sprint and not yet its race."""
    return (f"(s.round = {int(after_round) + 1} AND EXISTS (SELECT 1 FROM sprint_results x WHERE x.season = s.season "
            "AND x.round = s.round) AND NOT EXISTS (SELECT 1 FROM results x WHERE x.season = s.season "
            "AND x.round = s.round))")


def standings_after(store: Store, season: int, after_round: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Drivers' and constructors' points and wins after `after_round` (races and sprints, with the
    sprint of a weekend whose race is still to run), from the results themselves so any round can be
    replayed: driver_ref / constructor_ref, points, wins. Sorted, because the simulation's random
    draws follow the order of the entrants."""
    drivers = store.read(
        f"""
        WITH scored AS (
            SELECT driver_ref, constructor_ref, round, points, position_order = 1 AS won FROM results
            WHERE season = ? AND round <= ?
            UNION ALL
            SELECT driver_ref, constructor_ref, round, points, false FROM sprint_results s
            WHERE season = ? AND (round <= ? OR {_sprint_run(after_round)}))
        SELECT driver_ref, arg_max(constructor_ref, round) AS constructor_ref, sum(coalesce(points, 0)) AS points,
               count(*) FILTER (WHERE won) AS wins
        FROM scored GROUP BY driver_ref ORDER BY driver_ref
        """, [season, after_round, season, after_round])
    drivers = _with_official_order(store, drivers, "driver_standings", "driver_ref", season, after_round)
    teams = store.read(
        f"""
        WITH scored AS (
            SELECT constructor_ref, points, position_order = 1 AS won FROM results WHERE season = ? AND round <= ?
            UNION ALL
            SELECT constructor_ref, points, false FROM sprint_results s WHERE season = ? AND (round <= ? OR {_sprint_run(after_round)}))
        SELECT constructor_ref, sum(coalesce(points, 0)) AS points, count(*) FILTER (WHERE won) AS wins
        FROM scored GROUP BY constructor_ref ORDER BY constructor_ref
        """, [season, after_round, season, after_round])
    teams = _with_official_points(store, teams, season, after_round)
    teams = _with_official_order(store, teams, "constructor_standings", "constructor_ref", season, after_round)
    return drivers, teams


def _with_official_points(store: Store, teams: pd.DataFrame, season: int, after_round: int) -> pd.DataFrame:
    """The constructors' points of the official table after `after_round` where the store has it:
    a team's points are not always its drivers' (2020 Racing Point lost 15 for its brake ducts; 2018
    Force India's first 59 went with the old team). A sprint run since that table is added."""
    official = store.read("SELECT constructor_ref, points FROM constructor_standings WHERE season = ? AND round = ?",
                          [season, after_round])
    if official.empty:
        return teams
    since = store.read(
        f"SELECT constructor_ref, sum(coalesce(points, 0)) AS sprint FROM sprint_results s "
        f"WHERE season = ? AND {_sprint_run(after_round)} GROUP BY constructor_ref", [season])
    points = (teams[["constructor_ref"]].merge(official, on="constructor_ref", how="left")
              .merge(since, on="constructor_ref", how="left"))
    kept = points["points"].notna().to_numpy()
    out = teams.copy()
    out.loc[kept, "points"] = (points["points"] + points["sprint"].fillna(0)).to_numpy()[kept]
    return out


def _with_official_order(store: Store, standings: pd.DataFrame, table: str, key: str, season: int,
                         after_round: int) -> pd.DataFrame:
    """The official table's position after `after_round` (`rank_now`: ties on points broken by
    count-back, which the simulation uses in place of a coin) and who was excluded from the
    championship (`excluded`: 1997's Schumacher, 2007's McLaren), where the store has it."""
    official = store.read(f"SELECT {key}, position AS rank_now, position_text IN ('D', 'E') AS excluded "
                          f"FROM {table} WHERE season = ? AND round = ?", [season, after_round])
    out = standings.merge(official, on=key, how="left")
    out["excluded"] = out["excluded"].astype("boolean").fillna(False).astype(bool)
    return out


# -- the weekends still to come ------------------------------------------------------------------

@dataclass
class Weekend:
    season: int
    round: int
    name: str
    date: object
    sprint: bool
    drivers: np.ndarray  # driver_ref per car
    teams: np.ndarray  # constructor_ref per car
    strength: np.ndarray  # race model log-strength
    p_dnf: np.ndarray
    mode: str


def weekend_rows(frame: pd.DataFrame, season: int, after_round: int) -> dict[int, pd.DataFrame]:
    """Feature rows of every race of `season` after `after_round` as they were known right after
    it: the drivers' and teams' form of the first race after the checkpoint (computed from races
    before it only), with each weekend's own circuit, calendar and weather columns; outcomes,
    grids and qualifying of races not yet run at the checkpoint are blanked."""
    later = frame[(frame["season"] == season) & (frame["round"] > after_round)]
    if later.empty:
        return {}
    first_round = int(later["round"].min())
    base = later[later["round"] == first_round]
    out = {}
    # a circuit visited twice after the checkpoint: its second visit's circuit history would hold
    # the first, not run yet at the checkpoint, so both read the circuit as of the first visit
    first_visit = later.groupby("circuit_ref")["round"].min()
    circuit_cols = [c for c in CIRCUIT_COLUMNS if c in later.columns]
    for rnd, rows in later.groupby("round", sort=True):
        weekend = rows.drop_duplicates("driver_ref").set_index("driver_ref")
        view = base.drop_duplicates("driver_ref").set_index("driver_ref").copy()
        cols = [c for c in WEEKEND_COLUMNS if c in view.columns]
        own = weekend[cols].reindex(view.index)
        visit = int(first_visit[weekend["circuit_ref"].iloc[0]])
        if visit != int(rnd):
            earlier = later[later["round"] == visit].drop_duplicates("driver_ref").set_index("driver_ref")
            own[circuit_cols] = earlier[circuit_cols].reindex(view.index)
        for c in cols:
            if c in ("season", "round", "date", "circuit_ref", "race_idx", "round_frac", "n_rounds"):
                view[c] = weekend[c].iloc[0]
            else:
                view[c] = own[c]
        known_now = not rows["has_result"].any() and int(rnd) == first_round
        blank = [c for c in OUTCOME_COLUMNS if c in view.columns and not (known_now and c in KNOWN_BEFORE_THE_RACE)]
        view[blank] = np.nan
        if not known_now and "exp_quali_gap_ratings" in view:  # no shootout of this weekend has run yet
            view["exp_quali_gap"] = view["exp_quali_gap_ratings"]
        if base["has_result"].any():  # a replay: no forecast was kept for those races
            view[[c for c in WEATHER_FEATURES if c in view.columns]] = np.nan
        view["has_result"] = False
        view["started"] = False
        out[int(rnd)] = view.reset_index()
    return out


@dataclass
class SeasonModels:
    """What a projection needs of a model: stage 1 and the race model of each mode it uses."""
    stage1: object
    race_models: dict[str, RaceModel]
    version: str


def remaining_weekends(store: Store, frame: pd.DataFrame, bundle: SeasonModels, season: int,
                       after_round: int) -> list[Weekend]:
    """Every weekend of `season` after `after_round`, with the models' per-race distribution."""
    # a sprint already run (its race not yet: the weekend in progress) is in the standings, not simulated
    races = store.read(f"SELECT round, name, date, sprint_date IS NOT NULL AND NOT {_sprint_run(after_round)} AS sprint "
                       "FROM races s WHERE season = ? AND round > ? ORDER BY round", [season, after_round])
    rows_by_round = weekend_rows(frame, season, after_round)
    out = []
    for race in races.itertuples(index=False):
        rows = rows_by_round.get(int(race.round))
        if rows is None or rows.empty:
            continue
        mode = race_mode(rows)
        view = race_view(bundle.stage1, rows, mode, Scenario())
        model: RaceModel = bundle.race_models[mode]
        out.append(Weekend(season, int(race.round), race.name, race.date, bool(race.sprint),
                           view["driver_ref"].to_numpy(), view["constructor_ref"].to_numpy(),
                           model.strengths(view), model.dnf_proba(view), mode))
    return out


# -- the simulation ------------------------------------------------------------------------------

@dataclass
class Condition:
    """A what-if on the next weekend's race: these drivers finish in these places (1 = winner)."""
    round: int
    finishers: tuple[str, ...]  # the winner, or the whole podium in order


@dataclass
class SeasonOutlook:
    season: int
    after_round: int
    model_version: str
    n_sims: int
    drivers: pd.DataFrame  # driver_ref, constructor_ref, points_now, wins_now, p_title, points_expected, p10, p90
    constructors: pd.DataFrame  # constructor_ref, points_now, wins_now, p_title, points_expected, p10, p90
    driver_positions: pd.DataFrame  # driver_ref x final position (1..n): probability
    constructor_positions: pd.DataFrame
    remaining: pd.DataFrame  # round, name, date, sprint, favourite, p_win, mode
    race_chances: pd.DataFrame  # round, driver_ref, constructor_ref, p_win, p_podium (the race, not the sprint)
    clinch_next: pd.DataFrame  # driver_ref, p_clinch (title decided after the next weekend)
    max_points_left: float
    points: PointsSystem
    condition: Condition | None = None
    weekends: list[Weekend] = field(default_factory=list, repr=False)

    @property
    def complete(self) -> bool:
        return not self.weekends


def _official(standings: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """`rank_now` and `excluded` of standings (see `_with_official_order`; NaN / False when absent)."""
    rank = standings["rank_now"] if "rank_now" in standings else pd.Series(np.nan, index=standings.index)
    out = standings["excluded"] if "excluded" in standings else pd.Series(False, index=standings.index)
    return rank.to_numpy(dtype=float), out.astype("boolean").fillna(False).to_numpy(dtype=bool)


def _positions(points: np.ndarray, wins: np.ndarray, rng: np.random.Generator, rank_now: np.ndarray,
               excluded: np.ndarray) -> np.ndarray:
    """Final championship positions (0 = champion) per simulation: points, then wins, then the
    official order now where the store has it (its count-back), else a coin; the excluded last."""
    n = points.shape[1]
    tie = np.where(np.isnan(rank_now), rng.random(points.shape), 1 - np.nan_to_num(rank_now) / (n + 1)) * 0.999
    key = points * 1e4 + wins * 10 + tie - excluded * 1e12
    return np.argsort(np.argsort(-key, axis=1), axis=1)


def _summary(names: np.ndarray, now: np.ndarray, wins_now: np.ndarray, total: np.ndarray, positions: np.ndarray,
             key: str, excluded: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    n = len(names)
    table = pd.DataFrame({
        key: names, "points_now": now, "wins_now": wins_now, "excluded": excluded,
        "p_title": (positions == 0).mean(axis=0),
        "points_expected": total.mean(axis=0),
        "points_p10": np.quantile(total, 0.1, axis=0), "points_p90": np.quantile(total, 0.9, axis=0),
    })
    dist = np.stack([(positions == k).mean(axis=0) for k in range(n)], axis=1)
    pos = pd.DataFrame(dist, index=names, columns=np.arange(1, n + 1))
    table["position_expected"] = dist @ np.arange(1, n + 1)
    order = table.sort_values(["p_title", "position_expected"], ascending=[False, True]).index
    table = table.loc[order].reset_index(drop=True)
    return table, pos.loc[table[key]]


def simulate_season(season: int, after_round: int, weekends: list[Weekend], drivers_now: pd.DataFrame,
                    teams_now: pd.DataFrame, points: PointsSystem, model_version: str, n_sims: int = SEASON_SIMS,
                    team_drift: float = TEAM_DRIFT, driver_drift: float = DRIVER_DRIFT,
                    sprint_dnf_ratio: float = 0.3, condition: Condition | None = None) -> SeasonOutlook:
    """Simulate the rest of the season `n_sims` times from the standings now."""
    rng = np.random.default_rng(race_seed(season, after_round) * 7 + 1)
    entrants = pd.Index(pd.unique(np.concatenate([drivers_now["driver_ref"].to_numpy(dtype=object)]
                                                 + [w.drivers.astype(object) for w in weekends])))
    team_of = dict(zip(drivers_now["driver_ref"], drivers_now["constructor_ref"]))
    for w in weekends:
        team_of.update(zip(w.drivers, w.teams))
    teams = pd.Index(pd.unique(np.concatenate([teams_now["constructor_ref"].to_numpy(dtype=object),
                                               np.array([team_of[d] for d in entrants], dtype=object)])))
    now = drivers_now.set_index("driver_ref").reindex(entrants)
    d_points = np.tile(now["points"].fillna(0).to_numpy(dtype=float), (n_sims, 1))
    d_wins = np.tile(now["wins"].fillna(0).to_numpy(dtype=float), (n_sims, 1))
    tnow = teams_now.set_index("constructor_ref").reindex(teams)
    t_points = np.tile(tnow["points"].fillna(0).to_numpy(dtype=float), (n_sims, 1))
    t_wins = np.tile(tnow["wins"].fillna(0).to_numpy(dtype=float), (n_sims, 1))
    team_walk = np.zeros((n_sims, len(teams)))
    driver_walk = np.zeros((n_sims, len(entrants)))
    clinch = None
    remaining_rows, chances = [], []
    for k, w in enumerate(weekends):
        # the wander reaches this weekend: one step per weekend after the next one
        if k > 0:
            team_walk += rng.normal(0, team_drift, team_walk.shape)
            driver_walk += rng.normal(0, driver_drift, driver_walk.shape)
        d_idx = entrants.get_indexer(w.drivers)
        t_idx = teams.get_indexer(w.teams)
        pace = w.strength[None, :] + team_walk[:, t_idx] + driver_walk[:, d_idx]
        strength = pace.copy()
        p_dnf = np.broadcast_to(w.p_dnf, strength.shape).copy()
        forced = condition is not None and condition.round == w.round
        if forced:
            for place, driver in enumerate(condition.finishers):
                at = np.flatnonzero(w.drivers == driver)
                strength[:, at] = FORCED * (1 - place * 1e-3)
                p_dnf[:, at] = 0.0
        sessions = (["sprint"] if w.sprint and points.sprint else []) + ["race"]
        for session in sessions:
            dnf_scale = sprint_dnf_ratio if session == "sprint" else 1.0
            noise = rng.gumbel(size=strength.shape)
            # a what-if fixes the race, not the sprint
            key = (np.where(strength >= FORCED / 2, w.strength[None, :], strength) if session == "sprint"
                   else strength) + noise
            # ... and leaves the sprint's retirements alone
            out = rng.random(strength.shape) < (w.p_dnf[None, :] if session == "sprint" else p_dnf) * dnf_scale
            key = np.where(out, key - 1e7, key)
            place = np.argsort(np.argsort(-key, axis=1), axis=1)
            scored = points.table(session, len(w.drivers), w.round)[place]
            if session == "race" and points.fastest_lap:
                # the fastest lap, to a fast car more often, scores only inside the top ten: a car
                # further back sets it now and then (on fresh tyres late on; 14 of 2019-2024's 126
                # races) and nobody gets the point. From the cars' pace, not a what-if's fixed result:
                # the chosen winner does not set the fastest lap by being chosen
                lap = np.where(~out, pace + rng.gumbel(size=strength.shape), -np.inf)
                fastest = np.argmax(lap, axis=1)
                rows = np.arange(n_sims)
                scored[rows, fastest] += np.where(place[rows, fastest] < 10, points.fastest_lap, 0.0)
            d_points[:, d_idx] += scored  # one car per driver
            np.add.at(t_points, (slice(None), t_idx), scored)  # two cars per team
            if session == "race":
                won = (place == 0).astype(float)
                d_wins[:, d_idx] += won
                np.add.at(t_wins, (slice(None), t_idx), won)
                p_win = won.mean(axis=0)
                fav = int(np.argmax(p_win))
                remaining_rows.append({"round": w.round, "name": w.name, "date": w.date, "sprint": w.sprint,
                                       "favourite": w.drivers[fav], "p_win": float(p_win[fav]), "mode": w.mode})
                chances.append(pd.DataFrame({"round": w.round, "driver_ref": w.drivers, "constructor_ref": w.teams,
                                             "p_win": p_win, "p_podium": (place < 3).mean(axis=0)}))
        if k == 0:
            clinch = _clinch_chances(d_points, weekends[1:], points, entrants)
    d_rank, d_out = _official(now)
    t_rank, t_out = _official(tnow)
    d_pos = _positions(d_points, d_wins, rng, d_rank, d_out)
    t_pos = _positions(t_points, t_wins, rng, t_rank, t_out)
    d_table, d_dist = _summary(entrants.to_numpy(), now["points"].fillna(0).to_numpy(),
                               now["wins"].fillna(0).to_numpy(), d_points, d_pos, "driver_ref", d_out)
    d_table.insert(1, "constructor_ref", d_table["driver_ref"].map(team_of))
    t_table, t_dist = _summary(teams.to_numpy(), tnow["points"].fillna(0).to_numpy(),
                               tnow["wins"].fillna(0).to_numpy(), t_points, t_pos, "constructor_ref", t_out)
    max_left = sum(points.weekend_max(w.sprint, w.round) for w in weekends)
    if clinch is None:
        clinch = pd.DataFrame({"driver_ref": entrants.to_numpy(), "p_clinch": (d_pos == 0).mean(axis=0)})
    return SeasonOutlook(season, after_round, model_version, n_sims, d_table, t_table, d_dist, t_dist,
                         pd.DataFrame(remaining_rows, columns=["round", "name", "date", "sprint", "favourite",
                                                               "p_win", "mode"]),
                         pd.concat(chances, ignore_index=True) if chances else pd.DataFrame(
                             columns=["round", "driver_ref", "constructor_ref", "p_win", "p_podium"]),
                         clinch, float(max_left), points, condition, weekends)


def _clinch_chances(points_after: np.ndarray, later: list[Weekend], points: PointsSystem,
                    entrants: pd.Index) -> pd.DataFrame:
    """Per driver, the share of simulations in which he leads every rival by more than the points
    still to win after the next weekend: the title decided there."""
    left = sum(points.weekend_max(w.sprint, w.round) for w in later)
    order = np.sort(points_after, axis=1)
    lead = order[:, -1] - order[:, -2] if points_after.shape[1] > 1 else order[:, -1]
    leader = np.argmax(points_after, axis=1)
    decided = lead > left
    p = np.bincount(leader[decided], minlength=len(entrants)) / len(points_after)
    return pd.DataFrame({"driver_ref": entrants.to_numpy(), "p_clinch": p})


def clinch_words(outlook: SeasonOutlook, names: dict[str, str]) -> str | None:
    """"Can the leader clinch the title at the next weekend?" in plain words (None once the
    season is over)."""
    if outlook.complete or len(outlook.drivers) < 2:
        return None
    nxt = outlook.weekends[0]
    best = outlook.points.weekend_max(nxt.sprint, nxt.round)
    after = outlook.max_points_left - best
    d = outlook.drivers.sort_values("points_now", ascending=False).reset_index(drop=True)
    leader, second = d.iloc[0], d.iloc[1]
    name = names.get(leader["driver_ref"], leader["driver_ref"])
    rival = names.get(second["driver_ref"], second["driver_ref"])
    lead = float(leader["points_now"] - second["points_now"])
    where = f"the {nxt.name}" + (" (a sprint weekend)" if nxt.sprint else "")
    if lead == 0:  # level at the top (before the season, everyone): no leader to speak of
        level = f"{name} and {rival} are level on {float(leader['points_now']):g} points"
        if best <= after:
            return (f"Nobody can clinch the title at {where}: {level}, and even {best:g} points there would leave "
                    f"{after:g} points to win after it.")
        p = float(outlook.clinch_next["p_clinch"].sum())
        return (f"The title can be decided at {where}: {level} with {after:g} still to win after that weekend. "
                f"In the simulations it is decided there {p:.0%} of the time.")
    if lead + best <= after:
        return (f"{name} cannot clinch the title at {where}: he leads {rival} by {lead:g} points, and even "
                f"{best:g} points there with {rival} scoring nothing would leave {after:g} points to win after it.")
    p = float(outlook.clinch_next.set_index("driver_ref")["p_clinch"].get(leader["driver_ref"], 0.0))
    return (f"{name} can clinch the title at {where}: he leads {rival} by {lead:g} points with {after:g} still to "
            f"win after that weekend, so he needs to leave it more than {after:g} points ahead of everyone. In the "
            f"simulations that happens {p:.0%} of the time.")


# -- projections as of any round -----------------------------------------------------------------

def sprint_dnf_ratio(store: Store, season: int, after_round: int) -> float:
    """How much less often a car is not classified in a sprint than in a race (sprints are a
    third as long), from the sprints and races run before the checkpoint."""
    before = "(season < ? OR (season = ? AND round <= ?))"
    row = store.read(
        f"""
        SELECT (SELECT avg((position IS NULL)::INT) FROM sprint_results WHERE {before}) AS sprint,
               (SELECT avg((position IS NULL)::INT) FROM results
                WHERE {before} AND season >= (SELECT min(season) FROM sprint_results)) AS race
        """, [season, season, after_round] * 2).iloc[0]
    if pd.isna(row["sprint"]) or not row["race"]:
        return 0.3
    return float(np.clip(row["sprint"] / row["race"], 0.05, 1.0))


def last_round_with_results(store: Store, season: int) -> int:
    return int(store.scalar("SELECT coalesce(max(round), 0) FROM results WHERE season = ?", [season]) or 0)


def first_replayable_season(config) -> int:
    """The first season whose rounds can all be replayed: its models learn from races before it,
    and the pre-qualifying race model needs a full season of stage 1's walk-forward first. Earlier
    seasons show their final standings only."""
    return max(config.stage1_from, config.pre_stage2_from) + 1


def replay_models(engine, season: int, after_round: int) -> SeasonModels:
    """Stage 1 and the pre-qualifying race model trained only on races before round
    `after_round + 1` of `season`: what a projection made right after `after_round` could use."""
    frame = engine.frame()
    later = frame[(frame["season"] == season) & (frame["round"] > after_round)]
    if later.empty:
        raise ValueError(f"season {season} has no race after round {after_round}")
    cutoff = int(later["race_idx"].min())
    config = engine.config
    done = frame[frame["has_result"]]
    history = engine.lifecycle.stage1_history(frame, config)
    stage1 = train_stage1(done, cutoff, config, with_interval=False)
    pre = train_stage2(stage2_rows(frame, PRE, history), cutoff, PRE, config)
    return SeasonModels(stage1, {PRE: pre}, f"trained before {season} R{after_round + 1}")


def project_season(engine, season: int, after_round: int | None = None, condition: Condition | None = None,
                   n_sims: int = SEASON_SIMS, base: SeasonOutlook | None = None) -> SeasonOutlook:
    """The championship of `season` as of right after `after_round` (default: the last round
    with results). The season in progress is projected with the champion model; a round already
    overtaken by later results is replayed with models trained only on races before it."""
    store = engine.store
    if base is not None:  # a what-if on an outlook already made: only the simulation runs again
        drivers_now, teams_now = standings_after(store, base.season, base.after_round)
        return simulate_season(base.season, base.after_round, base.weekends, drivers_now, teams_now, base.points,
                               base.model_version, n_sims=n_sims,
                               sprint_dnf_ratio=sprint_dnf_ratio(store, base.season, base.after_round),
                               condition=condition)
    last = last_round_with_results(store, season)
    after_round = last if after_round is None else int(after_round)
    if not 0 <= after_round <= last:
        raise ValueError(f"season {season} has results up to round {last}: cannot project after round {after_round}")
    rounds_left = store.scalar("SELECT count(*) FROM races WHERE season = ? AND round > ?", [season, after_round])
    later_results = store.scalar("SELECT count(*) FROM results WHERE season = ? AND round > ?", [season, after_round])
    if rounds_left and not later_results:
        bundle = engine.served_model()
        models = SeasonModels(bundle.stage1, bundle.race_models, bundle.version)
    elif rounds_left:
        models = replay_models(engine, season, after_round)
    else:
        models = SeasonModels(None, {}, "final standings")
    weekends = remaining_weekends(store, engine.frame(), models, season, after_round) if rounds_left else []
    drivers_now, teams_now = standings_after(store, season, after_round)
    return simulate_season(season, after_round, weekends, drivers_now, teams_now,
                           points_system(store, season), models.version, n_sims=n_sims,
                           sprint_dnf_ratio=sprint_dnf_ratio(store, season, after_round), condition=condition)
