"""f1core.race_review over the real snapshot: a model trained with the light test set-up, a 2026
backtest, and one prediction frozen into the prediction log before a race."""
from __future__ import annotations

import datetime as dt
import shutil

import numpy as np
import pandas as pd
import pytest

from f1core.store import Store
from f1core.views import race_review as rr

FROZEN_RACE = (2026, 3)  # Japanese GP: gets a prediction in the log
BACKTEST_RACE = (2026, 4)  # Miami: only the backtest has it


@pytest.fixture(scope="module")
def engine(snapshot_db, tmp_path_factory):
    from f1core.engine.service import Engine
    from tests.engine.conftest import FAST

    root = tmp_path_factory.mktemp("review")
    shutil.copy(snapshot_db, root / "f1.duckdb")
    store = Store(root / "f1.duckdb")
    eng = Engine(store, root / "models", FAST, today=dt.date(2026, 5, 10))
    eng.lifecycle.retrain()
    eng.lifecycle.run_backtest(2026)
    eng.version_before_log = rr.review_version(eng)
    _freeze(eng, *FROZEN_RACE)
    yield eng
    store.close()


def _freeze(engine, season: int, round_: int) -> None:
    """Log a prediction the day before the race, as `Engine.freeze_predictions` would have."""
    prediction = engine.predict_race(season, round_)
    assert prediction.mode == "post-qualifying"
    engine.records.log_prediction(prediction, engine.race(season, round_).start_utc.replace(tzinfo=None) - dt.timedelta(days=1))


def test_actual_result_in_finishing_order(engine):
    actual = rr.actual_result(engine.store, *BACKTEST_RACE)
    assert len(actual) == 22
    assert list(actual["position_order"]) == list(range(1, 23))
    winner = actual.iloc[0]
    assert (winner["code"], winner["driver_name"], winner["team_name"]) == ("ANT", "Andrea Kimi Antonelli", "Mercedes")
    retired = actual.set_index("code")
    assert not retired.loc["HUL", "finished"] and retired.loc["HUL", "status"] == "Electrical"
    assert retired.loc["BOT", "finished"]  # +2 laps is still classified
    assert rr.actual_result(engine.store, 2026, 5).empty  # Canada: not run yet


def test_backtest_is_the_source_without_a_published_prediction(engine):
    source = rr.prediction_source(engine, *BACKTEST_RACE)
    assert source.kind == rr.BACKTEST
    assert source.mode == "post-qualifying"  # preferred over the pre-qualifying backtest
    assert source.run_id == engine.records.latest_backtest()["run_id"]
    assert len(source.predictions) == 22
    assert abs(source.predictions["p_win"].sum() - 1) < 0.01
    assert set(source.baselines) == {"grid", "form"}
    assert "backtest" in source.description and "never saw this result" in source.description


def test_the_prediction_log_wins_over_the_backtest(engine):
    source = rr.prediction_source(engine, *FROZEN_RACE)
    assert source.kind == rr.LOG
    assert source.model_version == engine.registry.champion_version()
    assert source.logged_at < pd.Timestamp(engine.race(*FROZEN_RACE).start_utc.replace(tzinfo=None))
    assert "published before the race" in source.description
    assert "grid" in source.baselines  # the backtest's baselines still come along
    assert rr.review_version(engine) != engine.version_before_log


def test_no_prediction_says_so_and_keeps_the_result(engine):
    review = rr.review_race(engine, 2025, 24)
    assert review.source.kind is None
    assert review.source.description == ("The app did not publish a prediction before this race was run, and the "
                                         "backtest (run 1) covers season 2026 only: only the actual result is shown.")
    assert review.verdict is None and review.metrics is None and review.comparison.empty
    assert review.actual.iloc[0]["code"] == "VER"


def test_comparison_verdict_and_metrics_of_a_backtest_race(engine):
    review = rr.review_race(engine, *BACKTEST_RACE)
    c = review.comparison
    assert len(c) == 22 and c["predicted"].all() and c["took_part"].all()
    assert list(c["position_order"]) == list(range(1, 23))
    np.testing.assert_allclose(c["error"], c["position_order"] - c["expected_position"])
    assert sorted(c["win_pick"]) == list(range(1, 23))
    v = review.verdict
    assert v.winner == "ANT" and v.actual_podium == ("ANT", "NOR", "PIA")
    fav = c.loc[c["win_pick"] == 1].iloc[0]
    assert v.favourite == fav["code"] and v.winner_called == (fav["code"] == "ANT")
    assert v.podium_hits == len(set(v.predicted_podium) & set(v.actual_podium))
    assert v.winner_p_win == pytest.approx(c.loc[c["code"] == "ANT", "p_win"].iloc[0])
    # scored exactly as the backtest scored it, beside the same baselines
    m = review.metrics.set_index("metric")
    stored = engine.records.backtest_race_metrics(engine.records.latest_backtest()["run_id"])
    stored = stored[(stored["season"] == 2026) & (stored["round"] == 4) & (stored["mode"] == "post-qualifying")]
    for predictor in ("model", "grid"):
        row = stored[stored["predictor"] == predictor].iloc[0]
        for metric in rr.RACE_METRICS:
            assert m.loc[metric, predictor] == pytest.approx(row[metric], abs=1e-6), (predictor, metric)
    assert m.loc["winner_top1", "model"] == float(v.winner_called)
    assert set(m["model_vs_grid"]) <= {"better", "worse", "same"}


def test_a_driver_predicted_but_absent_from_the_result(engine):
    actual = rr.actual_result(engine.store, *BACKTEST_RACE)
    source = rr.prediction_source(engine, *BACKTEST_RACE)
    c = rr.compare(source.predictions, actual[actual["code"] != "HAD"])
    absent = c[~c["took_part"]]
    assert list(absent["driver_ref"]) == ["hadjar"]
    assert absent["status"].iloc[0] == "did not take part" and c.iloc[-1]["driver_ref"] == "hadjar"


def test_races_of_a_season_latest_first(engine):
    races = rr.races_of_season(engine.store, 2025)
    assert len(races) == 24 and races[0].round == 24 and races[-1].round == 1
    assert [r.round for r in rr.races_of_season(engine.store, 2026)] == [4, 3, 2, 1]


def test_a_car_that_did_not_start_was_predicted_and_says_so(engine):
    """2026 China: Piastri qualified 5th and did not start; the backtest's prediction, made as a
    live one would be, covered him, and the table says why he has no place."""
    review = rr.review_race(engine, 2026, 2)
    piastri = review.comparison.set_index("driver_ref").loc["piastri"]
    assert piastri["predicted"] and piastri["took_part"] and piastri["p_win"] > 0
    assert rr.result_words(piastri) == "did not start: Power Unit"
    winner = review.comparison.iloc[0]
    assert rr.result_words(winner) == "1"
