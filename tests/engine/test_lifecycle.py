"""Training, the promotion rule, rollback, one retrain at a time, and the upkeep."""
import dataclasses
import shutil
import threading
import weakref

import pandas as pd
import pytest

from f1core.engine import lifecycle as lifecycle_module
from f1core.engine import season_backtest as season_backtest_module
from f1core.engine.backtest import BACKTEST_CODE, walk_forward
from f1core.engine.lifecycle import RECENT_RACES, RetrainInProgress
from f1core.engine.registry import RegistryError
from f1core.engine.service import Engine
from f1core.engine.training import POST, PRE
from f1core.ingest.ergast_csv import import_dump
from f1core.ingest.weather_csv import import_weather
from f1core.store import Store
from tests.conftest import WEATHER_DIR, forget_outcomes
from tests.engine.conftest import FAST, TODAY


def test_retrain_compares_promotes_and_rolls_back(engine_paths, tmp_path):
    db, _ = engine_paths
    engine = Engine(Store(shutil.copy(db, tmp_path / "f1.duckdb")), tmp_path / "models", FAST, today=TODAY)
    first = engine.lifecycle.retrain()
    # the first model is served whatever it scores; trailing the grid is said, not hidden
    assert first.promoted and first.reasons[0] == "no champion yet"
    assert all("something must be served" in r for r in first.reasons[1:])
    second = engine.lifecycle.retrain()
    assert not second.promoted and "no new races" in second.reasons[-1]
    assert engine.registry.champion_version() == first.challenger
    assert engine.registry.versions().set_index("version").loc[second.challenger, "status"] == "pending"
    with pytest.raises(RegistryError, match="no earlier champion"):
        engine.lifecycle.rollback()
    engine.registry.promote(second.challenger, "test")
    assert engine.lifecycle.rollback() == first.challenger
    assert engine.champion().version == first.challenger


def test_two_clicks_on_retrain_run_one(engine_paths, tmp_path):
    db, _ = engine_paths
    engine = Engine(Store(shutil.copy(db, tmp_path / "f1.duckdb")), tmp_path / "models", FAST, today=TODAY)
    started, outcome = threading.Event(), {}

    def slow_progress(message, fraction):
        started.set()

    def first():
        outcome["decision"] = engine.lifecycle.retrain(slow_progress)

    thread = threading.Thread(target=first)
    thread.start()
    started.wait(30)
    with pytest.raises(RetrainInProgress):
        engine.lifecycle.retrain()
    thread.join()
    assert outcome["decision"].promoted
    assert len(engine.registry.versions()) == 1


def test_a_store_starting_late_still_trains_with_the_default_setup(engine_paths, tmp_path):
    """An API bootstrap holds only recent seasons; the default set-up expects history from 2003."""
    db, _ = engine_paths
    store = Store(shutil.copy(db, tmp_path / "f1.duckdb"))
    forget_outcomes(store, "season < 2021")
    engine = Engine(store, tmp_path / "models", today=TODAY)
    assert engine.lifecycle.retrain().promoted
    pred = engine.predict_race(2026, 5)
    assert pred.mode == PRE and pred.table["p_win"].sum() == pytest.approx(1)


def test_no_reason_to_retrain_once_a_model_has_seen_the_data_as_it_is(engine_paths, tmp_path, ergast_dir):
    db, _ = engine_paths
    store = Store(shutil.copy(db, tmp_path / "f1.duckdb"))
    forget_outcomes(store, "season = 2026 AND round = 4")
    engine = Engine(store, tmp_path / "models", FAST, today=TODAY)
    engine.lifecycle.retrain()
    assert engine.lifecycle.retrained_on_current_data() == "v0001"
    assert engine.lifecycle.retrain_triggers() == []  # drift or age alone cannot change a model of these data
    import_dump(store, ergast_dir)  # Miami's results arrive
    assert engine.lifecycle.retrained_on_current_data() is None
    assert [k for k, _ in engine.lifecycle.retrain_triggers()][0] == "new-results"


