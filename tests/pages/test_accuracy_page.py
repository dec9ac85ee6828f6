"""The Accuracy page: headline metrics beside their baselines from the stored backtest, the
details tabs, and the way to run a backtest when there is none."""
from __future__ import annotations

from f1core.store import Store
from tests.pages.conftest import open_tab, run_page, texts


def frames(at) -> list:
    return [d.value for d in at.dataframe]




def test_headline_metrics_stand_beside_the_baselines(with_model):
    at = run_page("accuracy.py", timeout=180)
    assert not at.exception
    assert not at.error
    assert at.segmented_control(key="accuracy_mode").value == "post-qualifying"
    cards = {m.label: m for m in at.metric}
    assert {"Winner picked", "Winner in top 3 picks", "Winner log loss", "Finishing-order Spearman"} <= set(cards)
    assert all("vs grid" in (m.proto.delta_description or "") for m in list(cards.values())[:4])
    # four races decide nothing: no card is coloured as if the model were better or worse
    undecided = [m for m in list(cards.values())[:4] if "too few races" in (m.proto.delta_description or "")
                 or "identical" in (m.proto.delta_description or "")]
    assert len(undecided) == 4 and all(m.proto.color == 2 for m in undecided)  # MetricColor GRAY
    headline = frames(at)[0]
    assert {"Model", "Grid baseline", "Form baseline", "vs grid", "vs form"} <= set(headline.columns)
    assert "Winner log loss ↓" in set(headline["metric"])
    assert frames(at)[1].equals(headline)  # the other baseline, in an expander
    assert "4 races of 2026" in texts(at.caption) and "UTC (server clock)" in texts(at.caption)
    assert "walk-forward" in texts(at.markdown).lower()  # the plain-words note
    assert "predicted with the weather it actually had" in texts(at.markdown)  # not a forecast: said
    assert [t.label for t in at.tabs] == ["By season", "Over time", "Calibration", "Qualifying", "Rain", "Championship",
                                         "Live track record"]
    by_season = frames(at)[2]
    assert list(by_season.columns) == ["season", "races", "Model", "Grid baseline", "Form baseline"]
    assert list(by_season["season"]) == [2026] and list(by_season["races"]) == [4]
    # a 4-race backtest is too short for rolling windows
    assert "rolling figures need at least 6" in texts(open_tab(at, key="accuracy_tab", label="Over time").info)
    calibration = next(f for f in frames(open_tab(at, key="accuracy_tab", label="Calibration")) if "predicted" in f.columns)
    assert {"predictor", "predicted", "observed", "count"} <= set(calibration.columns)
    assert not at.exception and not at.error
    at = open_tab(at, key="accuracy_tab", label="Qualifying")
    assert {"Grid Spearman", "Pole picked", "Lap-time error"} <= {m.label for m in at.metric}
    assert set(next(f for f in frames(at) if "races" in f.columns and "predictor" in f.columns)["predictor"]) == {
        "Model", "Last-race baseline"}
    # 2026's first four races were dry (the table itself: tests/views/test_reports.py)
    at = open_tab(at, key="accuracy_tab", label="Rain")
    assert "No race of 2026 had rain for at least a twentieth of its distance" in texts(at.info)
    # nothing has been frozen and scored yet
    assert "No live track record yet" in texts(open_tab(at, key="accuracy_tab", label="Live track record").info)
    assert not at.exception and not at.error


def test_before_qualifying_has_only_the_form_baseline(with_model):
    at = run_page("accuracy.py", timeout=180)
    at.segmented_control(key="accuracy_mode").set_value("pre-qualifying").run()
    assert not at.exception and not at.error
    headline = frames(at)[0]
    assert "Grid baseline" not in headline.columns and "Form baseline" in headline.columns
    assert all("vs form" in (m.proto.delta_description or "") for m in at.metric[:4])
    at.selectbox(key="accuracy_season_metric").set_value("winner_logloss").run()
    assert not at.exception and not at.error
    open_tab(at, key="accuracy_tab", label="Calibration")
    at.segmented_control(key="accuracy_calibration_outcome").set_value("podium").run()
    assert not at.exception and not at.error
    pooled = next(f for f in frames(at) if "predicted" in f.columns)
    # one season's diagram: the backtest here is 2026 alone, so it holds the same driver-races
    assert at.selectbox(key="accuracy_calibration_season").options == ["All seasons", "2026"]
    at.selectbox(key="accuracy_calibration_season").set_value(2026).run()
    assert not at.exception and not at.error
    assert "Every driver in every race of 2026, grouped by the podium probability" in texts(at.caption)
    season = next(f for f in frames(at) if "predicted" in f.columns)
    assert season["count"].sum() == pooled["count"].sum() > 0


