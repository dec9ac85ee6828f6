"""The Overview page (the default page) in a real browser: the next race with its countdown,
favourite, charts, accuracy line and last-race card."""
from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import assert_no_error, open_page

pytestmark = pytest.mark.e2e


def test_overview_shows_countdown_favourite_and_accuracy(app_server, page):
    open_page(page, app_server)
    assert_no_error(page)
    assert page.locator("h1").first.inner_text() == "Canadian Grand Prix"
    # the countdown card: "Lights out in" and a time left in days, hours and minutes
    countdown = page.locator(".st-key-overview_countdown")
    assert countdown.is_visible()
    assert re.search(r"\d+ d \d+ h \d{2} min", countdown.inner_text())
    assert "Lights out in" in countdown.inner_text()
    favourite = page.locator(".st-key-overview_favourite")
    assert favourite.is_visible()
    assert "Favourite" in favourite.inner_text() and favourite.locator("h3").inner_text().strip()
    assert page.get_by_text("Chance to win", exact=True).is_visible()
    assert page.locator('[data-testid="stPlotlyChart"]').count() == 2
    assert page.get_by_text(re.compile(r"backtest 2026 \(\d+ races, walk-forward\)")).is_visible()
    assert page.get_by_text(re.compile(r"^Last race: Miami Grand Prix")).is_visible()
    assert_no_error(page)
