"""f1core.views.what_if over the real snapshot's feature frame."""
import datetime as dt
import shutil

import numpy as np
import pytest

from f1core.engine.service import Engine
from f1core.store import Store
from f1core.views.what_if import FALLBACK_CONDITIONS, typical_conditions


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