def test_says_whether_the_backtest_trains_the_served_models_setup(with_model):
    at = run_page("accuracy.py", timeout=180)
    assert "its figures describe this model" in texts(at.caption)
    # an update changed a parameter: the stored backtest no longer trains the champion's set-up
    store = Store(with_model)
    with store.transaction() as cur:
        cur.execute("UPDATE backtest_runs SET config = json_merge_patch(config, '{\"calibration_races\": 9}')")
    store.close()
    at = run_page("accuracy.py", timeout=180)
    assert not at.exception and not at.error
    captions = texts(at.caption)
    assert "its set-up differs from this backtest's" in captions and "describe this model" not in captions


def test_without_a_backtest_offers_to_run_one_behind_the_password(with_model, monkeypatch):
    store = Store(with_model)
    with store.transaction() as cur:
        for table in ("backtest_predictions", "backtest_race_metrics", "backtest_stage1", "backtest_runs"):
            cur.execute(f"DELETE FROM {table}")
    store.close()
    monkeypatch.setenv("F1_ADMIN_PASSWORD", "pit-wall-only")
    at = run_page("accuracy.py", timeout=180)
    assert not at.exception
    assert "No backtest has been run yet" in texts(at.info)
    assert not [b for b in at.button if b.key == "accuracy_run_backtest"]
    at.text_input(key="admin_password_accuracy_backtest").input("guess").run()
    assert "Wrong admin password" in texts(at.error)
    assert not [b for b in at.button if b.key == "accuracy_run_backtest"]
    at.text_input(key="admin_password_accuracy_backtest").input("pit-wall-only").run()
    assert [b for b in at.button if b.key == "accuracy_run_backtest"]


def test_the_championship_checkpoints_stand_beside_the_leaders_share(with_model):
    from f1core.engine import season_backtest
    from pages._resources import get_engine

    at = run_page("accuracy.py", timeout=180)
    at = open_tab(at, key="accuracy_tab", label="Championship")
    assert not at.exception and "have not been checked yet" in texts(at.info)
    engine = get_engine()
    per = season_backtest.season_backtest(engine, [2025], n_sims=2000)
    engine.records.add_season_backtest(per, 1.0, {"from": 2025, "to": 2025})
    at.run()
    assert not at.exception and not at.error
    table, by_stage = frames(at)[-2:]
    assert list(table.columns) == ["metric", "Model", "Leader's share baseline"]
    assert "Title favourite became champion" in set(table["metric"])
    assert "4 checkpoints" in texts(at.caption)
    assert list(by_stage["checkpoint"]) == ["Before the season", "After round 6", "After round 12",
                                            "Three rounds before the end"]
    assert (by_stage["seasons"] == 1).all()
    # one checkpoint a stage: an interval of no width says so, a share gets Wilson's
    assert "sample too small" in by_stage.loc[0, "Log loss · model"]
    assert by_stage.loc[0, "Favourite won · baseline"].startswith("0% (0%–")


def test_the_live_track_record_compares_only_the_sessions_every_predictor_has(with_model, ergast_dir):
    """Miami 2026 frozen before its weekend (race and sprint), then its results arrive: the sprint
    is listed, but the summary compares the race alone, which the backtest's baselines also have."""
    import datetime as dt

    from f1core.engine.service import Engine
    from f1core.ingest.ergast_csv import import_dump
    from tests.conftest import forget_outcomes
    from tests.engine.conftest import FAST
    from tests.pages.conftest import models_dir

    store = Store(with_model)
    forget_outcomes(store, "season = 2026 AND round = 4")
    engine = Engine(store, models_dir(), FAST, today=dt.date(2026, 4, 27))
    assert engine.lifecycle.freeze_predictions(dt.datetime(2026, 4, 28, 9, 0, tzinfo=dt.timezone.utc))
    import_dump(store, ergast_dir)
    store.close()

    at = open_tab(run_page("accuracy.py", timeout=180), key="accuracy_tab", label="Live track record")
    assert not at.exception and not at.error
    said = texts(at.markdown)
    assert "1 race and 1 sprint predicted live" in said
    assert "compares the 1 race the backtest's baselines were scored on too" in said
    assert "1 other session (sprints, races the backtest has not reached) is in the list below only" in said
    summary, listed = frames(at)[-2:]
    assert list(summary.columns) == ["metric", "Model", "Form baseline"]
    assert sorted(listed["session"]) == ["race", "race", "sprint"]  # the model's two sessions, the form's race


def test_the_checkpoint_chart_joins_one_seasons_checkpoints_only():
    import numpy as np
    import pandas as pd

    from pages._accuracy_charts import checkpoint_chart

    per = pd.DataFrame({"season": [2025, 2024, 2024, 2025], "after_round": [0, 6, 0, 6], "champion": "x",
                        "p_champion": [0.3, 0.6, 0.5, 0.7], "baseline_p_champion": 0.2})
    model, baseline = checkpoint_chart(per).data
    assert list(model.x) == ["2024 start", "2024 R6", "2025 start", "2025 start", "2025 R6"]
    assert np.isnan(model.y[2]) and list(np.asarray(model.y)[[0, 1, 3, 4]]) == [0.5, 0.6, 0.3, 0.7]  # a break
    assert list(baseline.x) == ["2024 start", "2024 R6", "2025 start", "2025 R6"]
