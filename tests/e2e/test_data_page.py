"""The Data page in a real browser: opens without errors and shows where the data comes from."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import assert_no_error, legacy_page_names, open_page

pytestmark = pytest.mark.e2e


def test_data_page_shows_sources_log_and_store(app_server, page):
    open_page(page, app_server, "data")
    assert_no_error(page)
    expect(page.locator("h1").first).to_have_text("Data")
    for heading in ("Background refresh", "Sources", "Ingestion log", "Store"):
        expect(page.locator("h3").filter(has_text=re.compile(rf"^{re.escape(heading)}$")).first).to_be_attached()
    expect(page.locator('[data-testid="stDataFrame"]')).to_have_count(3)
    # the freshness line above every page (the refresh panel may say "data up to" too, in lower case)
    expect(page.get_by_text("Data up to 2026 R4 Miami Grand Prix", exact=False).first).to_be_visible()
    expect(page.get_by_role("button", name="Download CSV")).to_have_count(3)


def test_deep_link_gets_the_app_shell(app_server, page):
    """A link straight to a page gets the router's navigation, not Streamlit's listing of the
    pages/ folder (which would show the helper modules as pages). The shared server has served
    other tests first; test_app.py checks the first request of a fresh server."""
    open_page(page, app_server, "data")
    nav = page.locator('[data-testid="stSidebarNav"]')
    expect(nav.get_by_role("link", name="Drivers & teams")).to_be_visible()
    expect(nav.get_by_role("link", name="Data")).to_be_visible()
    expect(nav.get_by_role("link", name="ui")).to_have_count(0)
    for name in legacy_page_names():  # "app", "resources", "past races"...
        expect(nav.get_by_role("link", name=name, exact=True)).to_have_count(0)
