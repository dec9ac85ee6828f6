import numpy as np
import pandas as pd
import pytest

from f1core.engine.features import FEATURES, build_frame, race_rows
from tests.conftest import forget_outcomes

LEAK_RACE = (2024, 10)


def test_every_declared_feature_is_built_and_described(snapshot_store):
    frame = build_frame(snapshot_store)
    for feature in FEATURES:
        assert feature.name in frame.columns, feature.name
        assert len(feature.description) > 15
    for feature in FEATURES:  # every declared feature feeds a model
        assert feature.stage1 or feature.stage2, feature.name
    names = [f.name for f in FEATURES]
    assert len(set(names)) == len(names)  # declared once
    assert frame[names].select_dtypes(exclude="number").empty


def test_features_of_a_race_do_not_see_later_races(snapshot_store):
    """The leakage test: cut every result, qualifying, sprint and weather row dated after the race;
    its features must not change by a single bit."""
    full = race_rows(build_frame(snapshot_store), *LEAK_RACE).set_index("driver_ref")
    date = snapshot_store.race(*LEAK_RACE).date
    forget_outcomes(snapshot_store, "(season, round) IN (SELECT season, round FROM races WHERE date > ?)", [date])
    cut = race_rows(build_frame(snapshot_store), *LEAK_RACE).set_index("driver_ref")
    assert len(full) == len(cut) > 15
    columns = [f.name for f in FEATURES] + ["finish", "dnf", "quali_gap_pct", "pole_s", "rt_q_car_after", "rt_r_drv_after"]
    pd.testing.assert_frame_equal(full.loc[cut.index, columns], cut[columns])


@pytest.mark.parametrize("season, round_", [(2025, 13), (2019, 10)])
def test_a_race_weekends_inputs_do_not_see_its_own_result(snapshot_store, season, round_):
    """With a race's finishing order turned upside down, no input of stage 1 or of the race model
    for that race moves by a single bit. The 2025 Belgian GP is a sprint weekend whose shootout
    counts in the expected qualifying gap: the shootout once gave each driver the gap of his
    finishing place instead of his shootout one."""
    before = race_rows(build_frame(snapshot_store), season, round_).set_index("driver_ref").sort_index()
    with snapshot_store.transaction() as cur:
        cur.execute("""UPDATE results SET position_order = 1 + (SELECT count(*) FROM results r
                           WHERE r.season = ? AND r.round = ?) - position_order, position = NULL
                       WHERE season = ? AND round = ?""", [season, round_, season, round_])
    after = race_rows(build_frame(snapshot_store), season, round_).set_index("driver_ref").sort_index()
    assert not after["position_order"].equals(before["position_order"])  # the order did change
    inputs = [f.name for f in FEATURES] + ["exp_quali_gap_ratings"]  # the latter: the season projection's
    pd.testing.assert_frame_equal(before[inputs], after[inputs], check_exact=True)
    if before["sprint_quali_pos"].isna().all():
        return
    # the shootout's order is the order of its part of the expected gap
    shootout = before["sprint_quali_pos"].rank(method="first")
    implied = (before["exp_quali_gap"] - 0.5 * before["exp_quali_gap_ratings"]) / 0.5
    assert (implied.rank(method="first") == shootout).all()


def test_upcoming_race_uses_latest_lineups(snapshot_store):
    frame = build_frame(snapshot_store)
    rows = race_rows(frame, 2026, 5)
    last = race_rows(frame, 2026, 4)
    assert not rows["has_result"].any()
    assert set(rows["driver_ref"]) == set(last["driver_ref"])
    # form carries over from the last race, the outcome is unknown
    assert rows["drv_elo"].notna().all() and rows["finish"].isna().all()


def test_pit_lane_start_goes_to_the_back(snapshot_store):
    frame = build_frame(snapshot_store)
    pit = frame[frame["pit_lane_start"] == 1]
    assert len(pit) > 10
    sizes = frame.groupby("race_idx")["driver_ref"].transform("size")
    assert (pit["grid"] == sizes.loc[pit.index]).all()


def test_rookie_has_no_driver_history_but_a_team(snapshot_store):
    frame = build_frame(snapshot_store)
    debut = frame[(frame["driver_ref"] == "arvid_lindblad")].iloc[0]
    assert debut["drv_starts"] == 0 and np.isnan(debut["drv_finish_ewm"])
    assert np.isfinite(debut["team_elo"]) and np.isfinite(debut["team_qgap_ewm"])


