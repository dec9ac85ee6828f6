"""What the engine writes into the store and reads back: backtest runs, the prediction log and the track record."""
import datetime as dt
import shutil

import numpy as np

from f1core.engine.service import Engine
from f1core.engine.training import POST, PRE
from f1core.ingest.ergast_csv import import_dump
from f1core.store import Store
from tests.conftest import forget_outcomes
from tests.engine.conftest import FAST, TODAY


def test_frozen_predictions_become_the_track_record(engine_paths, tmp_path, ergast_dir):
    """Freeze before Miami with its results not yet in the store, then let the results arrive."""
    db, models = engine_paths
    store = Store(shutil.copy(db, tmp_path / "f1.duckdb"))
    forget_outcomes(store, "season = 2026 AND round = 4")
    engine = Engine(store, tmp_path / "models", FAST, today=dt.date(2026, 4, 27))
    engine.lifecycle.retrain()
    now = dt.datetime(2026, 4, 28, 9, 0, tzinfo=dt.timezone.utc)
    written = engine.lifecycle.freeze_predictions(now)
    assert written >= 22
    assert engine.lifecycle.freeze_predictions(now + dt.timedelta(hours=1)) == 0  # not twice within hours
    assert engine.records.track_record().empty
    frozen = store.read("SELECT DISTINCT round, mode FROM prediction_log ORDER BY round, mode")
    assert ("sprint" in set(frozen[frozen["round"] == 4]["mode"]))  # Miami is a sprint weekend
    import_dump(store, ergast_dir)  # the results arrive
    record = engine.records.track_record()
    assert list(record["round"]) == [4, 4] and set(record["session"]) == {"race", "sprint"}
    race = record[record["session"] == "race"].iloc[0]
    assert race["mode"] == PRE and record[record["session"] == "sprint"].iloc[0]["mode"] == "sprint"
    record = record[record["session"] == "race"]
    assert 0 <= record.iloc[0]["winner_logloss"] < 10 and record.iloc[0]["winner_top1"] in (0.0, 1.0)


def test_backtest_is_stored_with_baselines_and_intervals(engine_paths, tmp_path):
    db, models = engine_paths
    engine = Engine(Store(shutil.copy(db, tmp_path / "f1.duckdb")), models, FAST, today=TODAY)
    run_id, summary = engine.lifecycle.run_backtest(2026)
    assert summary["races"] == 4
    post = summary["modes"][POST]
    assert set(post["baselines"]) == {"grid", "form"} and set(summary["modes"][PRE]["baselines"]) == {"form"}
    for key in ("winner_top1", "winner_logloss", "podium_brier", "spearman", "position_mae"):
        lo, hi = post["model"][f"{key}_ci"]
        assert lo <= post["model"][key] <= hi
    assert engine.records.latest_backtest()["run_id"] == run_id
    per_race = engine.records.backtest_race_metrics(run_id)
    assert len(per_race) == 4 * (3 + 2)  # races x (post: model, grid, form; pre: model, form)
    preds = engine.records.backtest_predictions(run_id)
    sums = preds.groupby(["mode", "predictor", "round"])["p_win"].sum()
    assert np.allclose(sums, 1)
    assert len(engine.records.backtest_stage1(run_id)) == 4
