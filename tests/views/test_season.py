"""The Season page's words on how far to trust the title odds, from the championship replay."""
from __future__ import annotations

import pandas as pd

from f1core.views.season import favourite_behind_leader, title_track_record


def replay(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["season", "after_round", "favourite_won", "baseline_favourite_won"])


def test_the_odds_are_judged_by_the_replays_nearest_point_of_a_season():
    per = replay([(2014, 0, 0, 0), (2015, 0, 1, 1), (2016, 0, 0, 1),
                  (2014, 6, 1, 1), (2015, 6, 1, 0), (2014, 16, 1, 1), (2015, 16, 1, 1)])
    before = title_track_record(per, 0, 22)
    assert "replayed before the season in 2014–2016" in before
    assert "became champion in 1 of 3 seasons (last season's points leader: 2 of 3)" in before
    assert "after round 6 in 2014–2015" in title_track_record(per, 4, 22)
    assert "in 2 of 2 seasons (the points leader: 1 of 2)" in title_track_record(per, 8, 22)
    late = title_track_record(per, 18, 22)  # nearest to three rounds before the end (19)
    assert "three rounds before the end" in late and "2 of 2" in late


def test_no_replay_or_no_replay_of_that_point_says_nothing():
    assert title_track_record(None, 3, 22) is None
    assert title_track_record(replay([]), 3, 22) is None
    assert title_track_record(replay([(2014, 6, 1, 1)]), 12, 22) is None  # nothing replayed after round 12


def odds(p_title, now, expected) -> pd.DataFrame:
    return pd.DataFrame({"name": ["Russell", "Antonelli", "Leclerc"][:len(now)], "p_title": p_title,
                         "points_now": now, "points_expected": expected})


def test_a_favourite_behind_the_leader_is_explained_by_the_points_still_to_come():
    table = odds([0.43, 0.36, 0.09], [80.0, 100.0, 63.0], [394.2, 388.1, 284.0])
    words = favourite_behind_leader(table, "name", 18)
    assert words == ("Russell is the title favourite though Antonelli leads by 20 points: in the 18 weekends left "
                     "the simulations have Russell scoring 314 more points on average and Antonelli 288.")
    # the second time, shorter names where there are some (a phone reads it in fewer lines)
    short = favourite_behind_leader(table.assign(code=["RUS", "ANT", "LEC"]), "name", 18, short="code")
    assert short.endswith("the simulations have RUS scoring 314 more points on average and ANT 288.")


def test_nothing_to_explain_when_the_favourite_leads_or_shares_the_lead_or_nothing_is_left():
    assert favourite_behind_leader(odds([0.6, 0.3], [100.0, 80.0], [400.0, 350.0]), "name", 18) is None
    assert favourite_behind_leader(odds([0.6, 0.3], [90.0, 90.0], [400.0, 350.0]), "name", 18) is None
    assert favourite_behind_leader(odds([0.6, 0.3], [0.0, 0.0], [400.0, 350.0]), "name", 22) is None  # before round 1
    assert favourite_behind_leader(odds([0.0, 1.0], [80.0, 100.0], [80.0, 100.0]), "name", 0) is None
