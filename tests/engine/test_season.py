"""The season simulation over the real snapshot: points systems, standings, projections that add
up, replays that use only what was known then, what-ifs and clinch scenarios."""
from __future__ import annotations

import dataclasses
import shutil

import numpy as np
import pandas as pd
import pytest

from f1core.engine import season as S
from f1core.engine import season_backtest as SB
from f1core.engine.service import Engine
from f1core.store import Store
from tests.conftest import forget_outcomes
from tests.engine.conftest import FAST, TODAY

SIMS = 2000  # behaviour, not precision


def test_points_systems_come_from_the_seasons_own_results(trained_engine):
    store = trained_engine.store
    assert S.points_system(store, 2008).race == (10, 8, 6, 5, 4, 3, 2, 1)
    assert S.points_system(store, 2008).sprint == ()
    p2025 = S.points_system(store, 2025)
    assert p2025.race == (25, 18, 15, 12, 10, 8, 6, 4, 2, 1) and p2025.sprint == (8, 7, 6, 5, 4, 3, 2, 1)
    assert S.points_system(store, 2021).sprint == (3, 2, 1)
    # a replay reads the rules from the whole season: 2009 after round 2 (Malaysia gave half points),
    # 2022 after round 1 (its winner had the fastest-lap point too)
    assert S.points_system(store, 2009).race == (10, 8, 6, 5, 4, 3, 2, 1)
    assert S.points_system(store, 2022).race[0] == 25 and S.points_system(store, 2022).sprint == (8, 7, 6, 5, 4, 3, 2, 1)
    # a season with no result yet: the latest system, without that season's special rounds
    new = S.points_system(store, 2027)
    assert new.race == p2025.race and new.sprint == p2025.sprint and new.race_rounds == ()
    assert S.points_system(store, 2015).race_rounds == ()
    assert p2025.weekend_max(sprint=True) == 33 and p2025.weekend_max(sprint=False) == 25
    # what the rules added: 2014's double-points finale, the fastest-lap point of 2019-2024
    p2014, p2021 = S.points_system(store, 2014), S.points_system(store, 2021)
    assert p2014.race_rounds == ((19, (50, 36, 30, 24, 20, 16, 12, 8, 4, 2)),) and p2014.fastest_lap == 0
    assert p2014.weekend_max(False, 19) == 50 and p2014.weekend_max(False, 18) == 25
    assert p2021.fastest_lap == 1 and p2021.weekend_max(False, 21) == 26 and p2021.race_rounds == ()
    assert p2025.fastest_lap == 0 and S.points_system(store, 2009).race_rounds == ()  # half points are an outcome


def test_the_2014_finale_counts_double_in_the_title_fight(trained_engine):
    """As of 2014 round 17 Hamilton led Rosberg by 24 with 75 points left (25 in Brazil, 50 in Abu
    Dhabi): he could not clinch in Brazil, and Rosberg kept a real chance."""
    store = trained_engine.store
    drivers, teams = S.standings_after(store, 2014, 17)
    field = store.read("SELECT driver_ref, constructor_ref FROM results WHERE season = 2014 AND round = 18 "
                       "ORDER BY driver_ref")
    races = store.read("SELECT round, name, date FROM races WHERE season = 2014 AND round > 17 ORDER BY round")
    fast = {"hamilton": 3.0, "rosberg": 3.0}  # two cars far ahead of the rest, as that season
    strength = field["driver_ref"].map(fast).fillna(0.0).to_numpy()
    weekends = [S.Weekend(2014, int(r.round), r.name, r.date, False, field["driver_ref"].to_numpy(),
                          field["constructor_ref"].to_numpy(), strength, np.zeros(len(field)), "pre-qualifying")
                for r in races.itertuples(index=False)]
    points = S.points_system(store, 2014)
    o = S.simulate_season(2014, 17, weekends, drivers, teams, points, "test", n_sims=SIMS)
    assert o.max_points_left == 75
    assert "Lewis Hamilton cannot clinch" in S.clinch_words(o, {"hamilton": "Lewis Hamilton", "rosberg": "Nico Rosberg"})
    usual = S.simulate_season(2014, 17, weekends, drivers, teams, dataclasses.replace(points, race_rounds=()),
                              "test", n_sims=SIMS)
    rosberg = o.drivers.set_index("driver_ref")["p_title"]["rosberg"]
    assert rosberg > 0.05 and rosberg > 2 * usual.drivers.set_index("driver_ref")["p_title"]["rosberg"]


