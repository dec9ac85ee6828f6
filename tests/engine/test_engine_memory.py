"""The engine's own caches stay bounded as data versions come: one feature frame in memory, and
a bounded number of season outlooks."""
from __future__ import annotations

import gc
import weakref

from f1core.ingest.weather_csv import import_weather
from tests.conftest import WEATHER_DIR
from tests.engine.test_model_faults import private_engine


def land_a_new_data_version(store) -> None:
    """A small ingestion run: one race's observed weather loaded again, as new rows."""
    before = store.data_version()
    with store.transaction() as cur:
        cur.execute("DELETE FROM weather_observed WHERE season = 2026 AND round = 4")
    import_weather(store, WEATHER_DIR)
    assert store.data_version() != before


def test_a_new_data_version_leaves_one_feature_frame_in_memory(engine_paths, trained_engine, tmp_path):
    engine = private_engine(engine_paths, trained_engine, tmp_path)
    first = weakref.ref(engine.frame())
    engine.predict_race(2026, 5)
    engine.season_outlook(2026)
    land_a_new_data_version(engine.store)
    second = engine.frame()
    gc.collect()
    assert first() is None, "the old version's frame is still referenced"
    assert engine._cache.frame is second
    for _ in range(3):
        land_a_new_data_version(engine.store)
        engine.season_outlook(2026)
    assert len(engine._outlooks) <= engine._outlooks.max_entries
    engine.store.close()
