"""What pages/__init__.py relies on in Streamlit's private internals.

Because the folder is called `pages/`, Streamlit serves the first request of a server process in
its legacy multipage mode (it runs the requested page file directly, without app.py).
`pages/__init__.py` switches that mode off by setting `PagesManager.uses_pages_directory` to False
and rerunning. That flag is private: these checks fail first when an upgrade renames it or stops
reading it; tests/e2e/test_app.py checks what a fresh server's first request really gets.
"""
from __future__ import annotations

import inspect

import streamlit
from streamlit.runtime.pages_manager import PagesManager
from streamlit.runtime.scriptrunner import script_runner

REVISIT = (f"Streamlit {streamlit.__version__} changed its legacy pages/ mode: revisit the switch in "
           "pages/__init__.py (find how this version decides to run a page file without app.py, or "
           "whether it still does) and tests/e2e/test_app.py")


def test_pages_manager_still_has_the_class_flag():
    assert "uses_pages_directory" in vars(PagesManager), \
        f"PagesManager has no class attribute uses_pages_directory any more. {REVISIT}"


def test_pages_manager_still_sets_the_flag_from_the_pages_folder(tmp_path, monkeypatch):
    """The behaviour the switch undoes: the first PagesManager of a process beside a `pages/`
    folder turns the legacy mode on (if this stops, the switch may no longer be needed)."""
    (tmp_path / "pages").mkdir()
    (tmp_path / "app.py").write_text("")
    monkeypatch.setattr(PagesManager, "uses_pages_directory", None)
    PagesManager(str(tmp_path / "app.py"))
    assert PagesManager.uses_pages_directory is True, \
        f"a PagesManager beside a pages/ folder no longer turns the legacy mode on. {REVISIT}"


def test_script_runner_still_consults_the_flag():
    assert "PagesManager.uses_pages_directory" in inspect.getsource(script_runner), \
        f"streamlit.runtime.scriptrunner.script_runner no longer reads PagesManager.uses_pages_directory. {REVISIT}"
