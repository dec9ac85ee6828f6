import shutil

import numpy as np
import pandas as pd
import pytest

from f1core.engine.features import race_rows
from f1core.engine.predict import PredictionError, race_view
from f1core.engine.registry import RegistryError
from f1core.engine.scenario import Scenario, ScenarioError
from f1core.engine.service import Engine, NoModel
from f1core.engine.training import POST, PRE
from f1core.store import Store
from tests.engine.conftest import FAST, TODAY


def assert_coherent(table: pd.DataFrame):
    assert table["p_win"].sum() == pytest.approx(1, abs=1e-9)
    assert table["p_podium"].sum() == pytest.approx(3, abs=1e-9)
    assert table["p_points"].sum() == pytest.approx(10, abs=1e-9)
    assert table[["p_win", "p_podium", "p_points", "p_dnf"]].apply(lambda c: c.between(0, 1).all()).all()
    assert (table["p_win"] <= table["p_podium"] + 1e-12).all() and (table["p_podium"] <= table["p_points"] + 1e-12).all()


def test_upcoming_race_is_predicted_before_qualifying(trained_engine):
    pred = trained_engine.predict_race(2026, 5)
    assert pred.mode == PRE and not pred.has_results
    t = pred.table
    assert len(t) == 22 and sorted(t["grid"]) == list(range(1, 23))
    assert_coherent(t)
    assert t["pred_quali_time_s"].between(60, 120).all()
    assert (t["pred_quali_gap_lo"] <= t["pred_quali_gap_pct"] + 1e-9).all()
    assert (t["position_p10"] <= t["position_p90"]).all()
    assert t["code"].str.len().eq(3).all()


def test_a_stored_prediction_is_served_only_to_the_code_that_made_it(trained_engine, monkeypatch):
    from f1core.engine import service

    trained_engine.predict_race(2026, 5)
    name = trained_engine._prediction_name(2026, 5)[0]
    assert trained_engine.disk.path(name).exists()
    monkeypatch.setattr(service, "PREDICTION_CODE", "the next version's")  # e.g. a new reference pole time
    assert trained_engine._prediction_name(2026, 5)[0] != name
    trained_engine.predict_race(2026, 5)
    assert not trained_engine.disk.path(name).exists()  # replaced, never read again
    assert trained_engine.disk.path(trained_engine._prediction_name(2026, 5)[0]).exists()


def test_race_with_a_real_grid_uses_it(trained_engine):
    pred = trained_engine.predict_race(2026, 4)
    assert pred.mode == POST and pred.has_results
    actual = trained_engine.store.read("SELECT driver_ref, grid FROM results WHERE season = 2026 AND round = 4")
    merged = pred.table.merge(actual, on="driver_ref", suffixes=("", "_real"))
    started = merged[merged["grid_real"] > 0]
    assert (started["grid"] == started["grid_real"]).all()
    assert_coherent(pred.table)


def test_moving_up_the_grid_never_lowers_win_probability(trained_engine):
    base = trained_engine.predict_race(2026, 4)
    for driver in ["hamilton", "bearman", "max_verstappen"]:
        p = [trained_engine.predict_race(2026, 4, Scenario().with_slot(driver, slot)).table.set_index(
             "driver_ref").loc[driver, "p_win"] for slot in range(len(base.table), 0, -1)]
        assert all(b >= a for a, b in zip(p, p[1:])), (driver, p)
        assert p[-1] > p[0]


def test_rain_and_temperature_overrides_are_applied(trained_engine):
    dry = trained_engine.predict_race(2026, 5, Scenario(rain=0.0, air_temp=20))
    wet = trained_engine.predict_race(2026, 5, Scenario(rain=1.0, air_temp=20))
    assert wet.conditions["rain"] == 1.0 and dry.conditions["rain"] == 0.0
    assert not np.allclose(dry.table.sort_values("driver_ref")["p_dnf"], wet.table.sort_values("driver_ref")["p_dnf"])
    assert_coherent(wet.table)


def test_unknown_race_and_driver_are_clear_errors(trained_engine):
    with pytest.raises(PredictionError, match="no season 2031 in the store .*: it has seasons 1950 to 2026"):
        trained_engine.predict_race(2031, 1)
    # a race the store holds but the features do not reach: said so, not "no entry list"
    with pytest.raises(PredictionError, match="1995 R3 San Marino Grand Prix: races before 1996 are outside"):
        trained_engine.predict_race(1995, 3)
    with pytest.raises(ScenarioError, match="“nobody” is not in the field"):
        trained_engine.predict_race(2026, 5, Scenario().with_slot("nobody", 1))


def test_explanation_ranks_feature_contributions(trained_engine):
    exp = trained_engine.explain(2026, 4, "hamilton")
    assert {"feature", "contribution", "value", "description"} <= set(exp.columns)
    assert exp["contribution"].abs().is_monotonic_decreasing
    assert "grid" in set(exp["feature"])


