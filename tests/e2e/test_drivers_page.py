"""The Drivers & teams page in a real browser: tables and the rating chart, redrawn per season."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import assert_no_error, go_to, open_page, wait_for_app_run

pytestmark = pytest.mark.e2e


def choose_season(page, season: int) -> None:
    box = page.get_by_role("combobox", name="Season")
    box.click()
    box.fill(str(season))
    page.get_by_role("option", name=str(season), exact=True).click()
    wait_for_app_run(page)


def rating_chart(page):
    return page.locator('[data-testid="stPlotlyChart"]:visible').first


def test_drivers_page_shows_standings_and_tabs(app_server, page):
    open_page(page, app_server)
    go_to(page, "Drivers & teams")
    assert_no_error(page)
    expect(page.locator("h1").first).to_have_text("Drivers & teams")
    expect(page.get_by_role("tab")).to_have_text(["Standings", "Ratings", "Recent form", "Teammates"])
    expect(page.get_by_text("After round 4, Miami Grand Prix.")).to_be_visible()
    tables = page.locator('[data-testid="stDataFrame"]:visible')
    expect(tables).to_have_count(2)  # drivers and constructors
    for tab in ("Recent form", "Teammates"):
        page.get_by_role("tab", name=tab).click()
        expect(tables).to_have_count(1)
    assert_no_error(page)


def test_changing_the_season_redraws_the_rating_chart(app_server, page):
    open_page(page, app_server)
    go_to(page, "Drivers & teams")
    page.get_by_role("tab", name="Ratings").click()
    ticks = rating_chart(page).locator(".xtick text")  # SVG: expect reads their textContent
    expect(ticks).to_have_count(4)  # the ratings after each of the four races of 2026 so far
    expect(ticks.last).to_have_text("R4")

    choose_season(page, 2021)
    page.get_by_role("tab", name="Ratings").click()
    expect(ticks).to_have_count(22)  # Plotly has redrawn the chart for 2021
    expect(ticks.last).to_have_text("R22")
    assert_no_error(page)

    page.get_by_role("radio", name="Teams").click()
    wait_for_app_run(page)
    legend = rating_chart(page).locator(".legendtext")
    for team in ("Mercedes", "Red Bull"):
        expect(legend.filter(has_text=re.compile(rf"^{re.escape(team)}$")).first).to_be_attached()
    assert_no_error(page)
