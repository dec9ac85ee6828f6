"""Head to head's numbers on the real snapshot."""
import pandas as pd

from f1core.views import compare
from f1core.views.insights import result_label


def test_points_are_the_championships_where_it_dropped_results(snapshot_store):
    """1988 counted each driver's best eleven results: Prost scored more, Senna was champion."""
    c = compare.compare(snapshot_store, 1988, "prost", "senna")
    s = c.summary
    assert (s["a_scored"], s["b_scored"]) == (105, 94)
    assert (s["a_points"], s["b_points"]) == (87, 90)
    field = compare.drivers_of_season(snapshot_store, 1988)
    assert list(field["driver_ref"][:2]) == ["senna", "prost"]
    # a season that counted everything: the two agree
    s2025 = compare.compare(snapshot_store, 2025, "norris", "piastri").summary
    assert (s2025["a_points"], s2025["b_points"]) == (s2025["a_scored"], s2025["b_scored"])


def test_a_withdrawn_car_is_no_race_both_started(snapshot_store):
    """2026 China: Norris was withdrawn (W) and Verstappen retired (R); the sources give both a
    finishing order, but neither was ahead of the other in a race only one of them started."""
    c = compare.compare(snapshot_store, 2026, "max_verstappen", "norris")
    china = c.races[c.races["round"] == 2].iloc[0]
    assert (china["a_position_text"], china["b_position_text"]) == ("R", "W")
    assert not china["both"] and pd.isna(china["a_ahead"])
    s = c.summary
    assert s["races_both"] == 3 and s["a_ahead"] + s["b_ahead"] == 3
    assert (s["a_ahead"], s["b_ahead"]) == (0, 3)


def test_results_are_written_as_fans_write_them():
    assert [result_label(t) for t in ("3", "R", "W", "D", None, "")] == ["P3", "DNF", "DNS", "DSQ", "—", "—"]


def test_earlier_duels_as_teammates_are_the_seasons_head_to_heads(snapshot_store):
    """The duels the driver ratings carry into a season: each earlier season's teammate record,
    the same as that season's own head to head counts."""
    duels = compare.earlier_duels(snapshot_store, 2017, "hamilton", "rosberg")
    assert duels["season"].tolist() == [2013, 2014, 2015, 2016] and set(duels["team"]) == {"Mercedes"}
    for row in duels.itertuples():
        s = compare.compare(snapshot_store, row.season, "hamilton", "rosberg").summary
        assert (row.races, row.a_ahead) == (s["teammate_races"], s["a_ahead_as_teammates"])
        assert (row.sessions, row.a_quali_ahead) == (s["quali_both"], s["a_quali_ahead"])
    # only seasons before the one asked about; none for two drivers who never shared a car
    assert compare.earlier_duels(snapshot_store, 2015, "hamilton", "rosberg")["season"].tolist() == [2013, 2014]
    assert compare.earlier_duels(snapshot_store, 2026, "norris", "max_verstappen").empty