def test_weather_arriving_after_training_retrains_and_reruns_the_backtest(engine_paths, tmp_path, monkeypatch):
    """A store bootstrapped without weather files, given them later: the results are the same, but
    the model and its backtest learned rain from none of it."""
    monkeypatch.setattr(lifecycle_module, "BACKTEST_FROM", 2026)  # the upkeep's backtest: this season's races
    monkeypatch.setattr(lifecycle_module, "SEASON_BACKTEST_FROM", 2025)  # ... its championship replay: last season's
    db, _ = engine_paths
    store = Store(shutil.copy(db, tmp_path / "f1.duckdb"))
    with store.transaction() as cur:
        cur.execute("DELETE FROM weather_observed")
    engine = Engine(store, tmp_path / "models", FAST, today=TODAY)
    engine.lifecycle.retrain()
    engine.lifecycle.run_backtest(2026)
    assert engine.lifecycle.retrain_triggers() == [] and not engine.lifecycle.backtest_due()
    dry = engine.champion()
    import_weather(store, WEATHER_DIR)
    arrived = store.observed_weather_rows()
    assert arrived > 100
    assert "new-weather" in [k for k, _ in engine.lifecycle.retrain_triggers()]
    assert engine.lifecycle.backtest_due()
    done = engine.lifecycle.upkeep()
    retrained = [d for d in done if d.startswith(f"retrained ({arrived} weather record(s) of finished races")]
    assert retrained and "promoted" in retrained[0] and f"trained with {arrived} more weather" in retrained[0], done
    assert any(d.startswith("backtest run") for d in done), done
    assert "championship replay run 1 over 4 checkpoints" in done  # 2025 before round 1, after rounds 6, 12 and 21
    assert engine.lifecycle.retrain_triggers() == [] and not engine.lifecycle.backtest_due()
    assert engine.lifecycle.season_backtest_due() is None
    assert engine.champion().training_window["weather_rows"] == arrived
    assert engine.champion().data_fingerprint != dry.data_fingerprint  # same results, other data


def test_data_landing_while_a_model_trains_is_still_new_for_it(engine_paths, tmp_path):
    db, _ = engine_paths
    store = Store(shutil.copy(db, tmp_path / "f1.duckdb"))
    with store.transaction() as cur:
        cur.execute("DELETE FROM weather_observed")
    engine = Engine(store, tmp_path / "models", FAST, today=TODAY)

    def weather_arrives_mid_training(message, fraction):
        if message.startswith("training the race model") and not store.observed_weather_rows():
            import_weather(store, WEATHER_DIR)

    engine.lifecycle.retrain(weather_arrives_mid_training)
    assert store.observed_weather_rows() > 0
    assert engine.lifecycle.retrained_on_current_data() is None  # the model's features had no weather
    assert "new-weather" in [k for k, _ in engine.lifecycle.retrain_triggers()]


def test_a_champion_that_kept_no_weather_count_is_retrained_once(trained_engine, monkeypatch):
    """Models trained before the count existed: whether they saw the store's weather is unknown."""
    import copy

    new = trained_engine.champion()
    old = copy.copy(new)
    old.training_window = {k: v for k, v in old.training_window.items() if k != "weather_rows"}
    monkeypatch.setattr(trained_engine, "champion", lambda: old)
    monkeypatch.setattr(trained_engine.lifecycle, "retrained_on_current_data", lambda: None)
    triggers = dict(trained_engine.lifecycle.retrain_triggers())
    assert triggers["new-weather"] == "the champion was trained before models kept how much weather they learned from"
    # its successor, trained on the same races and config, is served for that
    promoted, reasons = lifecycle_module.promotion_decision(new, old, new.metrics["recent"])
    assert promoted and reasons[-1] == (f"same configuration, trained with the store's "
                                        f"{new.training_window['weather_rows']} weather records, of which the "
                                        "champion kept no count")


