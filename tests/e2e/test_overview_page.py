"""The Overview page (the default page) in a real browser: the next race with its countdown,
favourite, charts, accuracy line and last-race card."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import assert_no_error, open_page, wait_for_app_run

pytestmark = pytest.mark.e2e


def test_overview_shows_countdown_favourite_and_accuracy(app_server, page):
    open_page(page, app_server)
    assert_no_error(page)
    expect(page.locator("h1").first).to_have_text("Canadian Grand Prix")
    # the countdown card: "Lights out in" and a time left in days, hours and minutes
    countdown = page.locator(".st-key-overview_countdown")
    expect(countdown).to_be_visible()
    expect(countdown).to_contain_text(re.compile(r"\d+ d \d+ h \d{2} min"))
    expect(countdown).to_contain_text("Lights out in")
    favourite = page.locator(".st-key-overview_favourite")
    expect(favourite).to_be_visible()
    expect(favourite).to_contain_text("Favourite")
    expect(favourite.locator("h3")).to_have_text(re.compile(r"\S"))  # a driver's name
    expect(page.get_by_text("Chance to win", exact=True)).to_be_visible()
    expect(page.locator('[data-testid="stPlotlyChart"]')).to_have_count(2)
    expect(page.get_by_text(re.compile(r"backtest 2026 \(\d+ races, walk-forward\)"))).to_be_visible()
    expect(page.get_by_text(re.compile(r"^Last race: Miami Grand Prix"))).to_be_visible()
    assert_no_error(page)


def test_a_click_explains_the_favourite_against_the_runner_up(app_server, page):
    open_page(page, app_server)
    why = page.get_by_text(re.compile(r"^Why [A-Z]{3} rather than [A-Z]{3}\?$"))
    expect(why).to_be_visible()
    expect(page.get_by_text("When both finish", exact=False)).to_have_count(0)
    why.click()
    wait_for_app_run(page)
    expect(page.get_by_text(re.compile(r"When both finish, the model has .+ ahead of .+ in \d+% of races"))).to_be_visible()
    expect(page.locator('[data-testid="stExpander"] li')).to_have_count(5)  # the five inputs, each with its side
    expect(page.locator('[data-testid="stExpander"] li').first).to_contain_text(re.compile(r"counts for [A-Z]{3}"))
    assert_no_error(page)
