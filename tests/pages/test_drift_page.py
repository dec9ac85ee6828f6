"""The Drift page: the retraining suggestion in plain words, the features that moved most, and
the series over time."""
from __future__ import annotations

from tests.pages.conftest import run_page, texts


def test_renders_the_suggestion_and_the_latest_window(with_model):
    at = run_page("drift.py", timeout=180)
    assert not at.exception
    assert not at.error
    verdict = texts(at.warning) + texts(at.success)
    assert "Retraining is suggested" in verdict or "No retraining needed for drift" in verdict
    assert "2026 R4 Miami Grand Prix" in verdict  # the latest window ends at the last race with results
    assert [h.value for h in at.subheader] == ["What moved most (2026 R4, last 12 races)", "Over time"]
    latest, series = (d.value for d in at.dataframe)
    assert {"feature", "description", "psi", "kl", "level", "important"} <= set(latest.columns)
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
