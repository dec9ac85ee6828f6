"""Season-aware ratings on the real snapshot: after 2026 round 4 (a regulation change) the field
must look like the season, not like last year's cars."""
import numpy as np
import pytest

from f1core.engine.features import build_frame
from f1core.engine.ratings import latest_ratings, rating_order_check, ratings_as_of


@pytest.fixture(scope="module")
def frame(snapshot_db):
    from f1core.store import Store

    store = Store(snapshot_db, read_only=True)
    try:
        yield build_frame(store)
    finally:
        store.close()


@pytest.fixture(scope="module")
def after_round_4(frame):
    return ratings_as_of(frame, 2026, 4)


def test_ratings_after_a_regulation_change_look_like_the_season(frame, after_round_4, snapshot_db):
    from f1core.store import Store

    latest = after_round_4[after_round_4["round"] == 4].set_index("driver_ref")
    order = list(latest.sort_values("rank").index)
    # the championship leader (three wins in four) is near the top
    assert latest.loc["antonelli", "rank"] <= 3, order
    # the two slowest cars of the season so far fill the bottom
    slowest = {"aston_martin", "cadillac"}
    bottom = latest.sort_values("rank").tail(4)
    assert set(bottom["constructor_ref"]) == slowest, order
    # the Elo complaint: a pointless driver in the slowest car sits below the leader
    assert latest.loc["perez", "strength"] < latest.loc["antonelli", "strength"]
    # and the order broadly follows the drivers' table
    store = Store(snapshot_db, read_only=True)
    points = store.read("SELECT driver_ref, sum(points) AS points FROM results WHERE season = 2026 GROUP BY 1")
    store.close()
    assert rating_order_check(latest.reset_index(), points.set_index("driver_ref")["points"]) > 0.7


def test_rule_change_shrinks_what_the_cars_did_before(frame):
    """Going into 2026 R1 the cars that raced in 2025 are rated much closer together (and less
    certainly) than after 2025's last race; across an ordinary winter (2024 to 2025) less so."""
    def cars(season, round_):
        rows = frame[(frame["season"] == season) & (frame["round"] == round_)]
        return rows.drop_duplicates("team").set_index("team")[["rt_q_car", "rt_q_car_sd"]]

    def last(season):
        return int(frame[frame["season"] == season]["round"].max())

    def shrink(season):
        before, after = cars(season - 1, last(season - 1)), cars(season, 1)
        both = before.index.intersection(after.index)
        return after.loc[both, "rt_q_car"].std() / before.loc[both, "rt_q_car"].std(), both

    rule_change, teams = shrink(2026)
    ordinary, _ = shrink(2025)
    assert len(teams) >= 9
    assert rule_change < 0.5 < ordinary
    assert cars(2026, 1).loc[teams, "rt_q_car_sd"].mean() > 1.5 * cars(2025, last(2025)).loc[teams, "rt_q_car_sd"].mean()


def test_ratings_history_for_the_chart(after_round_4):
    assert sorted(after_round_4["round"].unique()) == [1, 2, 3, 4]
    for _, race in after_round_4.groupby("round"):
        assert sorted(race["rank"]) == list(range(1, len(race) + 1))
        assert race["car_pace_pct"].min() == pytest.approx(0)
        assert np.isclose(race["strength"], race["car_rating"] + race["driver_rating"]).all()
    assert {"driver_ref", "constructor_ref", "car_pace_pct", "driver_quali_pct", "driver_race", "car_rating",
            "driver_rating", "strength"} <= set(after_round_4.columns)


def test_teammates_share_their_car(after_round_4):
    latest = after_round_4[after_round_4["round"] == 4]
    per_team = latest.groupby("team")["car_pace_pct"].nunique()
    assert (per_team == 1).all()


def test_latest_ratings_is_the_last_race_with_results(frame):
    latest = latest_ratings(frame)
    assert set(latest["round"]) == {4} and set(latest["season"]) == {2026}
