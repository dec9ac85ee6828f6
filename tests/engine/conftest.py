"""A store and a model shared by the engine tests: the real snapshot, a lighter training set-up
(fewer seasons and trees) so the suite stays quick; behaviour, not accuracy, is tested here."""
from __future__ import annotations

import datetime as dt
import shutil

import pytest

from f1core.engine.service import Engine
from f1core.engine.training import TrainingConfig
from f1core.store import Store

FAST = TrainingConfig(stage1_from=2016, stage2_from=2016, pre_stage2_from=2019, stage1_estimators=60,
                      stage2_estimators=80, retrain_every=6, calibration_races=40, calibration_block=20)
TODAY = dt.date(2026, 5, 10)


@pytest.fixture(scope="session")
def engine_paths(snapshot_db, tmp_path_factory):
    root = tmp_path_factory.mktemp("engine")
    db = root / "f1.duckdb"
    shutil.copy(snapshot_db, db)
    return db, root / "models"


@pytest.fixture(scope="session")
def trained_engine(engine_paths):
    db, models = engine_paths
    engine = Engine(Store(db), models, FAST, today=TODAY)
    engine.lifecycle.retrain()
    yield engine
    engine.store.close()