def test_the_fastest_lap_point_scores_only_inside_the_top_ten(trained_engine):
    """2021's last race: 101 points for the top ten and one for the fastest lap, when its driver
    finishes in the top ten. In an even field the fastest lap is as often set further back and
    nobody scores it; with two cars far ahead, it is nearly always theirs."""
    store = trained_engine.store
    drivers, teams = S.standings_after(store, 2021, 21)
    field = store.read("SELECT driver_ref, constructor_ref FROM results WHERE season = 2021 AND round = 22 "
                       "ORDER BY driver_ref")
    race = store.read("SELECT round, name, date FROM races WHERE season = 2021 AND round = 22").iloc[0]
    points = S.points_system(store, 2021)
    assert points.fastest_lap == 1

    def outlook(strength: np.ndarray, condition=None) -> S.SeasonOutlook:
        weekend = S.Weekend(2021, 22, race["name"], race["date"], False, field["driver_ref"].to_numpy(),
                            field["constructor_ref"].to_numpy(), strength, np.zeros(len(field)), "pre-qualifying")
        return S.simulate_season(2021, 21, [weekend], drivers, teams, points, "test", n_sims=SIMS, condition=condition)

    def points_scored(strength: np.ndarray) -> float:
        o = outlook(strength)
        return float(o.drivers["points_expected"].sum() - o.drivers["points_now"].sum())

    even = points_scored(np.zeros(len(field)))
    assert 101 + 0.35 < even < 101 + 0.65  # 10 of the 20 cars can score it
    ahead = points_scored(field["driver_ref"].map({"hamilton": 6.0, "max_verstappen": 6.0}).fillna(0.0).to_numpy())
    assert ahead > 101 + 0.95
    # what if Verstappen wins: he gets the 25, not the fastest lap with it every time (Hamilton's
    # car is as fast)
    level = field["driver_ref"].map({"hamilton": 6.0, "max_verstappen": 6.0}).fillna(0.0).to_numpy()
    won = outlook(level, S.Condition(22, ("max_verstappen",))).drivers.set_index("driver_ref")
    gained = won["points_expected"] - won["points_now"]
    assert 25.3 < gained["max_verstappen"] < 25.7 and 0.3 < gained["hamilton"] - 18 < 0.7


def test_standings_from_results_match_the_official_tables(trained_engine):
    store = trained_engine.store
    for season, rnd in [(2026, 4), (2025, 24), (2021, 10)]:
        drivers, teams = S.standings_after(store, season, rnd)
        official = store.read("SELECT driver_ref, points FROM driver_standings WHERE season = ? AND round = ?",
                              [season, rnd])
        merged = official.merge(drivers, on="driver_ref", suffixes=("_official", ""))
        assert len(merged) == len(official)
        assert np.allclose(merged["points"], merged["points_official"]), (season, rnd)


def test_a_finished_season_ends_as_the_official_tables_say(trained_engine):
    """Exclusions and count-back: 2007's McLaren and 1997's Schumacher were excluded, Hamilton beat
    Alonso to second on the same points and wins."""
    o2007 = S.project_season(trained_engine, 2007, n_sims=SIMS)
    teams = o2007.constructors
    assert teams.iloc[0]["constructor_ref"] == "ferrari" and teams.iloc[0]["p_title"] == 1
    assert teams.iloc[-1]["constructor_ref"] == "mclaren" and teams.iloc[-1]["excluded"]
    assert list(o2007.drivers["driver_ref"][:3]) == ["raikkonen", "hamilton", "alonso"]
    o1997 = S.project_season(trained_engine, 1997, n_sims=SIMS).drivers
    assert list(o1997["driver_ref"][:2]) == ["villeneuve", "frentzen"]
    assert o1997.iloc[-1]["driver_ref"] == "michael_schumacher" and o1997.iloc[-1]["p_title"] == 0


