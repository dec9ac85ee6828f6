"""Admin actions and server details on a public deployment: without F1_ADMIN_PASSWORD only the
server's own machine may refresh, retrain or roll back; password guesses are slowed and locked out
per session and per process; paths and API addresses are shown to the admin only."""
from __future__ import annotations

import os

from streamlit.testing.v1 import AppTest

import pages._admin
from tests.engine.test_model_faults import add_copy_as_champion
from tests.pages.conftest import buttons, models_dir, open_tab, run_page, shown

REAL_REQUEST_IS_LOCAL = pages._admin.request_is_local  # before any fixture replaces it








def everything_shown(at: AppTest) -> str:
    """Every text of the page as a reader sees it (markdown escapes removed), tables included."""
    parts = [shown(getattr(at, kind)) for kind in ("title", "header", "subheader", "markdown", "caption", "info",
                                                   "warning", "error", "success", "text", "code")]
    parts += [d.value.to_csv(index=False) for d in at.dataframe]
    return "\n".join(parts)


# -- admin actions for visitors elsewhere (item 10) -------------------------------------------------

def test_a_page_without_a_browser_connection_is_not_the_servers_own_machine(app_env, mini_db, monkeypatch):
    monkeypatch.setattr(pages._admin, "request_is_local", REAL_REQUEST_IS_LOCAL)  # the real check
    app_env(mini_db)
    at = run_page("data.py")
    assert not at.exception
    assert not [b for b in at.button if b.label == "Refresh now"]
    assert "Admin actions are off on this deployment" in shown(at.caption)


def test_visitors_elsewhere_cannot_refresh_retrain_or_roll_back_without_a_password(remote_visitor, with_model):
    at = run_page("data.py")
    assert not [b for b in at.button if b.label == "Refresh now"]
    assert "Admin actions are off on this deployment, so you cannot refresh the data here" in shown(at.caption)
    add_copy_as_champion(models_dir())
    at = open_tab(run_page("models.py", timeout=180), "Retrain & roll back")
    assert not at.exception and not at.error
    assert not buttons(at, "models_retrain") and not buttons(at, "models_rollback_button")
    notes = shown(at.caption)
    assert "you cannot retrain the model here" in notes and "you cannot roll back the model here" in notes
    assert "F1_ADMIN_PASSWORD" in notes


def test_with_a_password_visitors_elsewhere_may_act_once_they_give_it(remote_visitor, mini_db, monkeypatch):
    monkeypatch.setenv("F1_ADMIN_PASSWORD", "pit-wall-only")
    remote_visitor(mini_db)
    at = run_page("data.py")
    at.text_input(key="admin_password_data_refresh").input("pit-wall-only").run()
    assert [b for b in at.button if b.label == "Refresh now"]


# -- password guessing (item 11) --------------------------------------------------------------------

def test_password_guesses_are_slowed_then_locked_out(app_env, mini_db, monkeypatch, caplog):
    from f1core import admin

    now = [10_000.0]
    monkeypatch.setattr(admin, "monotonic", lambda: now[0])
    monkeypatch.setenv("F1_ADMIN_PASSWORD", "pit-wall-only")
    app_env(mini_db)
    at = run_page("data.py")
    field = "admin_password_data_refresh"
    at.text_input(key=field).input("guess-1").run()
    assert "Wrong admin password" in shown(at.error)
    at.run()  # a rerun with the same wrong value in the box is not one more try
    at.text_input(key=field).input("guess-2").run()
    assert "Wrong admin password" in shown(at.error)
    at.text_input(key=field).input("pit-wall-only").run()  # at once: refused unchecked
    assert "before trying the admin password again" in shown(at.error)
    assert not [b for b in at.button if b.label == "Refresh now"]
    for guess in ("guess-3", "guess-4", "guess-5"):
        now[0] += 120
        at.text_input(key=field).input(guess).run()
    assert "Too many wrong admin passwords: admin actions are locked for about 15 min" in shown(at.error)
    now[0] += 120
    at.text_input(key=field).input("pit-wall-only").run()
    assert "locked" in shown(at.error), "even the right password waits for the lockout to end"
    assert not [b for b in at.button if b.label == "Refresh now"]
    assert "locked out for 15 min" in caplog.text

    now[0] += 15 * 60  # the lockout is over: the right password, still in the box, is checked now
    at.text_input(key=field).input("pit-wall-only").run()
    assert not at.exception and not at.error
    assert [b for b in at.button if b.label == "Refresh now"]


def test_a_new_session_does_not_reset_the_lockout(app_env, mini_db, monkeypatch):
    from f1core import admin

    now = [10_000.0]
    monkeypatch.setattr(admin, "monotonic", lambda: now[0])
    monkeypatch.setenv("F1_ADMIN_PASSWORD", "pit-wall-only")
    app_env(mini_db)
    for i in range(admin.Throttle.process_tries):  # one guess per fresh session, slowly
        now[0] += 120
        at = run_page("data.py")
        at.text_input(key="admin_password_data_refresh").input(f"guess-{i}").run()
    now[0] += 120
    at = run_page("data.py")
    at.text_input(key="admin_password_data_refresh").input("pit-wall-only").run()
    assert "Too many wrong admin passwords" in shown(at.error)
    assert not [b for b in at.button if b.label == "Refresh now"]


# -- server paths and API addresses for the admin only (item 13) ------------------------------------

def test_visitors_see_no_server_paths_or_api_addresses_on_the_data_page(remote_visitor, mini_db):
    db = remote_visitor(mini_db)
    at = run_page("data.py")
    assert not at.exception and not at.error
    page = everything_shown(at)
    for secret in (str(db), str(db.parent), os.environ["F1_MODELS"], "127.0.0.1:9", "/ergast/f1"):
        assert secret not in page, f"{secret} is shown to a visitor"
    sources = at.dataframe[0].value
    assert "value" not in sources.columns and {"Jolpica API", "Open-Meteo"} <= set(sources["source"])
    assert "shown to the admin only" in shown(at.caption)


def test_the_admin_sees_where_everything_lives(app_env, mini_db):
    db = app_env(mini_db)
    at = run_page("data.py")
    page = everything_shown(at)
    assert str(db) in page and os.environ["F1_MODELS"] in page and "127.0.0.1:9" in page


def raise_path_error():
    import os

    from f1core.store import StoreError
    from pages._widgets import friendly_error

    friendly_error(StoreError(f"there is no store at {os.environ['F1_DB']}: check F1_DB"), "open the data store")


def test_error_boxes_hide_server_paths_from_visitors(remote_visitor, mini_db):
    db = remote_visitor(mini_db)
    at = AppTest.from_function(raise_path_error).run()
    assert str(db) not in shown(at.error)
    assert "there is no store at the store file: check F1_DB" in shown(at.error)
