"""The race model's newer behaviour on the real snapshot: post-qualifying mode from the order
alone, rain learned from wet races, calibration fitted on earlier races only, sharper strengths
after qualifying, and the walk-forward's extra columns."""
import dataclasses
import os
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from f1core.engine import training
from f1core.engine.backtest import walk_forward
from f1core.engine.models import simulate
from f1core.engine.scenario import Scenario
from f1core.engine.service import Engine
from f1core.engine.training import POST, PRE, race_seed, train_stage2, with_predicted_grid
from f1core.store import Store
from f1core.views.reports import rain_check, reliability
from tests.conftest import RACE_OUTCOME_TABLES
from tests.engine.conftest import FAST, TODAY


def test_qualifying_order_without_times_is_post_qualifying(trained_engine, engine_paths, tmp_path):
    """Miami 2026 as it would be when the qualifying order is published before its times."""
    db, models = engine_paths
    store = Store(shutil.copy(db, tmp_path / "f1.duckdb"))
    with store.transaction() as cur:
        for table in RACE_OUTCOME_TABLES:
            if table != "qualifying":
                cur.execute(f"DELETE FROM {table} WHERE season = 2026 AND round = 4")
        cur.execute("UPDATE qualifying SET q1_s = NULL, q2_s = NULL, q3_s = NULL WHERE season = 2026 AND round = 4")
    shutil.copytree(models, tmp_path / "models")
    engine = Engine(store, tmp_path / "models", FAST, today=TODAY)
    quali = store.read("SELECT driver_ref, position FROM qualifying WHERE season = 2026 AND round = 4")
    pred = engine.predict_race(2026, 4)
    assert pred.mode == POST and not pred.has_results
    t = pred.table.merge(quali, on="driver_ref")
    assert len(t) == len(quali) and (t["grid"] == t["position"]).all()  # the real order, not stage 1's
    assert t["quali_gap_pct"].isna().all()
    assert t["p_win"].sum() == pytest.approx(1)
    by_slot = t.sort_values("grid")
    assert by_slot["p_win"].iloc[0] > by_slot["p_win"].iloc[9]  # pole beats P10 in the same race
    # a better slot never lowers a driver's chances here either
    for driver in ["hamilton", "bearman"]:
        p = [engine.predict_race(2026, 4, Scenario().with_slot(driver, s)).table.set_index("driver_ref").loc[
            driver, "p_win"] for s in range(len(t), 0, -1)]
        assert all(b >= a for a, b in zip(p, p[1:])), (driver, p)
    store.close()


def test_rain_what_if_moves_chances_by_the_learned_amount(trained_engine):
    bundle = trained_engine.champion()
    model = bundle.race_models[PRE]
    effect = model.weather_
    assert effect is not None and effect.wet_races >= 5 and effect.gamma > 0 and effect.delta > 0
    dry = trained_engine.predict_race(2026, 5, Scenario(rain=0.0)).table.set_index("driver_ref").sort_index()
    wet = trained_engine.predict_race(2026, 5, Scenario(rain=1.0)).table.set_index("driver_ref").sort_index()
    favourite = dry["p_win"].idxmax()
    assert wet.loc[favourite, "p_win"] < dry.loc[favourite, "p_win"]
    assert (wet["p_dnf"] > dry["p_dnf"]).all()
    # exactly the learned effect: strengths times (1 - gamma), DNF log-odds plus delta
    rows = trained_engine.frame()
    rows = rows[(rows["season"] == 2026) & (rows["round"] == 5)].sort_values("driver_ref", kind="mergesort")
    view = with_predicted_grid(rows, bundle.stage1.predict(rows)).assign(rain=0.0)
    strength = model.strengths(view)
    p_dnf = model.dnf_proba(view)
    logit = np.log(p_dnf / (1 - p_dnf)) + effect.delta
    expected = simulate(strength * (1 - effect.gamma), 1 / (1 + np.exp(-logit)), model.n_sims, race_seed(2026, 5))
    np.testing.assert_allclose(wet["p_win"].to_numpy(), expected.p_win, atol=1e-12)


def test_better_slot_never_lowers_chances_in_the_rain(trained_engine):
    base = trained_engine.predict_race(2026, 4, Scenario(rain=1.0))
    for driver in ["russell", "albon"]:
        p = [trained_engine.predict_race(2026, 4, Scenario(rain=1.0).with_slot(driver, s)).table.set_index(
            "driver_ref").loc[driver, "p_win"] for s in range(len(base.table), 0, -1)]
        assert all(b >= a for a, b in zip(p, p[1:])), (driver, p)


