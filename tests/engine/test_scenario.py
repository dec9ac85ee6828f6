import pandas as pd
import pytest

from f1core.engine.scenario import Scenario, ScenarioError, apply_scenario


@pytest.fixture
def rows():
    return pd.DataFrame({"driver_ref": ["a", "b", "c", "d"], "grid": [1.0, 2.0, 3.0, 4.0],
                         "pit_lane_start": [0.0, 0.0, 0.0, 1.0], "rain": [0.0] * 4,
                         "air_temp": [20.0] * 4, "track_temp": [30.0] * 4})


def test_moving_a_driver_shifts_the_cars_between(rows):
    out = apply_scenario(rows, Scenario().with_slot("d", 2))
    assert dict(zip(out.driver_ref, out.grid)) == {"a": 1, "d": 2, "b": 3, "c": 4}
    assert out.loc[out.driver_ref == "d", "pit_lane_start"].item() == 0


def test_whole_grid_and_weather(rows):
    out = apply_scenario(rows, Scenario(rain=1.0, air_temp=31, grid_order=("c", "a")))
    assert dict(zip(out.driver_ref, out.grid)) == {"c": 1, "a": 2, "b": 3, "d": 4}
    assert (out.rain == 1).all() and (out.air_temp == 31).all() and (out.track_temp == 30).all()


@pytest.mark.parametrize("scenario, message", [
    (Scenario().with_slot("zz", 1), "zz is not in this race's field"),
    (Scenario().with_slot("a", 9), "outside 1 to 4"),
    (Scenario(grid_order=("a", "a")), "twice"),
    (Scenario(rain=2.0), "between 0"),
])
def test_bad_scenarios_are_named(rows, scenario, message):
    with pytest.raises(ScenarioError, match=message):
        apply_scenario(rows, scenario)


def test_query_roundtrip():
    s = Scenario(rain=0.4, track_temp=41.5, grid_slots=(("hamilton", 3),), grid_order=("norris", "piastri"))
    assert Scenario.from_query(s.to_query()) == s
    assert Scenario.from_query({}) == Scenario()
    with pytest.raises(ScenarioError, match="rain=7 is outside"):
        Scenario.from_query({"rain": "7"})
    with pytest.raises(ScenarioError, match="not a number"):
        Scenario.from_query({"air_temp": "hot"})
