"""The Past races page in a real browser: the last races in tabs, each with its prediction's source."""
from __future__ import annotations

import pytest

from tests.e2e.conftest import assert_no_error, go_to, open_page

pytestmark = pytest.mark.e2e


def test_past_races_opens_with_the_last_races(app_server, page):
    open_page(page, app_server)
    go_to(page, "Past races")
    assert_no_error(page)
    assert page.locator("h1").first.inner_text() == "Past races"
    tabs = page.get_by_role("tab").all_inner_texts()
    assert tabs == ["Miami GP 2026", "Japanese GP 2026", "Chinese GP 2026", "Earlier races"]
    assert page.get_by_text("Miami Grand Prix 2026", exact=True).is_visible()
    assert page.get_by_text("Source: the backtest.").first.is_visible()
    assert page.locator('[data-testid="stMetricLabel"]:visible').first.inner_text().startswith("Winner called?")
    assert page.locator('[data-testid="stPlotlyChart"]:visible').count() == 1
    page.get_by_role("tab", name="Japanese GP 2026").click()
    assert page.get_by_text("Japanese Grand Prix 2026", exact=True).is_visible()
    assert_no_error(page)
