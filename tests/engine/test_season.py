"""The season simulation over the real snapshot: points systems, standings, projections that add
up, replays that use only what was known then, what-ifs and clinch scenarios."""
from __future__ import annotations

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
    assert S.points_system(store, 2026, through=0).race == p2025.race  # before its first race: the last system
    assert p2025.weekend_max(sprint=True) == 33 and p2025.weekend_max(sprint=False) == 25


def test_standings_from_results_match_the_official_tables(trained_engine):
    store = trained_engine.store
    for season, rnd in [(2026, 4), (2025, 24), (2021, 10)]:
        drivers, teams = S.standings_after(store, season, rnd)
        official = store.read("SELECT driver_ref, points FROM driver_standings WHERE season = ? AND round = ?",
                              [season, rnd])
        merged = official.merge(drivers, on="driver_ref", suffixes=("_official", ""))
        assert len(merged) == len(official)
        assert np.allclose(merged["points"], merged["points_official"]), (season, rnd)


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
    """2025 as of round 10 comes out the same whether or not the store already holds rounds 11 on."""
    db, _ = engine_paths
    store = Store(shutil.copy(db, tmp_path / "f1.duckdb"))
    forget_outcomes(store, "season = 2025 AND round > 10 OR season = 2026")
    cut = Engine(store, tmp_path / "models", FAST, today=TODAY)

    def projected(engine: Engine) -> S.SeasonOutlook:
        models = S.replay_models(engine, 2025, 10)
        weekends = S.remaining_weekends(engine.store, engine.frame(), models, 2025, 10)
        drivers, teams = S.standings_after(engine.store, 2025, 10)
        return S.simulate_season(2025, 10, weekends, drivers, teams, S.points_system(engine.store, 2025, 10),
                                 "replay", n_sims=SIMS,
                                 sprint_dnf_ratio=S.sprint_dnf_ratio(engine.store, 2025, 10))

    full, blind = projected(trained_engine), projected(cut)
    cols = ["driver_ref", "p_title", "points_expected", "points_p10", "points_p90"]
    pd.testing.assert_frame_equal(full.drivers[cols], blind.drivers[cols])
    store.close()


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


def test_season_checkpoints_are_scored_beside_the_leaders_share(trained_engine):
    assert SB.checkpoints(trained_engine.store, {2025, 2026}) == [(2025, 6), (2025, 12), (2025, 21)]
    row = SB.score(trained_engine, SB.prepare(trained_engine, 2025, 21), n_sims=SIMS)
    assert row["champion"] == "norris" and 0 <= row["p_champion"] <= 1
    assert row["champion_logloss"] == pytest.approx(-np.log(max(row["p_champion"], SB.EPS)))
    assert 0 <= row["band_coverage"] <= 1 and row["drivers"] >= 20
    assert row["baseline_favourite_won"] == 1.0  # Norris led after round 21
