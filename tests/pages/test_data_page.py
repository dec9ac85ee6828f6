"""The Data page renders over a store, over an empty store, and guards its refresh button."""
from __future__ import annotations

import pandas as pd
import pytest

from f1core.ingest.refresh import Refresher
from tests.pages.conftest import run_page, texts


@pytest.fixture
def triggers(monkeypatch) -> list[Refresher]:
    """Record Refresher.trigger calls; each runs a store-only refresh at once, as the thread would."""
    calls: list[Refresher] = []

    def trigger(self: Refresher) -> bool:
        calls.append(self)
        self.run_once(use_api=False)
        return True

    monkeypatch.setattr(Refresher, "trigger", trigger)
    return calls


def refresh_buttons(at):
    return [b for b in at.button if b.label == "Refresh now"]


def test_renders_sources_log_and_counts(app_env, mini_db):
    app_env(mini_db)
    at = run_page("data.py")
    assert not at.exception
    assert not at.error
    assert [h.value for h in at.subheader] == ["Background refresh", "Sources", "Ingestion log", "Store"]
    sources, log, rows = (d.value for d in at.dataframe)
    assert {"Ergast-format CSV dump", "Jolpica API", "Open-Meteo"} <= set(sources["source"])
    assert sources.set_index("setting").loc["F1_SNAPSHOT", "rows added"] > 0
    # a source never reached has no "last success": a dash there, not the word None
    assert pd.isna(sources.set_index("setting").loc["JOLPICA_URL", "last success"])
    assert all(d.proto.placeholder == "—" for d in at.dataframe)
    assert list(log["outcome"]) == ["ok", "ok"]  # the dump and the weather import
    assert rows.set_index("table").loc["races", "rows"] == 3
    assert refresh_buttons(at), "no password set: the button is offered"


def test_empty_store_explains_how_to_fill_it(app_env):
    app_env(None)
    at = run_page("data.py")
    assert not at.exception
    notice = texts(at.info) + texts(at.markdown)
    assert "no race data yet" in notice.lower() and "F1_SNAPSHOT" in notice
    assert "python -m f1core ingest --snapshot" in notice


def test_refresh_without_admin_password_triggers(app_env, mini_db, triggers):
    app_env(mini_db)
    at = run_page("data.py")
    refresh_buttons(at)[0].click().run()
    assert not at.exception
    assert len(triggers) == 1


def test_wrong_admin_password_triggers_nothing(app_env, mini_db, triggers, monkeypatch):
    monkeypatch.setenv("F1_ADMIN_PASSWORD", "pit-wall-only")
    app_env(mini_db)
    at = run_page("data.py")
    assert not refresh_buttons(at), "the button waits for the password"
    at.text_input(key="admin_password_data_refresh").input("box-box").run()
    assert "Wrong admin password" in texts(at.error)
    assert not refresh_buttons(at)
    assert triggers == []


def test_right_admin_password_unlocks_refresh(app_env, mini_db, triggers, monkeypatch):
    monkeypatch.setenv("F1_ADMIN_PASSWORD", "pit-wall-only")
    app_env(mini_db)
    at = run_page("data.py")
    at.text_input(key="admin_password_data_refresh").input("pit-wall-only").run()
    assert not at.error
    refresh_buttons(at)[0].click().run()
    assert not at.exception
    assert len(triggers) == 1


def test_says_so_when_a_refresh_is_already_running(app_env, mini_db, monkeypatch):
    monkeypatch.setattr(Refresher, "trigger", lambda self: False)
    app_env(mini_db)
    at = run_page("data.py")
    refresh_buttons(at)[0].click().run()
    assert "A refresh is already running" in texts(at.info)
