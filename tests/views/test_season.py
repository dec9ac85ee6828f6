"""The Season page's words on how far to trust the title odds, from the championship replay."""
from __future__ import annotations

import pandas as pd

from f1core.views.season import title_track_record


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
