"""The Season page's questions: the calendar (every race of the season, past ones with their
result beside the prediction frozen before them, coming ones with their favourite), the title
odds with names, and the odds through the season. No Streamlit."""
from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from f1core.names import with_driver_labels
from f1core.store import Store
from f1core.views import racecards
from f1core.views.race_review import BACKTEST, LOG, prediction_source

if TYPE_CHECKING:
    from f1core.engine.season import SeasonOutlook
    from f1core.engine.service import Engine


def seasons_to_show(store: Store) -> list[int]:
    """Seasons with at least one result, newest first (a season is only projected once it has begun)."""
    rows = store.read("SELECT DISTINCT season FROM results WHERE season >= 1996 ORDER BY season DESC")
    return [int(s) for s in rows["season"]]


def driver_names(store: Store) -> pd.DataFrame:
    return store.read("SELECT driver_ref, code, driver_name FROM driver_labels")


def team_names(store: Store) -> pd.DataFrame:
    return store.read("SELECT constructor_ref, name AS team_name FROM constructors")


def named(outlook_table: pd.DataFrame, store: Store) -> pd.DataFrame:
    """An outlook's drivers (or constructors) table with codes, names and team names."""
    out = outlook_table.merge(team_names(store), on="constructor_ref", how="left")
    out["team_name"] = out["team_name"].fillna(out["constructor_ref"])
    if "driver_ref" in out:
        out = out.merge(driver_names(store), on="driver_ref", how="left").pipe(with_driver_labels)
    return out


def calendar(engine: Engine, outlook: SeasonOutlook) -> pd.DataFrame:
    """Every race of the outlook's season, in round order: round, name, date, sprint, circuit,
    state ('result', 'no result yet', 'coming'), and
    - for a race with its result: winner (code, name, team), the prediction's favourite, his
      chance, whether he won, and where that prediction came from ('prediction log' = frozen
      before the race, 'backtest' = walk-forward, None);
    - for a race still to come: its favourite, his chance to win, and the three likeliest podium
      finishers with their chances (from the season simulation)."""
    store = engine.store
    season = outlook.season
    races = store.read(
        """
        SELECT r.round, r.name, r.date, r.time, r.sprint_date IS NOT NULL AS sprint, r.circuit_ref,
               coalesce(c.location, c.name) AS place,
               EXISTS (SELECT 1 FROM results x WHERE x.season = r.season AND x.round = r.round) AS has_result
        FROM races r LEFT JOIN circuits c USING (circuit_ref)
        WHERE r.season = ? ORDER BY r.round
        """, [season])
    labels = driver_names(store).set_index("driver_ref")
    chances = outlook.race_chances
    rows = []
    for race in races.itertuples(index=False):
        row = {"round": int(race.round), "name": race.name, "date": race.date, "sprint": bool(race.sprint),
               "place": race.place, "circuit_ref": race.circuit_ref}
        if race.has_result and race.round <= outlook.after_round:
            source = prediction_source(engine, season, int(race.round))
            call = racecards.race_call(store, season, int(race.round), source.predictions) if source.kind else None
            top = racecards.podium(store, season, int(race.round))
            winner = top.iloc[0] if not top.empty else None
            row.update(state="result",
                       winner=winner["code"] if winner is not None else None,
                       winner_name=winner["driver_name"] if winner is not None else None,
                       winner_team=winner["constructor_ref"] if winner is not None else None,
                       favourite=call.favourite_code if call else None,
                       p_win=call.favourite_p_win if call else None,
                       called=call.called if call else None,
                       source={LOG: "frozen before the race", BACKTEST: "walk-forward backtest"}.get(source.kind))
            if race.sprint:
                won = store.read("SELECT driver_ref FROM sprint_results WHERE season = ? AND round = ? "
                                 "AND position_order = 1", [season, int(race.round)])
                if not won.empty:
                    row["sprint_winner"] = labels["code"].get(won.iloc[0, 0], won.iloc[0, 0])
        else:
            here = chances[chances["round"] == race.round]
            if here.empty:
                row.update(state="no result yet" if race.has_result or pd.Timestamp(race.date).date() < engine.today()
                           else "coming")
            else:
                top = here.sort_values("p_podium", ascending=False).head(3)
                fav = here.sort_values("p_win", ascending=False).iloc[0]
                code = lambda d: labels["code"].get(d, d)  # noqa: E731
                row.update(state="coming", favourite=code(fav["driver_ref"]), p_win=float(fav["p_win"]),
                           favourite_team=fav["constructor_ref"],
                           podium=", ".join(f"{code(d)} {p:.0%}" for d, p in zip(top["driver_ref"], top["p_podium"])))
                if race.sprint and int(race.round) == int(chances["round"].min()) and outlook.model_version == (
                        engine.registry.champion_version()):
                    sprint = engine.predict_sprint(season, int(race.round)).favourite
                    row.update(sprint_favourite=sprint["code"], sprint_p_win=float(sprint["p_win"]))
        rows.append(row)
    return pd.DataFrame(rows)