def test_a_renamed_or_sold_team_keeps_its_history_and_only_new_teams_start_blank(snapshot_store):
    """A team with no form looks new to the models. Brawn (Honda's factory) once did, so "no team
    form" meant the 2009 champions and a 2010 replay made the new Lotus team title favourite."""
    frame = build_frame(snapshot_store)
    debuts = frame[frame["season"] >= 2003].sort_values("race_idx").drop_duplicates("constructor_ref")
    debuts = debuts[debuts["race_idx"] > frame.loc[frame["season"] >= 2003, "race_idx"].min()]
    blank = set(debuts.loc[debuts["team_points_ewm"].isna(), "constructor_ref"])
    assert blank == {"super_aguri", "lotus_racing", "virgin", "hrt", "haas", "cadillac"}
    first = debuts.set_index("constructor_ref")
    # the car goes on from the factory's last one: Brawn's 2009 pace, not a newcomer's, for Mercedes
    mercedes = frame[(frame["season"] == 2010) & (frame["round"] == 1)].set_index("constructor_ref")
    assert mercedes.loc["mercedes", "car_pace"].max() < mercedes["car_pace"].median()
    assert first.loc["brawn", "team_qgap_ewm"] > 0.5  # Honda's slow 2008 car was what was known
    button = frame[(frame["driver_ref"] == "button") & (frame["season"] == 2009) & (frame["round"] == 1)].iloc[0]
    assert button["drv_team_races"] > 50  # with the same team since 2003 (BAR, Honda)


def test_rows_of_a_race_never_follow_its_result(snapshot_store):
    """Ties broken by row order must not see who finished ahead: in 2024 São Paulo Verstappen (the
    winner) and Hülkenberg both start 17th; the grid baseline gives them the same slot's chances
    only because rows go by driver, and Hülkenberg comes first."""
    from f1core.engine.baselines import baseline_fields, position_tables
    from f1core.engine.training import POST

    frame = build_frame(snapshot_store)
    assert frame.groupby("race_idx", sort=False)["driver_ref"].apply(lambda s: s.is_monotonic_increasing).all()
    race = race_rows(frame, 2024, 21)
    race = race[race["started"]]
    tied = race[race["grid"] == 17]["driver_ref"].tolist()
    assert tied == ["hulkenberg", "max_verstappen"]
    history = frame[frame["has_result"] & (frame["race_idx"] < race["race_idx"].iloc[0])]
    grid = baseline_fields(race, position_tables(history), 0.1, POST)["grid"].set_index("driver_ref")
    assert grid.loc["hulkenberg", "p_win"] > grid.loc["max_verstappen", "p_win"]  # the slot's rank went by name


def test_a_car_that_set_no_qualifying_time_is_still_in_the_race(snapshot_store):
    # 2026 Australia after qualifying, before the race: Verstappen, Sainz and Stroll set no time
    with snapshot_store.transaction() as cur:
        cur.execute("DELETE FROM results WHERE season = 2026 AND round = 1")
    rows = race_rows(build_frame(snapshot_store), 2026, 1)
    assert not rows["has_result"].any()
    assert sorted(rows.loc[rows["quali_position"].isna(), "driver_ref"]) == ["max_verstappen", "sainz", "stroll"]
    assert len(rows) == 22 and rows["driver_ref"].is_unique
    assert (rows.groupby("constructor_ref").size() == 2).all()


def test_a_driver_in_for_the_weekend_races_in_place_of_the_one_he_replaced(snapshot_store):
    # Miami 2026 between its sprint and qualifying, with a stand-in in Stroll's car in the sprint
    with snapshot_store.transaction() as cur:
        for table in ("results", "qualifying"):
            cur.execute(f"DELETE FROM {table} WHERE season = 2026 AND round = 4")
        cur.execute("UPDATE sprint_results SET driver_ref = 'vettel' "
                    "WHERE season = 2026 AND round = 4 AND driver_ref = 'stroll'")
    rows = race_rows(build_frame(snapshot_store), 2026, 4).set_index("driver_ref")
    assert "vettel" in rows.index and "stroll" not in rows.index
    assert rows.loc["vettel", "constructor_ref"] == "aston_martin"
    assert rows["sprint_position"].notna().all()  # every car of the field ran the sprint