def test_an_updated_setup_retrains_and_reruns_the_backtest(engine_paths, tmp_path, monkeypatch):
    monkeypatch.setattr(lifecycle_module, "BACKTEST_FROM", 2026)  # the upkeep's backtest: this season's races
    monkeypatch.setattr(lifecycle_module, "SEASON_BACKTEST_FROM", 2025)  # ... its championship replay: last season's
    db, _ = engine_paths
    store = Store(shutil.copy(db, tmp_path / "f1.duckdb"))
    before = Engine(store, tmp_path / "models", FAST, today=TODAY)
    before.lifecycle.retrain()
    before.lifecycle.run_backtest(2026)
    assert before.lifecycle.season_backtest_due() == range(2025, 2026)
    before.lifecycle.run_season_backtest(range(2025, 2026))
    assert before.lifecycle.retrain_triggers() == [] and not before.lifecycle.backtest_due()
    assert before.lifecycle.season_backtest_due() is None
    # the same store and models, opened by a version of the code with one parameter changed
    after = Engine(store, tmp_path / "models", dataclasses.replace(FAST, calibration_races=60), today=TODAY)
    assert after.lifecycle.setup_changed() and after.lifecycle.retrained_on_current_data() is None
    assert "set-up" in [k for k, _ in after.lifecycle.retrain_triggers()]
    assert after.lifecycle.backtest_due()
    done = after.lifecycle.upkeep()
    assert any(d.startswith("retrained (the training set-up changed") for d in done), done
    assert any(d.startswith("backtest run") for d in done), done
    assert "championship replay run 2 over 4 checkpoints" in done, done  # replayed with the new set-up
    assert after.lifecycle.retrain_triggers() == [] and not after.lifecycle.backtest_due()
    assert after.lifecycle.season_backtest_due() is None
    assert after.records.latest_season_backtest()[0]["settings"]["config"]["calibration_races"] == 60
    assert after.records.latest_backtest()["config"]["calibration_races"] == 60
    assert after.lifecycle.retrained_on_current_data() == "v0002"
    # an update of the evaluation code alone (same set-up) re-runs the backtest, and retrains nothing
    assert after.records.latest_backtest()["summary"]["code"] == BACKTEST_CODE
    monkeypatch.setattr(lifecycle_module, "BACKTEST_CODE", "the next version's")
    assert after.lifecycle.backtest_due() and after.lifecycle.retrain_triggers() == []
    monkeypatch.setattr(season_backtest_module, "SEASON_BACKTEST_CODE", "the next version's")
    assert after.lifecycle.season_backtest_due() == range(2025, 2026)


def test_a_challenger_behind_the_grid_baseline_is_not_promoted_over_one_that_is_not(trained_engine):
    import copy

    from f1core.engine.lifecycle import promotion_decision

    champion = trained_engine.champion()
    grid = {"winner_logloss": 1.0, "spearman": 0.6, "races": 12}
    champion = copy.copy(champion)
    # on the same 12 races the grid baseline scores 0.95: the champion 0.965 (within the margin), the
    # challenger 0.98 (behind it), which the old rule would still promote (within 0.02, newer races)
    champion.metrics = {"recent": {"winner_logloss": 0.965, "spearman": 0.7, "races": 12},
                        "recent_baselines": {"grid": {**grid, "winner_logloss": 0.95}}}
    challenger = copy.copy(champion)
    challenger.training_window = {**champion.training_window, "races": champion.training_window["races"] + 3}
    challenger.metrics = {"recent": {"winner_logloss": 0.98, "spearman": 0.7, "races": 12},
                          "recent_baselines": {"grid": {**grid, "winner_logloss": 0.95}}}
    promoted, reasons = promotion_decision(challenger, champion, champion.metrics["recent"])
    assert not promoted and "trails the grid baseline by 0.030, and the champion does not" in reasons[-1]
    assert "the grid baseline 0.950 on the same races" in reasons[0]
    challenger.metrics["recent_baselines"]["grid"]["winner_logloss"] = 1.2  # races where the grid did badly
    assert promotion_decision(challenger, champion, champion.metrics["recent"])[0]


def test_the_served_model_behind_its_baseline_is_said_in_plain_words(trained_engine, monkeypatch):
    index = trained_engine.registry.index()
    champion = index["champion"]

    def with_metrics(recent: float, grid: float) -> dict:
        copy = {**index, "versions": {**index["versions"]}}
        copy["versions"][champion] = {**index["versions"][champion], "metrics": {
            "recent": {"winner_logloss": recent, "races": 12}, "recent_baselines": {"grid": {"winner_logloss": grid}}}}
        return copy

    monkeypatch.setattr(trained_engine.registry, "index", lambda: with_metrics(1.4, 1.1))
    words = trained_engine.behind_baseline()
    assert "did worse than the plain grid baseline" in words and "1.40 against 1.10" in words
    monkeypatch.setattr(trained_engine.registry, "index", lambda: with_metrics(1.0, 1.1))
    assert trained_engine.behind_baseline() is None


