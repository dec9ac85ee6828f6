"""The Drift page: the retraining suggestion in plain words, the features that moved most, and
the series over time."""
from __future__ import annotations

from tests.pages.conftest import run_page, texts


def test_renders_the_suggestion_and_the_latest_window(with_model, monkeypatch):
    from pages._resources import get_engine
    from tests.engine.conftest import FAST

    monkeypatch.setattr(get_engine(), "config", FAST)  # the set-up the champion was trained with
    at = run_page("drift.py", timeout=180)
    assert not at.exception
    assert not at.error
    verdict = texts(at.warning) + texts(at.success) + texts(at.info)
    assert any(w in verdict for w in ("Retraining is suggested", "No retraining needed", "The inputs have moved"))
    assert "2026 R4 Miami Grand Prix" in verdict  # the latest window ends at the last race with results
    # the model was trained on the data as it is: retraining again would change nothing, and no reason is listed
    assert "already been trained on the data as it is" in verdict or "No retraining needed" in verdict
    reasons = [m for m in texts(at.markdown).split("\n") if "No reason to retrain right now" in m]
    if "The inputs have moved" in verdict:
        # the banner has said why a retrain would change nothing: no tick below it to read as "all is well"
        assert not reasons
    else:  # ... for that reason, not because nothing moved
        assert len(reasons) == 1
        assert "trained with this set-up on the data as it is" in reasons[0] and "no marked drift" not in reasons[0]
    assert [h.value for h in at.subheader] == ["What moved most (2026 R4, last 12 races)", "Over time"]
    latest, series = (d.value for d in at.dataframe)
    assert {"feature", "label", "description", "psi", "kl", "level", "important"} <= set(latest.columns)
    # the banner counts what the chart shows in full colour: shifts the calendar does not explain
    counted = int(((latest["psi"] >= 0.25) & ~latest["calendar"]).sum())
    assert f"{counted} feature{'' if counted == 1 else 's'} above PSI 0.25" in verdict
    calendar = int(((latest["psi"] >= 0.25) & latest["calendar"]).sum())
    assert not calendar or f"{calendar} more above 0.25 follow the calendar" in verdict
    assert not any("_" in label for label in latest["label"])  # plain words, not code names
    assert latest["psi"].is_monotonic_decreasing
    assert latest["description"].str.len().gt(0).all()
    assert {"season", "round", "date", "upcoming", "feature", "psi", "kl"} <= set(series.columns)
    chosen = at.multiselect(key="drift_features").value
    assert chosen and set(chosen) <= set(latest["feature"])
    assert "12 races" in texts(at.markdown)  # the explanation of the windows


def test_switching_measure_features_and_upcoming_races(with_model):
    at = run_page("drift.py", timeout=180)
    at.segmented_control(key="drift_measure").set_value("kl").run()
    assert not at.exception and not at.error
    at.toggle(key="drift_upcoming").set_value(True).run()
    assert not at.exception and not at.error
    at.multiselect(key="drift_features").set_value([]).run()
    assert not at.exception
    assert "Pick at least one feature" in texts(at.info)


def test_a_champion_trained_with_another_setup_is_a_reason_to_retrain(with_model):
    # the fixture's champion was trained with the lighter test set-up; the app runs the default one
    at = run_page("drift.py", timeout=180)
    assert not at.exception and not at.error
    assert "The training set-up changed since the champion was trained" in texts(at.markdown)
    assert "No reason to retrain right now" not in texts(at.markdown)
