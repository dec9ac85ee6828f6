import pandas as pd
import pytest

from f1core.engine.scenario import Scenario, ScenarioError, apply_scenario, grid_from_slots, shortest_grid_order


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
    (Scenario().with_slot("zz", 1), "“zz” is not in the field of this race"),
    (Scenario().with_slot("a", 9), "P9 for a is outside 1 to 4"),
    (Scenario(grid_order=("a", "zz")), "grid order was left out"),
])
def test_grid_changes_the_field_cannot_take_are_named(rows, scenario, message):
    with pytest.raises(ScenarioError, match=message):
        apply_scenario(rows, scenario)


@pytest.mark.parametrize("values, message", [
    (dict(rain=2.0), "rain=2.0 is outside 0 to 1"),
    (dict(rain=float("nan")), "rain=nan is outside"),
    (dict(air_temp=200), "air_temp=200 is outside -10 to 50 °C"),
    (dict(track_temp=-50), "track_temp=-50 is outside -5 to 75 °C"),
    (dict(air_temp="hot"), "not a number"),
    (dict(grid_order=("a", "a")), "twice"),
    (dict(grid_slots=(("a", 1), ("b", 1))), "two drivers given grid slot P1"),
    (dict(grid_slots=(("a", 1), ("a", 2))), "a given two grid slots"),
    (dict(grid_slots=(("a", 0),)), "outside 1 to 34"),
    (dict(grid_slots=(("a", "-3"),)), "outside 1 to 34"),
    (dict(grid_slots=(("a", "9" * 5000),)), "outside 1 to 34"),
    (dict(grid_slots=(("a", "2.5"),)), "not a whole number"),
])
def test_impossible_values_are_refused_when_the_scenario_is_made(values, message):
    with pytest.raises(ScenarioError, match=message):
        Scenario(**values)


def test_moved_drivers_take_exactly_their_slots(rows):
    """A grid file or link with several moves: every listed driver starts where it says, whatever
    the order of the moves; the others keep their order in the free slots."""
    out = apply_scenario(rows, Scenario(grid_slots=(("c", 2), ("a", 3))))
    assert dict(zip(out.driver_ref, out.grid)) == {"b": 1, "c": 2, "a": 3, "d": 4}
    out = apply_scenario(rows, Scenario(grid_slots=(("d", 1),), grid_order=("c",)))
    assert dict(zip(out.driver_ref, out.grid)) == {"d": 1, "c": 2, "a": 3, "b": 4}


def test_a_second_move_to_the_same_slot_replaces_the_first():
    s = Scenario().with_slot("a", 1).with_slot("b", 1)
    assert s.grid_slots == (("b", 1),)


def test_fitted_to_keeps_what_the_field_can_take():
    s = Scenario(rain=0.5, grid_slots=(("hamilton", 3), ("nobody", 1)), grid_order=("hamilton",))
    fitted, problems = s.fitted_to(["hamilton", "norris", "russell"], "2026 R4")
    assert fitted == Scenario(rain=0.5, grid_slots=(("hamilton", 3),), grid_order=("hamilton",))
    assert len(problems) == 1 and "“nobody” is not in the field of 2026 R4" in problems[0]
    _, problems = Scenario(grid_slots=(("hamiltn", 2),)).fitted_to(["hamilton", "norris"])
    assert "closest: hamilton" in problems[0]


def test_query_roundtrip():
    s = Scenario(rain=0.4, track_temp=41.5, grid_slots=(("hamilton", 3),), grid_order=("norris", "piastri"))
    assert Scenario.from_query(s.to_query()) == s
    assert Scenario.from_query({}) == Scenario()
    with pytest.raises(ScenarioError, match="rain=7 is outside"):
        Scenario.from_query({"rain": "7"})
    with pytest.raises(ScenarioError, match="not like driver:slot"):
        Scenario.from_query({"slots": "hamilton"})
    with pytest.raises(ScenarioError, match="not a number"):
        Scenario.from_query({"air_temp": "hot"})


def test_a_link_keeps_its_good_parts_and_names_each_bad_one():
    s = Scenario(rain=0.4, track_temp=41.5, grid_slots=(("hamilton", 3),), grid_order=("norris", "piastri"))
    assert Scenario.from_link(s.to_query()) == (s, [])  # a whole link reads as `from_query` does
    scenario, problems = Scenario.from_link({"rain": "7", "air_temp": "20", "slots": "hamilton:2,leclerc,norris:x,"
                                             "piastri:4", "grid": "russell,antonelli"})
    assert scenario == Scenario(air_temp=20, grid_slots=(("hamilton", 2), ("piastri", 4)),
                                grid_order=("russell", "antonelli"))
    assert [p.split(" ")[0] for p in problems] == ["rain=7", "grid", "grid"]
    assert "'leclerc' is not like driver:slot" in problems[1] and "'x' is not a whole number" in problems[2]
    # two moves to one slot: which was meant is unclear, so neither stands; the rest does
    scenario, problems = Scenario.from_link({"rain": "1", "slots": "hamilton:2,leclerc:2", "grid": "a,a"})
    assert scenario == Scenario(rain=1.0)
    assert problems == ["a driver appears twice in the grid order", "two drivers given grid slot P2"]


def test_grid_from_slots():
    codes = {"a": "AAA", "b": "BBB", "c": "CCC"}
    assert grid_from_slots({"a": 2, "b": 3, "c": 1}, codes) == ("c", "a", "b")
    assert grid_from_slots({"a": 2.0, "b": 1.0, "c": 3.0}) == ("b", "a", "c")
    with pytest.raises(ScenarioError, match="P1 is given to AAA and CCC; nobody starts from P3"):
        grid_from_slots({"a": 1, "b": 2, "c": 1}, codes)
    with pytest.raises(ScenarioError, match="slots go from 1 to 3: BBB \\(P7\\)"):
        grid_from_slots({"a": 1, "b": 7, "c": 2}, codes)
    with pytest.raises(ScenarioError, match="BBB has no slot"):
        grid_from_slots({"a": 1, "b": None, "c": 2}, codes)
    with pytest.raises(ScenarioError, match="whole numbers"):
        grid_from_slots({"a": 1.5, "b": 2, "c": 3}, codes)


def test_shortest_grid_order():
    race = ("a", "b", "c", "d")
    assert shortest_grid_order(("c", "a", "b", "d"), race) == ("c",)
    assert shortest_grid_order(("a", "c", "b", "d"), race) == ("a", "c")
    assert shortest_grid_order(("a", "b", "c", "d"), race) is None
    assert shortest_grid_order(("d", "c", "b", "a"), race) == ("d", "c", "b")


def test_a_slot_left_empty_stays_empty_and_places_count_the_cars():
    """2026 Australia: two cars that qualified did not start, so slots 5 and 6 stayed empty. Moving
    the fourth car to pole shifts only the three ahead of him; the cars behind keep their slots."""
    rows = pd.DataFrame({"driver_ref": list("abcdefg"), "grid": [1.0, 2.0, 3.0, 4.0, 7.0, 8.0, 9.0],
                         "pit_lane_start": [0.0] * 7})
    out = apply_scenario(rows, Scenario().with_slot("d", 1))
    assert dict(zip(out.driver_ref, out.grid)) == {"d": 1, "a": 2, "b": 3, "c": 4, "e": 7, "f": 8, "g": 9}
    out = apply_scenario(rows, Scenario().with_slot("g", 5))  # the fifth car on the grid
    assert dict(zip(out.driver_ref, out.grid)) == {"a": 1, "b": 2, "c": 3, "d": 4, "g": 7, "e": 8, "f": 9}