def test_calibration_is_fitted_on_earlier_races_only(trained_engine):
    from f1core.engine.training import PRE, stage2_rows

    frame = stage2_rows(trained_engine.frame(), PRE, trained_engine.lifecycle.stage1_history(
        trained_engine.frame(), FAST))
    cutoff = int(frame[(frame["season"] == 2025) & (frame["round"] == 10)]["race_idx"].iloc[0])
    model = train_stage2(frame, cutoff, PRE, FAST)
    blend = model.blend_
    assert blend is not None and blend.races >= 10 and blend.last_race_idx < cutoff
    assert (frame.loc[model.calibration_scores_.index, "race_idx"] < cutoff).all()
    # later outcomes, scrambled, change nothing
    later = frame["race_idx"] >= cutoff
    rng = np.random.default_rng(0)
    scrambled = frame.copy()
    scrambled.loc[later, "finish"] = rng.permutation(scrambled.loc[later, "finish"].to_numpy())
    scrambled.loc[later, "dnf"] = rng.permutation(scrambled.loc[later, "dnf"].to_numpy())
    again = train_stage2(scrambled, cutoff, PRE, FAST).blend_
    assert (again.alpha, again.beta, again.rating) == (blend.alpha, blend.beta, blend.rating)
    # before qualifying the rating filter's view of this season earns its weight on those races
    assert blend.rating > 0
    assert train_stage2(frame, cutoff, PRE, dataclasses.replace(FAST, calibration_rating_modes=())).blend_.rating == 0


def test_after_qualifying_the_sharpness_is_fitted_on_earlier_races_alone(trained_engine):
    """After qualifying the blend is the booster's weight only (no grid prior, no rating term),
    fitted on races before the cut-off that the booster scoring them had not seen; the served
    strengths are the booster's scores times it, and a sharper model gives its favourite more."""
    frame = trained_engine.frame()
    cutoff = int(frame[(frame["season"] == 2025) & (frame["round"] == 10)]["race_idx"].iloc[0])
    race = frame[(frame["race_idx"] == cutoff) & frame["started"]]
    model = train_stage2(frame, cutoff, POST, FAST)
    blend = model.blend_
    assert blend.beta == 0 and blend.rating == 0 and blend.alpha > 0
    assert blend.races == FAST.calibration_races and blend.last_race_idx < cutoff
    assert (frame.loc[model.calibration_scores_.index, "race_idx"] < cutoff).all()
    np.testing.assert_allclose(model.strengths(race.assign(rain=0.0)),
                               blend.alpha * model.raw_strengths(race), rtol=1e-12)
    # later outcomes, scrambled, change nothing
    later = frame["race_idx"] >= cutoff
    scrambled = frame.copy()
    scrambled.loc[later, "finish"] = np.random.default_rng(0).permutation(scrambled.loc[later, "finish"].to_numpy())
    assert train_stage2(scrambled, cutoff, POST, FAST).blend_.alpha == blend.alpha
    # the sharper the fit, the more the favourite gets
    unfitted = train_stage2(frame, cutoff, POST, dataclasses.replace(FAST, calibration_modes=(PRE,)))
    assert unfitted.blend_ is None
    assert np.array_equal(unfitted.raw_strengths(race), model.raw_strengths(race))
    p_fitted = simulate(model.strengths(race), np.zeros(len(race)), 20_000, 1).p_win
    p_raw = simulate(unfitted.strengths(race), np.zeros(len(race)), 20_000, 1).p_win
    favourite = int(np.argmax(p_raw))
    assert (p_fitted[favourite] > p_raw[favourite]) == (blend.alpha > 1)


def test_walk_forward_carries_stage1_and_outcomes_and_checks_rain(trained_engine):
    frame = trained_engine.frame()
    stage1 = trained_engine.lifecycle.stage1_history(frame, trained_engine.config)
    result = walk_forward(frame, 2025, 2025, FAST, stage1, last_n_races=8)
    preds = result.predictions
    for col in ("pred_grid", "pred_quali_time_s", "quali_time_s", "finish", "grid", "actual_grid"):
        assert col in preds.columns, col
    model_pre = preds[(preds["predictor"] == "model") & (preds["mode"] == PRE)]
    # before qualifying the grid used is stage 1's
    assert (model_pre["grid"] == model_pre["pred_grid"]).mean() > 0.9
    post = preds[(preds["predictor"] == "model") & (preds["mode"] == POST)]
    assert (post["grid"] == post["actual_grid"]).all() and (post["finish"] == post["position_order"]).all()
    assert post["pred_quali_time_s"].between(60, 130).mean() > 0.9
    table = reliability(preds, "win", by="season")
    assert table[(table["mode"] == POST) & (table["predictor"] == "model")]["count"].sum() == len(post)
    check = result.rain_validation()
    assert set(result.wet_races.columns) >= {"logloss_observed", "logloss_dry", "rain"}
    assert check["races"] == len(result.wet_races[result.wet_races["mode"] == POST])
    summary = result.summary()  # what the store keeps and the Accuracy page's Rain tab shows
    assert summary["rain"][POST] == check and set(summary["rain"]) == {POST, PRE}
    shown = rain_check(summary)
    assert list(shown["wet races"]) == [summary["rain"][m]["races"] for m in summary["rain"]]