def test_field_contributions_add_up_to_each_drivers_strength(trained_engine):
    """The split the "why" panels show is the model's own: a driver's parts sum to his race
    strength against the field's mean, so their differences are the gap the simulation uses."""
    relative, values = trained_engine.field_contributions(2026, 5)
    bundle = trained_engine.served_model()
    mode = trained_engine.predict_race(2026, 5).mode
    rows = race_view(bundle.stage1, race_rows(trained_engine.frame(), 2026, 5), mode, Scenario())
    strength = bundle.race_models[mode].strengths(rows)
    assert list(relative.index) == rows["driver_ref"].tolist() == list(values.index)
    np.testing.assert_allclose(relative.sum(axis=1), strength - strength.mean(), atol=1e-6)
    assert values.loc["hamilton", "grid"] == rows.set_index("driver_ref").loc["hamilton", "grid"]


def test_missing_model_file_is_reported(engine_paths, tmp_path):
    db, models = engine_paths
    copy = tmp_path / "models"
    shutil.copytree(models, copy)
    engine = Engine(Store(shutil.copy(db, tmp_path / "f1.duckdb")), copy, FAST, today=TODAY)
    version = engine.registry.champion_version()
    # the only version: no model is served, and the reason says which file and what is wrong
    (copy / version / "model.pkl").unlink()
    assert engine.champion() is None
    with pytest.raises(NoModel, match=f"model {version}: artifact .* is missing"):
        engine.served_model()
    (copy / version / "model.pkl").write_bytes(b"\x80\x05truncated")
    assert engine.champion() is None and "cannot be read" in engine.fallback[2]
    with pytest.raises(RegistryError, match="cannot be read"):
        engine.registry.load(version)


def test_a_restarted_engine_reuses_the_stored_prediction_until_data_or_champion_change(engine_paths, tmp_path):
    db, _ = engine_paths
    store = Store(shutil.copy(db, tmp_path / "f1.duckdb"))
    models = tmp_path / "models"
    engine = Engine(store, models, FAST, today=TODAY)
    engine.lifecycle.retrain()
    shown = engine.predict_race(2026, 5)

    def restarted() -> Engine:  # what a new server process starts with: the files only
        return Engine(store, models, FAST, today=TODAY)

    again = restarted()
    pd.testing.assert_frame_equal(again.predict_race(2026, 5).table, shown.table)
    assert again._champion is None  # answered from disk, the model never loaded
    again.predict_race(2026, 5, Scenario(rain=1.0))  # a what-if is always computed
    assert again._champion is not None

    # another champion: its own prediction, not the stored one
    challenger = engine.lifecycle.retrain().challenger
    engine.registry.promote(challenger, "test")
    switched = restarted()
    assert switched.predict_race(2026, 5).model_version == challenger
    assert switched._champion is not None
    assert restarted().predict_race(2026, 5).model_version == challenger  # and that one is kept

    # changed data: computed again
    with store.transaction() as cur:
        cur.execute("DELETE FROM qualifying WHERE season = 2026 AND round = 4")
    changed = restarted()
    assert changed.predict_race(2026, 5).model_version == challenger
    assert changed._champion is not None
    store.close()


def test_drift_series_and_summary(trained_engine):
    series = trained_engine.drift_series()
    assert {"feature", "psi", "kl", "season", "round"} <= set(series.columns)
    assert (series["psi"] >= 0).all() and (series["kl"] >= -1e-9).all()
    summary = trained_engine.drift_summary()
    assert isinstance(summary["suggest_retrain"], bool) and summary["message"]


def test_a_sprint_is_predicted_like_a_race_with_its_own_points_and_fewer_retirements(trained_engine):
    sprint = trained_engine.predict_sprint(2026, 5)  # Canada: a sprint weekend
    race = trained_engine.predict_race(2026, 5)
    t = sprint.table
    assert sprint.mode == "sprint" and t["p_win"].sum() == pytest.approx(1) and t["p_podium"].sum() == pytest.approx(3)
    assert t["p_points"].sum() == pytest.approx(8)  # eight scoring places in a sprint
    assert t["p_dnf"].mean() < race.table["p_dnf"].mean() / 2
    with pytest.raises(PredictionError, match="has no sprint"):
        trained_engine.predict_sprint(2026, 6)  # Monaco
    past = trained_engine.predict_sprint(2026, 4)  # Miami's sprint ran: its real grid is used
    grid = trained_engine.store.read("SELECT driver_ref, grid FROM sprint_results WHERE season = 2026 AND round = 4")
    merged = past.table.merge(grid, on="driver_ref", suffixes=("", "_real"))
    assert (merged.loc[merged["grid_real"] > 0, "grid"] == merged.loc[merged["grid_real"] > 0, "grid_real"]).all()
