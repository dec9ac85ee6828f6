"""f1core.views.what_if over the real snapshot's feature frame."""
import datetime as dt
import shutil

import numpy as np
import pytest

from f1core.engine.service import Engine
from f1core.store import Store
from f1core.views.what_if import FALLBACK_CONDITIONS, typical_conditions, win_cards


@pytest.fixture(scope="module")
def engine(snapshot_db, tmp_path_factory):
    root = tmp_path_factory.mktemp("what-if")
    shutil.copy(snapshot_db, root / "f1.duckdb")
    store = Store(root / "f1.duckdb")
    yield Engine(store, root / "models", today=dt.date(2026, 5, 10))
    store.close()


def test_typical_conditions(engine):
    frame = engine.frame()
    montreal = typical_conditions(None, frame, "villeneuve")
    assert 0 <= montreal["rain"] < 0.2 and 10 < montreal["air_temp"] < 35 and 20 < montreal["track_temp"] < 60
    new = typical_conditions(None, frame, "nowhere")  # no history: the median of every circuit
    assert 0 <= new["rain"] < 0.2 and 10 < new["air_temp"] < 35
    empty = typical_conditions(None, frame.assign(rain=np.nan, air_temp=np.nan, track_temp=np.nan), "villeneuve")
    assert empty == FALLBACK_CONDITIONS


def test_a_driver_pushed_back_who_gains_is_explained():
    import pandas as pd

    from f1core.engine.scenario import Scenario
    from f1core.views.what_if import surprising_gains

    movers = pd.DataFrame({"driver_ref": ["a", "b", "c"], "code": ["AAA", "BBB", "CCC"],
                           "grid_before": [1, 2, 3], "grid_now": [2, 4, 1], "win_change": [-10.0, 1.2, 8.0]})
    words = surprising_gains(movers, Scenario(grid_slots=(("c", 1),)))
    assert words.startswith("BBB (P2 → P4, +1.2 pp): further back on the grid yet more likely to win")
    assert "AAA" not in words and "CCC" not in words  # AAA lost chance; CCC was moved himself
    assert surprising_gains(movers.assign(win_change=[-1.0, -1.0, 2.0]), Scenario()) is None


def test_the_win_cards_show_the_driver_just_moved():
    import pandas as pd

    from f1core.engine.scenario import Scenario

    movers = pd.DataFrame({"driver_ref": list("abcdef"), "win_now": [40.0, 25.0, 15.0, 10.0, 6.0, 4.0]})
    assert list(win_cards(movers, Scenario())["driver_ref"]) == list("abcd")
    # "a" moved to the back is still among the four likeliest: the cards stay as they are
    assert list(win_cards(movers, Scenario(grid_slots=(("a", 20),)))["driver_ref"]) == list("abcd")
    # "f" moved last is not: he takes the fourth card, beside the three likeliest winners
    moved = Scenario(grid_slots=(("e", 2), ("f", 1)))
    assert list(win_cards(movers, moved)["driver_ref"]) == list("abcf")