def test_the_season_in_progress_adds_up(trained_engine):
    o = trained_engine.season_outlook(2026)
    assert o.after_round == 4 and o.model_version == trained_engine.registry.champion_version()
    assert o.drivers["p_title"].sum() == pytest.approx(1) and o.constructors["p_title"].sum() == pytest.approx(1)
    d = o.drivers
    assert (d["points_p10"] <= d["points_expected"] + 1e-9).all() and (d["points_expected"] <= d["points_p90"] + 1e-9).all()
    assert (d["points_p10"] >= d["points_now"]).all()
    assert np.allclose(o.driver_positions.sum(axis=1), 1) and np.allclose(o.driver_positions.sum(axis=0), 1)
    sprints = set(trained_engine.store.read("SELECT round FROM races WHERE season = 2026 AND round > 4 "
                                            "AND sprint_date IS NOT NULL")["round"])
    assert list(o.remaining["round"]) == list(range(5, 23)) and set(o.remaining[o.remaining["sprint"]]["round"]) == sprints
    # a team's expected points are its drivers' (each car scores for the team it drives for)
    by_team = d.groupby("constructor_ref")["points_expected"].sum()
    teams = o.constructors.set_index("constructor_ref")["points_expected"]
    assert np.allclose(by_team.reindex(teams.index).fillna(0), teams, atol=1.0)
    chances = o.race_chances.groupby("round")[["p_win", "p_podium"]].sum()
    assert np.allclose(chances["p_win"], 1) and np.allclose(chances["p_podium"], 3)
    assert trained_engine.season_outlook(2026) is o  # kept for the data and champion


def test_a_replay_uses_only_what_was_known_after_its_round(engine_paths, tmp_path, trained_engine):
    """2025 as of round 12 comes out the same whether or not the store already holds rounds 13 on
    (round 13, Spa, had a sprint shootout: it was once carried into every projected weekend)."""
    db, _ = engine_paths
    store = Store(shutil.copy(db, tmp_path / "f1.duckdb"))
    forget_outcomes(store, "season = 2025 AND round > 12 OR season = 2026")
    cut = Engine(store, tmp_path / "models", FAST, today=TODAY)

    def projected(engine: Engine) -> S.SeasonOutlook:
        models = S.replay_models(engine, 2025, 12)
        weekends = S.remaining_weekends(engine.store, engine.frame(), models, 2025, 12)
        drivers, teams = S.standings_after(engine.store, 2025, 12)
        return S.simulate_season(2025, 12, weekends, drivers, teams, S.points_system(engine.store, 2025),
                                 "replay", n_sims=SIMS,
                                 sprint_dnf_ratio=S.sprint_dnf_ratio(engine.store, 2025, 12))

    full, blind = projected(trained_engine), projected(cut)
    cols = ["driver_ref", "p_title", "points_expected", "points_p10", "points_p90"]
    pd.testing.assert_frame_equal(full.drivers[cols], blind.drivers[cols])
    store.close()


def test_only_the_next_weekend_keeps_its_sprint_shootout(trained_engine):
    """The season in progress, as on a Saturday in Montreal once the shootout has run: that
    weekend's shootout counts in its expected qualifying gaps, and no later weekend inherits it."""
    frame = trained_engine.frame().copy()
    canada = (frame["season"] == 2026) & (frame["round"] == 5)
    frame.loc[canada, "sprint_quali_pos"] = frame.loc[canada, "sprint_grid"] = np.arange(1, canada.sum() + 1)
    frame.loc[canada, "exp_quali_gap"] = frame.loc[canada, "exp_quali_gap_ratings"] + 0.25
    weekends = S.weekend_rows(frame, 2026, 4)
    assert weekends[5]["sprint_quali_pos"].notna().all()
    np.testing.assert_allclose(weekends[5]["exp_quali_gap"], weekends[5]["exp_quali_gap_ratings"] + 0.25)
    for later in (6, 9, 22):  # 9: Silverstone, a sprint weekend of its own
        assert weekends[later]["sprint_quali_pos"].isna().all()
        np.testing.assert_allclose(weekends[later]["exp_quali_gap"], weekends[later]["exp_quali_gap_ratings"])


