"""Streamlit pages: thin views over `f1core`. Shared helpers live in `pages._resources` (resources and cached data), `pages._widgets` and `pages._style`.

Because this folder is called `pages/`, Streamlit serves the first request of a server process
in its legacy multipage mode, which runs the requested page file directly, without `app.py`
(so without the router, the page config and the background refresh). Every page imports this
package first; when that legacy mode is on, switch it off and rerun, so `app.py` handles the
request like every later one. `PagesManager.uses_pages_directory` is private: on a Streamlit upgrade,
tests/pages/test_legacy_pages_switch.py and tests/e2e/test_app.py say whether this still works.
"""
from streamlit.runtime.pages_manager import PagesManager

if PagesManager.uses_pages_directory:
    import streamlit as st

    PagesManager.uses_pages_directory = False
    st.rerun()
