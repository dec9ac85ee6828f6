"""The Past races page in a real browser: the last races in tabs, each with its prediction's source."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import assert_no_error, go_to, open_page

pytestmark = pytest.mark.e2e


def test_past_races_opens_with_the_last_races(app_server, page):
    open_page(page, app_server)
    go_to(page, "Past races")
    assert_no_error(page)
    expect(page.locator("h1").first).to_have_text("Past races")
    expect(page.get_by_role("tab")).to_have_text(["Miami GP 2026", "Japanese GP 2026", "Chinese GP 2026",
                                                  "Earlier races"])
    expect(page.get_by_text("Miami Grand Prix 2026", exact=True)).to_be_visible()
    expect(page.get_by_text("Source: the backtest.").first).to_be_visible()
    expect(page.locator('[data-testid="stMetricLabel"]:visible').first).to_have_text(re.compile(r"^Winner called\?"))
    expect(page.locator('[data-testid="stPlotlyChart"]:visible')).to_have_count(1)
    page.get_by_role("tab", name="Japanese GP 2026").click()
    expect(page.get_by_text("Japanese Grand Prix 2026", exact=True)).to_be_visible()
    assert_no_error(page)


def test_a_link_to_a_race_opens_its_tab(app_server, page):
    open_page(page, app_server, "past_races?season=2026&round=3")
    assert_no_error(page)
    expect(page.get_by_role("tab", name="Japanese GP 2026")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_text("Japanese Grand Prix 2026", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="link to this race").filter(visible=True)).to_have_attribute(
        "href", re.compile(r"\?season=2026&round=3$"))
