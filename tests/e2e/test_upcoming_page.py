"""The Upcoming races page in a real browser: one tab per race; switching tabs shows the other
race's qualifying and race predictions."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import assert_no_error, go_to, open_page, wait_for_app_run

pytestmark = pytest.mark.e2e


def test_upcoming_shows_three_races_and_switches_between_them(app_server, page):
    open_page(page, app_server)
    go_to(page, "Upcoming races")
    assert_no_error(page)
    expect(page.locator("h1").first).to_have_text("Upcoming races")
    race_tabs = page.get_by_role("tab", name=re.compile(r"^R\d+ "))
    expect(race_tabs).to_have_text(["R5 Canadian GP · 24 May", "R6 Monaco GP · 7 Jun", "R7 Barcelona GP · 14 Jun"])
    expect(page.get_by_role("heading", name="Canadian Grand Prix")).to_be_visible()
    tables = page.locator('[data-testid="stDataFrame"]:visible')
    expect(tables).to_have_count(3)  # qualifying, the sprint (Canada is a sprint weekend) and the race
    expect(page.get_by_role("button", name="Download CSV")).to_have_count(3)
    expect(page.get_by_role("heading", name="Sprint")).to_be_visible()

    race_tabs.nth(1).click()
    wait_for_app_run(page)
    expect(page.get_by_role("heading", name="Monaco Grand Prix")).to_be_visible()
    expect(page.get_by_role("heading", name="Canadian Grand Prix")).to_have_count(0)
    expect(tables).to_have_count(2)
    assert_no_error(page)

    page.get_by_role("tab", name="Finishing range").click()
    wait_for_app_run(page)
    expect(page.get_by_text("where 80% of the simulated races end")).to_be_visible()
    expect(page.locator('[data-testid="stPlotlyChart"]:visible')).to_have_count(2)
    assert_no_error(page)