def test_the_live_accuracy_trigger_compares_like_with_like(trained_engine, monkeypatch):
    """The champion's expected log loss is its post-qualifying walk-forward's: six races frozen
    before qualifying (which score worse by nature) are no reason to retrain; six frozen after it,
    as bad, are."""
    import pandas as pd

    lifecycle = trained_engine.lifecycle
    expected = trained_engine.champion().metrics["recent"]["winner_logloss"]
    monkeypatch.setattr(lifecycle, "retrained_on_current_data", lambda: False)

    def record(mode: str) -> pd.DataFrame:
        return pd.DataFrame({"season": 2026, "round": range(6, 0, -1), "session": "race", "mode": mode,
                             "winner_logloss": expected + 0.5})

    monkeypatch.setattr(lifecycle.records, "track_record", lambda: record(PRE))
    assert "accuracy" not in {kind for kind, _ in lifecycle.retrain_triggers()}
    monkeypatch.setattr(lifecycle.records, "track_record", lambda: record(POST))
    said = dict(lifecycle.retrain_triggers())["accuracy"]
    assert f"expected about {expected:.2f}" in said


def test_the_recent_evaluation_starts_from_the_challengers_own_calibration_scores(trained_engine, monkeypatch):
    """The challenger's blend scored the races before the recent window already, each by a booster
    that had not seen it: the evaluation reuses those instead of training boosters to score them
    again, and never hands a walk-forward model a score of a race it predicts."""
    import f1core.engine.training as training_module

    lifecycle = trained_engine.lifecycle
    bundle = lifecycle.train_bundle()
    frame = trained_engine.frame()
    known = bundle.race_models[POST].calibration_scores_
    assert frame.loc[known.index, "race_idx"].nunique() == FAST.calibration_races
    requested = []
    real = training_module.booster_scores

    def counting(frame_, cutoff, mode, config, races):
        requested.append(len(races))
        return real(frame_, cutoff, mode, config, races)

    monkeypatch.setattr(training_module, "booster_scores", counting)
    reused, _ = lifecycle.evaluate_recent(bundle.config, trained=bundle)
    # only the races before the challenger's calibration races are scored afresh: one retrain block's worth
    assert sum(requested) <= RECENT_RACES
    requested.clear()
    fresh, _ = lifecycle.evaluate_recent(bundle.config)
    assert sum(requested) >= FAST.calibration_races - RECENT_RACES
    # both are honest walk-forwards of the same races; only the blocks that scored the blend's races differ
    assert reused["races"] == fresh["races"] == RECENT_RACES
    assert abs(reused["winner_logloss"] - fresh["winner_logloss"]) < 0.1
    # a bundle trained on another frame (new data landed since) is not reused
    lifecycle._trained_on = weakref.ref(frame.copy())
    requested.clear()
    lifecycle.evaluate_recent(bundle.config, trained=bundle)
    assert sum(requested) >= FAST.calibration_races - RECENT_RACES


def test_given_calibration_scores_of_predicted_races_are_left_out(trained_engine):
    frame = trained_engine.frame()
    stage1 = trained_engine.lifecycle.stage1_history(frame, FAST)
    predicted = frame[frame["has_result"]]["race_idx"].drop_duplicates().to_numpy()[-12:]  # two blocks
    rows = frame[frame["race_idx"].isin(predicted) & frame["started"]]
    poisoned = pd.Series(50.0 * (rows["position_order"] == 1), index=rows.index)  # would tell who won
    plain = walk_forward(frame, 2025, None, FAST, stage1, modes=(POST,), last_n_races=12)
    seeded = walk_forward(frame, 2025, None, FAST, stage1, modes=(POST,), last_n_races=12,
                          calibration_scores={POST: poisoned})
    pd.testing.assert_frame_equal(plain.per_race, seeded.per_race)