def title_history(engine: Engine, season: int, kind: str = "driver", top: int = 6) -> pd.DataFrame:
    """The title odds after every round kept for `season` for its main contenders (the `top`
    highest chances at any point): after_round, ref, p_title, source."""
    odds = engine.records.season_odds(season, kind)
    if odds.empty:
        return odds
    contenders = odds.groupby("ref")["p_title"].max().sort_values(ascending=False).head(top).index
    return odds[odds["ref"].isin(contenders)].sort_values(["after_round", "p_title"], ascending=[True, False])


def title_track_record(per_checkpoint: pd.DataFrame | None, after_round: int, rounds: int) -> str | None:
    """How the title odds have done at the point of past seasons nearest to right after
    `after_round` of `rounds` (the championship replay's stages, `season_backtest.STAGES`), in
    plain words; None without a replay of that stage."""
    from f1core.engine.season_backtest import LATE_STAGE, STAGES, stage_groups

    if per_checkpoint is None or per_checkpoint.empty:
        return None
    stages = {**STAGES, rounds - 3: LATE_STAGE} if rounds > 3 else dict(STAGES)
    stage = stages[min(stages, key=lambda r: (abs(r - after_round), r))]
    rows = stage_groups(per_checkpoint)[stage]
    if rows.empty:
        return None
    n, model, leader = len(rows), int(rows["favourite_won"].sum()), int(rows["baseline_favourite_won"].sum())
    span = f"{int(rows['season'].min())}–{int(rows['season'].max())}" if n > 1 else str(int(rows["season"].iloc[0]))
    who = "last season's points leader" if stage == STAGES[0] else "the points leader"
    return (f"How far to trust these odds: replayed {stage} in {span}, the title favourite became champion in "
            f"{model} of {n} seasons ({who}: {leader} of {n}).")


def favourite_behind_leader(table: pd.DataFrame, name: str, weekends_left: int, short: str | None = None) -> str | None:
    """Why the title favourite is not the one leading the table, in plain words, from a named
    outlook table (`named`; `name` is its column of names, `short` of the shorter ones used the
    second time, such as codes); None when the favourite leads (or shares the lead) or the season
    is over."""
    if table.empty or weekends_left <= 0:
        return None
    favourite = table.loc[table["p_title"].idxmax()]
    leader = table.loc[table["points_now"].idxmax()]
    gap = float(leader["points_now"] - favourite["points_now"])
    if gap <= 0:
        return None
    gain_fav = float(favourite["points_expected"] - favourite["points_now"])
    gain_lead = float(leader["points_expected"] - leader["points_now"])
    again = short or name
    return (f"{favourite[name]} is the title favourite though {leader[name]} leads by {gap:g} points: in the "
            f"{weekends_left} weekends left the simulations have {favourite[again]} scoring {gain_fav:.0f} more "
            f"points on average and {leader[again]} {gain_lead:.0f}.")
