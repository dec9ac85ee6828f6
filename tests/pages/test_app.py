"""The router: registers the pages that exist and warns above them when results are missing."""
from __future__ import annotations

from streamlit.testing.v1 import AppTest

from f1core.ingest.refresh import FIRST_REFRESH_DELAY_S, Refresher
from tests.conftest import REPO
from tests.pages.conftest import texts


def run_app(monkeypatch) -> AppTest:
    # The background thread would try the (unreachable) APIs; the router only needs to start it.
    monkeypatch.setattr(Refresher, "start", lambda self, *args, **kwargs: None)
    return AppTest.from_file(str(REPO / "app.py"), default_timeout=60).run()


def test_fresh_data_gets_a_one_line_note(app_env, mini_db, monkeypatch):
    app_env(mini_db)
    monkeypatch.setenv("F1_TODAY", "2024-03-20")  # after round 2, before round 3
    at = run_app(monkeypatch)
    assert not at.exception
    assert "Data up to 2024 R2 Saudi Arabian Grand Prix (9 Mar 2024) · next: 2024 R3 Australian Grand Prix" \
        in texts(at.caption)
    assert not at.warning
    assert at.title, "the default page ran below the note"


def test_missing_results_warn_and_offer_a_protected_refresh(app_env, mini_db, monkeypatch):
    monkeypatch.setenv("F1_ADMIN_PASSWORD", "pit-wall-only")
    app_env(mini_db)  # F1_TODAY 2024-03-30: round 3 (24 March) has no results
    at = run_app(monkeypatch)
    assert not at.exception
    assert "Results are missing for 1 race already run" in texts(at.warning)
    assert "2024 R3 Australian Grand Prix" in texts(at.warning)
    assert at.text_input(key="admin_password_freshness_refresh")


def test_a_demo_date_says_which_clock_is_which(app_env, mini_db, monkeypatch):
    app_env(mini_db)
    monkeypatch.setenv("F1_TODAY", "2024-03-20")
    at = run_app(monkeypatch)
    assert "demo date 20 Mar 2024 (F1_TODAY): the calendar follows it" in texts(at.caption)
    assert "follow the server's clock" in texts(at.caption)


def _first_delay(monkeypatch) -> float:
    delays = []
    monkeypatch.setattr(Refresher, "start", lambda self, first_delay_s=0.0: delays.append(first_delay_s))
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60).run()
    assert not at.exception and len(delays) == 1
    return delays[0]


def test_a_store_without_a_model_trains_its_first_at_once(app_env, mini_db, monkeypatch):
    """With data but no model every page waits for one: the refresh (and its upkeep, which trains)
    starts at once, not after the minute a store with a model leaves its first visitors."""
    app_env(mini_db)
    assert _first_delay(monkeypatch) == 0


def test_a_store_with_a_model_leaves_the_first_visitors_a_minute(with_model, monkeypatch):
    assert _first_delay(monkeypatch) == FIRST_REFRESH_DELAY_S > 0
