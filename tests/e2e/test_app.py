"""The router (app.py) in a real browser, on the first request of a fresh server process.

Because the pages live in a folder called `pages/`, Streamlit serves the first request of a server
process in its legacy multipage mode: it runs the requested page file directly, without app.py,
and lists the folder's files in the sidebar. `pages/__init__.py` switches that off through
Streamlit's private `PagesManager.uses_pages_directory` and reruns. This test fails if a Streamlit
upgrade breaks that switch (tests/pages/test_legacy_pages_switch.py says where to look).
"""
from __future__ import annotations

import ast
import re

import pytest
from playwright.sync_api import expect

from tests.conftest import REPO
from tests.e2e.conftest import APP_RUN_TIMEOUT_MS, assert_no_error, legacy_page_names, wait_for_app_run

pytestmark = pytest.mark.e2e


def page_layout() -> list[tuple[str, str, str]]:
    """(section, file, title) of the pages app.py registers, read from its PAGE_LAYOUT."""
    tree = ast.parse((REPO / "app.py").read_text())
    layout = next(node.value for node in tree.body if isinstance(node, ast.Assign)
                  and any(getattr(target, "id", None) == "PAGE_LAYOUT" for target in node.targets))
    return [(section, filename, title) for section, filename, title, _icon in ast.literal_eval(layout)
            if (REPO / "pages" / filename).is_file()]


def test_a_deep_link_as_first_request_gets_the_router(fresh_app_server, page):
    layout = page_layout()
    page.goto(f"{fresh_app_server}/accuracy")  # nothing has been asked of this server yet
    nav = page.locator('[data-testid="stSidebarNav"]')

    # the router's menu: its section headers and page titles, in its order
    sections = list(dict.fromkeys(section for section, _, _ in layout))
    assert sections[:3] == ["Predictions", "How good is it", "Explore"]
    headers = nav.locator('[data-testid="stNavSectionHeader"] [data-testid="stMarkdownContainer"]')
    expect(headers, "app.py's router did not handle the first request of a fresh server: Streamlit's "
           "legacy pages/ mode was not switched off (see pages/__init__.py)").to_have_text(
        sections, timeout=APP_RUN_TIMEOUT_MS)
    links = nav.get_by_role("link")
    expect(links).to_have_text([re.compile(rf"{re.escape(title)}$") for _, _, title in layout])
    expect(nav.get_by_role("link", name="Drivers & teams", exact=True)).to_be_visible()
    # not the legacy listing of the folder: the main script and the files under their own names
    for name in legacy_page_names():
        expect(nav.get_by_role("link", name=name, exact=True)).to_have_count(0)

    # the page asked for, inside the router: its own title, app.py's page config and freshness line
    expect(page).to_have_url(f"{fresh_app_server}/accuracy")
    expect(page.locator('[data-testid="stMain"] h1').first).to_have_text("Accuracy")
    expect(page).to_have_title("F1 Predictions")
    expect(page.get_by_text("Data up to 2026 R4 Miami Grand Prix", exact=False).first).to_be_visible()
    wait_for_app_run(page)
    assert_no_error(page)