def test_a_sprint_already_run_counts_in_the_standings_and_is_not_run_again(engine_paths, tmp_path, trained_engine):
    """Saturday night in Montreal: the sprint has results, the race has none. Its points are in
    the standings now and the simulation does not hand them out a second time."""
    db, models = engine_paths
    store = Store(shutil.copy(db, tmp_path / "f1.duckdb"))
    engine = Engine(store, shutil.copytree(models, tmp_path / "models"), FAST, today=TODAY)
    before = S.project_season(engine, 2026, n_sims=SIMS)
    with store.transaction() as cur:  # Miami's sprint order stands in for Montreal's
        cur.execute("INSERT INTO sprint_results SELECT * REPLACE (5 AS round) FROM sprint_results "
                    "WHERE season = 2026 AND round = 4")
    sprint = store.read("SELECT driver_ref, points FROM sprint_results WHERE season = 2026 AND round = 5")
    assert sprint["points"].sum() > 0
    after = S.project_season(engine, 2026, n_sims=SIMS)
    now = after.drivers.set_index("driver_ref")["points_now"]
    was = before.drivers.set_index("driver_ref")["points_now"]
    gained = sprint.set_index("driver_ref")["points"].reindex(now.index).fillna(0)
    pd.testing.assert_series_equal(now, was.reindex(now.index) + gained, check_names=False)
    assert not after.remaining.set_index("round").loc[5, "sprint"]  # only the race is left there
    assert after.max_points_left == pytest.approx(before.max_points_left - sprint["points"].max())
    assert after.after_round == 4  # the weekend is still the next one
    store.close()


def test_a_circuit_visited_twice_after_the_checkpoint_is_read_as_of_the_first_visit(trained_engine):
    """2021 as of round 6: Austria hosted rounds 8 and 9. Round 9's own circuit history holds round
    8's result, which had not happened at the checkpoint; the projection reads both as of round 8."""
    frame = trained_engine.frame()
    weekends = S.weekend_rows(frame, 2021, 6)
    r8 = weekends[8].set_index("driver_ref")
    r9 = weekends[9].set_index("driver_ref")
    for col in ("drv_circuit_finish", "circuit_dnf_rate"):
        pd.testing.assert_series_equal(r8[col], r9[col])
    own = frame[(frame["season"] == 2021) & (frame["round"] == 9)].set_index("driver_ref")["drv_circuit_finish"]
    assert own["hamilton"] != r9.loc["hamilton", "drv_circuit_finish"]  # the frame's round 9 did see round 8


def test_a_what_if_on_the_next_race_moves_the_title_odds(trained_engine):
    base = trained_engine.season_outlook(2025, 21)
    second = base.drivers.iloc[1]["driver_ref"]
    forced = trained_engine.season_outlook(2025, 21, S.Condition(22, (second,)))
    before = base.drivers.set_index("driver_ref")
    after = forced.drivers.set_index("driver_ref")
    assert after.loc[second, "p_title"] > before.loc[second, "p_title"]
    assert after.loc[second, "points_p10"] >= before.loc[second, "points_now"] + 25
    assert (forced.race_chances.query("round == 22").set_index("driver_ref")["p_win"][second]) == 1.0
    assert after["p_title"].sum() == pytest.approx(1)


def test_clinch_in_plain_words(trained_engine):
    # 2023: Verstappen led by 177 points after Japan and clinched at the Qatar sprint
    o = trained_engine.season_outlook(2023, 16)
    names = {"max_verstappen": "Max Verstappen", "perez": "Sergio Pérez"}
    words = S.clinch_words(o, names)
    assert words.startswith("Max Verstappen can clinch the title at the Qatar Grand Prix (a sprint weekend)")
    assert float(o.clinch_next.set_index("driver_ref").loc["max_verstappen", "p_clinch"]) > 0.9
    early = S.clinch_words(trained_engine.season_outlook(2026, 4), {})
    assert "cannot clinch the title at the Canadian Grand Prix (a sprint weekend)" in early
    assert S.clinch_words(trained_engine.season_outlook(2025, 24), names) is None  # the season is over
    before = S.clinch_words(trained_engine.season_outlook(2026, 0), {})  # everyone on 0 points
    assert before.startswith("Nobody can clinch the title at the Australian Grand Prix") and "leads" not in before


