"""Head to head's numbers on the real snapshot."""
from f1core.views import compare


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