def test_the_backtest_scores_the_cars_a_live_prediction_covered(trained_engine):
    """2026 R2: Piastri and Norris qualified 5th and 6th and did not start. A prediction made
    before the race had them, so the backtest scores them too, in both modes, as not classified."""
    frame = trained_engine.frame()
    stage1 = trained_engine.lifecycle.stage1_history(frame, trained_engine.config)
    result = walk_forward(frame, 2026, 2026, FAST, stage1, last_n_races=3)
    china = result.predictions[(result.predictions["round"] == 2) & (result.predictions["predictor"] == "model")]
    entered = frame[(frame["season"] == 2026) & (frame["round"] == 2)]
    for mode in (PRE, POST):
        field = china[china["mode"] == mode].set_index("driver_ref")
        assert len(field) == len(entered)
        # scored behind every car that started, as the result lists them
        assert field.loc[["piastri", "norris"], "position_order"].min() > entered[entered["started"]]["position_order"].max()
        assert abs(field["p_win"].sum() - 1) < 1e-6
    post = china[china["mode"] == POST].set_index("driver_ref")
    assert post.loc["piastri", "grid"] == 5 and post.loc["norris", "grid"] == 6


def test_a_car_withdrawn_after_qualifying_starts_from_its_qualifying_place():
    import pandas as pd

    from f1core.engine.backtest import entrants

    rows = pd.DataFrame({
        "driver_ref": ["a", "b", "c", "d"], "has_result": True, "started": [True, True, False, False],
        "position_text": ["1", "R", "W", "W"], "quali_position": [2.0, 1.0, 3.0, None],
        "grid": [2.0, 1.0, 4.0, 4.0], "pit_lane_start": [0.0, 0.0, 1.0, 1.0]})  # grid 0 read as the back
    after = entrants(rows, POST).set_index("driver_ref")
    assert list(after.index) == ["a", "b", "c"]  # d withdrew before qualifying: never on a grid
    assert after.loc["c", "grid"] == 3 and after.loc["c", "pit_lane_start"] == 0
    assert list(entrants(rows, PRE)["driver_ref"]) == ["a", "b", "c", "d"]  # all four were entered
    assert rows.loc[2, "grid"] == 4  # the frame itself is left as the sources say


def test_models_trained_side_by_side_are_those_trained_one_at_a_time(trained_engine, monkeypatch):
    """Stage 1's history, the blend's walk-forward scores and the backtest's two modes train their
    models on threads: each comes out exactly as when trained alone, in the same order."""
    frame = trained_engine.frame()
    config = trained_engine.config
    done = frame[frame["has_result"]]
    races = done[done["season"] == 2025]["race_idx"].drop_duplicates().to_numpy()
    monkeypatch.setattr(training, "WORKERS", 3)
    threaded = (training.stage1_walk_forward(frame, config),
                training.booster_scores(frame, int(races[-1]) + 1, training.POST, config, races))
    monkeypatch.setattr(training, "WORKERS", 1)
    alone = (training.stage1_walk_forward(frame, config),
             training.booster_scores(frame, int(races[-1]) + 1, training.POST, config, races))
    assert threaded[0]["pred_gap"].notna().sum() > 1000
    pd.testing.assert_frame_equal(threaded[0], alone[0])
    assert len(threaded[1]) == len(done[done["race_idx"].isin(races) & done["started"] & done["grid"].notna()])
    pd.testing.assert_series_equal(threaded[1], alone[1])
    # the backtest trains its two modes side by side too: the same predictions, scores and order
    stage1 = trained_engine.lifecycle.stage1_history(frame, config)
    monkeypatch.setattr(training, "WORKERS", 2)
    both = walk_forward(frame, 2026, 2026, FAST, stage1, last_n_races=4)
    monkeypatch.setattr(training, "WORKERS", 1)
    one = walk_forward(frame, 2026, 2026, FAST, stage1, last_n_races=4)
    assert set(both.predictions["mode"]) == {PRE, POST} and len(both.per_race) == 4 * (3 + 2)  # races × predictors (no grid baseline before qualifying)
    pd.testing.assert_frame_equal(both.predictions, one.predictions)
    pd.testing.assert_frame_equal(both.per_race, one.per_race)
    pd.testing.assert_frame_equal(both.wet_races, one.wet_races)


def test_lightgbm_runs_openmp_on_one_thread_whatever_the_environment():
    """LightGBM shares one OpenMP thread count across the process; threads that train and predict
    at once crash it unless every call agrees on that count (see `f1core/__init__.py`). A fresh
    interpreter told to use 8 threads still gets one once it imports the package."""
    probe = ("import ctypes, f1core\nfrom f1core.engine.models import _lightgbm\n_lightgbm()\n"
             "print(ctypes.CDLL('libgomp.so.1').omp_get_max_threads())")  # the OpenMP LightGBM loaded
    out = subprocess.run([sys.executable, "-c", probe], env={**os.environ, "OMP_NUM_THREADS": "8"},
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "1"