def test_season_checkpoints_are_scored_beside_the_leaders_share(trained_engine):
    assert SB.checkpoints(trained_engine.store, {2025, 2026}) == [(2025, 0), (2025, 6), (2025, 12), (2025, 21)]
    row = SB.score(trained_engine, SB.prepare(trained_engine, 2025, 21), n_sims=SIMS)
    assert row["champion"] == "norris" and 0 <= row["p_champion"] <= 1
    assert row["champion_logloss"] == pytest.approx(-np.log(max(row["p_champion"], SB.EPS)))
    assert 0 <= row["band_coverage"] <= 1 and row["drivers"] >= 20
    assert row["baseline_favourite_won"] == 1.0  # Norris led after round 21


def test_checkpoints_replayed_side_by_side_score_as_one_at_a_time(trained_engine, monkeypatch):
    """The replay trains its checkpoints' models on threads: the rows come out the same, in order."""
    from f1core.engine import training

    monkeypatch.setattr(training, "WORKERS", 2)
    both = SB.season_backtest(trained_engine, [2025], n_sims=SIMS)
    monkeypatch.setattr(training, "WORKERS", 1)
    one = SB.season_backtest(trained_engine, [2025], n_sims=SIMS)
    assert list(zip(both["season"], both["after_round"])) == [(2025, 0), (2025, 6), (2025, 12), (2025, 21)]
    pd.testing.assert_frame_equal(both, one)


def test_before_the_first_race_the_baseline_is_last_seasons_points(trained_engine):
    """Nobody has points before 2025's first race: the baseline shares out 2024's, so its
    champion Verstappen is its favourite (Norris, second in 2024, won 2025); a rookie such as
    Antonelli, with no points last season, gets none."""
    replay = SB.prepare(trained_engine, 2025, 0)
    assert replay.drivers_now["points"].sum() == 0
    row = SB.score(trained_engine, replay, n_sims=SIMS)
    assert row["champion"] == "norris" and row["baseline_favourite_won"] == 0.0
    share = SB.baseline_share(replay, pd.Index(["max_verstappen", "norris", "antonelli"]))
    assert share.idxmax() == "max_verstappen" and share["antonelli"] == 0
    assert 0.1 < row["baseline_p_champion"] < share["max_verstappen"]
    assert 0 < row["p_champion"] < 1 and row["drivers"] >= 20
    stages = SB.stage_groups(pd.DataFrame({"after_round": [0, 6, 12, 21]}))
    assert [len(g) for g in stages.values()] == [1, 1, 1, 1] and list(stages)[0] == "before the season"


def test_constructors_points_are_the_official_tables(trained_engine):
    """2020: Racing Point lost 15 points for its brake ducts, so McLaren was third; 2018: Force
    India's first 59 points stayed with the old team, which ended seventh."""
    store = trained_engine.store
    _, teams = S.standings_after(store, 2020, 17)
    teams = teams.set_index("constructor_ref")
    assert teams.loc["racing_point", "points"] == 195 and teams.loc["mclaren", "points"] == 202
    _, teams = S.standings_after(store, 2018, 21)
    assert teams.set_index("constructor_ref").loc["force_india", "points"] == 52


def test_the_checkpoints_summary_gives_a_share_wilsons_interval():
    """Twelve title favourites of twelve became champion (2022-2025): not certainty, an interval."""
    per = pd.DataFrame({"season": np.repeat([2022, 2023, 2024, 2025], 3), **{
        col: 1.0 for m in SB.CHECKPOINT_METRICS for col in (m, f"baseline_{m}")}})
    summary = SB.summarise(per).set_index(["group", "predictor", "metric"])
    won = summary.loc[("all", "model", "favourite_won")]
    assert won["value"] == won["hi"] == 1.0 and 0.8 < won["lo"] < 0.83  # Wilson's 90% for 12 of 12
    brier = summary.loc[("all", "model", "champion_brier")]
    assert brier["lo"] == brier["hi"] == 1.0  # any other metric: the bootstrap, of no width here
