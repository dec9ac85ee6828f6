"""The Data page in a real browser: opens without errors and shows where the data comes from."""
from __future__ import annotations

import pytest

from tests.e2e.conftest import assert_no_error, open_page

pytestmark = pytest.mark.e2e


def test_data_page_shows_sources_log_and_store(app_server, page):
    open_page(page, app_server, "data")
    assert_no_error(page)
    assert page.locator("h1").first.inner_text() == "Data"
    headings = page.locator("h3").all_inner_texts()
    for heading in ("Background refresh", "Sources", "Ingestion log", "Store"):
        assert heading in headings
    assert page.locator('[data-testid="stDataFrame"]').count() == 3
    # the freshness line above every page (the refresh panel may say "data up to" too, in lower case)
    assert page.get_by_text("Data up to 2026 R4 Miami Grand Prix", exact=False).first.is_visible()
    assert page.get_by_role("button", name="Download CSV").count() == 3


def test_deep_link_gets_the_app_shell(app_server, page):
    """A link straight to a page gets the router's navigation, not Streamlit's listing of the
    pages/ folder (which would show the helper module `_ui` as a page). The first test of the
    module, the first request the server sees, also checks the freshness line app.py draws."""
    open_page(page, app_server, "data")
    nav = page.locator('[data-testid="stSidebarNav"]')
    assert nav.get_by_role("link", name="Drivers & teams").is_visible()
    assert nav.get_by_role("link", name="Data").is_visible()
    assert not nav.get_by_role("link", name="ui").count()
