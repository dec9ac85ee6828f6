"""The Season page in a real browser, opened from a crafted link: the bad value is echoed as text."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import assert_no_error, open_page

pytestmark = pytest.mark.e2e


def test_a_crafted_season_link_is_echoed_without_a_link(app_server, page):
    open_page(page, app_server, "season?season=[1850](http://x.example)%20www.x.example%20a@x.example")
    warning = page.locator('[data-testid="stAlert"]').filter(has_text="has no results here")
    expect(warning).to_contain_text("showing 2026")
    expect(warning).to_contain_text("x.example")  # the reader sees what the link said ...
    expect(warning.locator("a")).to_have_count(0)  # ... and nothing in it can be clicked or followed
    expect(page).to_have_url(re.compile(r"season=2026$"))
    assert_no_error(page)
